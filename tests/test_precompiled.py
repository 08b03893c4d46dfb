"""A fast start: precompiled layouts shipped with the package, and what a cold fill imports.

The shipped folder (``sheetgen/_precompiled``, built by tools/precompile.py) is looked up first,
before the user's cache (used only when no other user can write it); an entry is used only
under the engine stamp it was built with, and the cache code never writes or deletes it. A
``fill`` of a JSON file imports neither the engines it does not run nor the commands it is not.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sheetgen.rendering.pdf import layout
from sheetgen.rendering.pdf.layout import SHIPPED_INDEX, engine_stamp, get_layout
from sheetgen.rendering.templating import TemplateSet
from tests.conftest import EXAMPLES, REPO

CONTEXT: dict[str, Any] = {"host": {"name": "张三"}, "flags": {}, "rules": {}}
PAGE = """<!DOCTYPE html><html><head><style>
@page { size: A4; margin: 10mm }
body { margin: 0; font-family: "Sheetgen Serif"; font-size: 10pt }
.f { height: 6mm; width: 60mm }
</style></head><body><div class="f" data-field="host.name"></div></body></html>"""


def _tree(directory: Path) -> dict[str, tuple[int, int]]:
    """name → (size, mtime) of every file: what "left as it was" is checked against."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in directory.iterdir()}


@pytest.fixture
def shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A shipped folder holding the one layout of a small template set, and an empty user
    cache; yields (templates, shipped layout, folder, user cache)."""
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "t.html").write_text(PAGE, "utf-8")
    templates = TemplateSet(tmp_path / "t")
    folder, cache = tmp_path / "shipped", tmp_path / "cache"
    folder.mkdir()
    monkeypatch.setenv("SHEETGEN_CACHE_DIR", str(cache))
    monkeypatch.delenv("SHEETGEN_PRECOMPILED", raising=False)
    monkeypatch.setattr(layout, "shipped_dir", lambda: folder)
    monkeypatch.setattr(layout, "_cache", {})
    key = layout.layout_key(templates, "t.html", CONTEXT)
    compiled = layout.compile_layout(templates, "t.html", CONTEXT, key=key)
    layout._store(compiled, folder)
    (folder / SHIPPED_INDEX).write_text(json.dumps(
        {"stamp": engine_stamp(), "layouts": {key: "t.html"}}), "utf-8")
    layout._shipped_index.cache_clear()
    calls: list[str] = []
    real = layout.compile_layout
    monkeypatch.setattr(layout, "compile_layout",
                        lambda *a, **k: calls.append("compiled") or real(*a, **k))
    yield templates, compiled, folder, cache, calls
    layout._shipped_index.cache_clear()


def test_a_shipped_layout_is_served_without_compiling_and_left_as_it_was(shipped: Any) -> None:
    templates, compiled, folder, cache, calls = shipped
    before = _tree(folder)
    found = get_layout(templates, "t.html", CONTEXT)
    assert found == compiled and calls == []
    assert _tree(folder) == before  # read-only
    assert not cache.exists()  # nothing copied, nothing locked in the user's cache
    assert layout.cached_layout(compiled.key[:10]) == compiled  # receive finds it too


def test_a_damaged_shipped_layout_falls_back_to_the_user_cache(shipped: Any) -> None:
    templates, compiled, folder, cache, calls = shipped
    (folder / f"{compiled.key}.pdf").write_bytes(b"%PDF-not-this-one")
    cache.mkdir()
    layout._store(compiled, cache)
    assert get_layout(templates, "t.html", CONTEXT) == compiled and calls == []


def _poisoned(compiled: layout.CompiledLayout) -> layout.CompiledLayout:
    """The layout with its field moved and pointed at another value: what an attacker who can
    write the cache writes (with a digest made to match: a digest alone proves nothing)."""
    field = compiled.fields[0]
    moved = dataclasses.replace(field, path="rules.provider",
                                box=dataclasses.replace(field.box, x=field.box.x + 100))
    return dataclasses.replace(compiled, fields=(moved, *compiled.fields[1:]))


def test_the_shipped_layouts_come_before_the_user_cache(shipped: Any) -> None:
    """Issue 26.4: the package's own layout is preferred whenever one matches."""
    templates, compiled, _, cache, calls = shipped
    cache.mkdir(mode=0o700)
    layout._store(_poisoned(compiled), cache)
    assert layout._load(compiled.key, "t.html") == _poisoned(compiled)  # a valid entry …
    assert get_layout(templates, "t.html", CONTEXT) == compiled and calls == []  # … not used
    assert layout.cached_layout(compiled.key[:10]) == compiled


@pytest.fixture
def user_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A user cache (no shipped layouts) holding the one layout of a small template set;
    yields (templates, layout, cache folder, compile calls)."""
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "t.html").write_text(PAGE, "utf-8")
    templates = TemplateSet(tmp_path / "t")
    cache = tmp_path / "cache"
    monkeypatch.setenv("SHEETGEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(layout, "shipped_dir", lambda: None)
    monkeypatch.setattr(layout, "_cache", {})
    monkeypatch.setattr(layout, "_warned", set())
    layout._shipped_index.cache_clear()
    compiled = get_layout(templates, "t.html", CONTEXT)
    assert layout._load(compiled.key, "t.html") == compiled
    monkeypatch.setattr(layout, "_cache", {})
    calls: list[str] = []
    real = layout.compile_layout
    monkeypatch.setattr(layout, "compile_layout",
                        lambda *a, **k: calls.append("compiled") or real(*a, **k))
    yield templates, compiled, cache, calls
    layout._shipped_index.cache_clear()


def test_an_edited_field_map_is_compiled_again(user_cache: Any) -> None:
    """Issue 26.4: the digest covers the whole entry, not only the background."""
    templates, compiled, cache, calls = user_cache
    meta_path = cache / f"{compiled.key}.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    meta["fields"][0]["path"] = "rules.provider"
    meta_path.write_text(json.dumps(meta), "utf-8")
    assert layout._load(compiled.key, "t.html") is None
    assert get_layout(templates, "t.html", CONTEXT) == compiled and calls == ["compiled"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX owners and modes")
@pytest.mark.parametrize("how", ["folder-0777", "folder-0775", "entry-0666", "entry-owner"])
def test_a_cache_others_can_write_is_refused_with_a_warning(
        user_cache: Any, how: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 26.4: a poisoned entry (valid digest) in a folder, or as a file, another user
    could have written is not read; the layout is compiled in memory and nothing is written
    there."""
    templates, compiled, cache, calls = user_cache
    layout._store(_poisoned(compiled), cache)  # what the other user wrote
    pdf, meta = cache / f"{compiled.key}.pdf", cache / f"{compiled.key}.json"
    if how == "folder-0777":
        cache.chmod(0o777)
    elif how == "folder-0775":  # group-writable, and the group is not this user's own
        if layout._private_group(cache.stat().st_gid):
            os.chown(cache, -1, 4242) if os.geteuid() == 0 else pytest.skip("own group")
        cache.chmod(0o775)
    elif how == "entry-0666":
        meta.chmod(0o666)
    else:
        if os.geteuid() != 0:
            pytest.skip("only root can give a file to another user")
        os.chown(pdf, 4242, -1)
    capsys.readouterr()
    before = _tree(cache)
    found = get_layout(templates, "t.html", CONTEXT)
    assert found == compiled and calls == ["compiled"]
    warning = capsys.readouterr().err
    assert warning.startswith("sheetgen: warning: the layout cache ") and "not used" in warning
    assert layout.cached_layout(compiled.key[:10]) == compiled  # from this process's memory
    layout._cache.clear()
    if how.startswith("folder"):
        assert _tree(cache) == before  # nothing written (nor locked) in a folder others can write
        assert layout.cached_layout(compiled.key[:10]) is None  # never the poisoned entry
    else:  # the folder is this user's: the entry was replaced by this user's own
        assert layout._load(compiled.key, "t.html") == compiled
        assert not meta.stat().st_mode & 0o022 and pdf.stat().st_uid == os.geteuid()
    get_layout(templates, "t.html", CONTEXT)
    assert capsys.readouterr().err == ""  # the warning is said once


@pytest.mark.parametrize("change", ["stamp", "key", "damaged", "off"])
def test_a_stale_or_damaged_shipped_layout_is_never_served(shipped: Any, change: str,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    templates, compiled, folder, cache, calls = shipped
    index = json.loads((folder / SHIPPED_INDEX).read_text("utf-8"))
    if change == "stamp":  # built by other code, fonts or WeasyPrint
        index["stamp"] = "0" * 24
    elif change == "key":  # the index lists another layout only
        index["layouts"] = {"f" * 24: "t.html"}
    elif change == "damaged":
        (folder / f"{compiled.key}.pdf").write_bytes(b"%PDF-garbage")
    else:
        monkeypatch.setenv("SHEETGEN_PRECOMPILED", "off")
        monkeypatch.setattr(layout, "shipped_dir", lambda: None)
    (folder / SHIPPED_INDEX).write_text(json.dumps(index), "utf-8")
    layout._shipped_index.cache_clear()
    before = _tree(folder)
    found = get_layout(templates, "t.html", CONTEXT)
    assert calls == ["compiled"] and found == compiled  # compiled again: the same layout
    assert _tree(folder) == before  # a damaged shipped file is neither replaced nor removed
    assert (cache / f"{compiled.key}.pdf").is_file()  # the compile went to the user cache


def test_the_engine_stamp_covers_the_code_that_makes_a_layout() -> None:
    package = Path(layout.__file__).resolve().parents[2]
    for name in layout.ENGINE_SOURCES:
        assert (package / name).is_file(), name
    assert "rendering/pdf/layout.py" in layout.ENGINE_SOURCES
    assert len(engine_stamp()) == 24


def _build_tool() -> Any:
    spec = importlib.util.spec_from_file_location("precompile",
                                                  REPO / "tools" / "precompile.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_shipped_set_holds_every_layout_the_examples_print() -> None:
    """The enumeration is made from the rules; the examples are made by hand: each example's
    sheets, and the cover of each first filing among them, are in the shipped set."""
    from sheetgen.documents.jobs import RenderOptions, applicant_jobs
    from sheetgen.pipeline import plan_input
    from sheetgen.rendering.templating import bundled

    wanted = _build_tool().layouts(everything=False)
    covers = sum(t == "common/cover.html" for t, _, _ in wanted.values())
    assert covers and len(wanted) > covers
    for example in sorted(EXAMPLES.glob("*.json")):
        plan = plan_input(example.read_bytes(), source=example.name)
        for job in applicant_jobs(plan, RenderOptions()):
            if job.sheet.template == "common/cover.html" and (
                    plan.applicant.filing_type.code != "new_filing" or plan.applicant.special_site
                    or "preapproval" in plan.flags):
                continue
            key = layout.layout_key(bundled(), job.sheet.template, job.sheet.context)
            assert key in wanted, (example.name, job.sheet.template)


def test_the_checkouts_shipped_folder_is_current() -> None:
    """make setup builds sheetgen/_precompiled; once built, it must match this code and these
    fonts (a stale folder is never served, but it would be shipped for nothing)."""
    root = Path(layout.__file__).resolve().parents[2] / "_precompiled"
    if not root.is_dir():
        pytest.skip("sheetgen/_precompiled not built (make setup builds it)")
    index = json.loads((root / "layouts" / SHIPPED_INDEX).read_text("utf-8"))
    stale = f"{root} is stale: run make setup (or python tools/precompile.py)"
    assert index["stamp"] == engine_stamp(), stale
    assert _build_tool().up_to_date(root, _build_tool().inputs_digest(everything=False)), stale


# --- the built-in rules, parsed at build time ---------------------------------------------------

@pytest.mark.parametrize("edition", ["2025", "2018"])
def test_the_parsed_rules_are_those_of_the_file(edition: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from sheetgen import rules
    from sheetgen.rules import editions, precompiled

    _build_tool().build_rules(tmp_path)
    monkeypatch.setattr(precompiled, "precompiled_dir", lambda: tmp_path)
    data = rules.rules_file(rules.EDITIONS[edition]).read_bytes()
    shipped = precompiled._precompiled(edition, data)
    fresh = rules.parse_rules(data, origin=editions._builtin_origin(edition))
    assert shipped is not None and shipped == fresh
    assert (shipped.origin, shipped.version, shipped.edition) == (
        fresh.origin, fresh.version, fresh.edition)
    province = shipped.resolve_province("赣")
    assert shipped.facts(province) == fresh.facts(fresh.resolve_province("赣"))


def test_a_parsed_copy_of_other_rules_or_code_is_never_read(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    from sheetgen import rules
    from sheetgen.rules import precompiled

    _build_tool().build_rules(tmp_path)
    monkeypatch.setattr(precompiled, "precompiled_dir", lambda: tmp_path)
    data = rules.rules_file("rules.toml").read_bytes()
    assert precompiled._precompiled("2025", data) is not None
    # Another file (or another version of this package or of pydantic) has another name.
    assert rules.precompiled_name("2025", data + b"\n") != rules.precompiled_name("2025", data)
    assert precompiled._precompiled("2025", data + b"\n") is None
    # A damaged copy is not trusted.
    (tmp_path / rules.precompiled_name("2025", data)).write_bytes(b"not a pickle")
    assert precompiled._precompiled("2025", data) is None
    monkeypatch.undo()
    monkeypatch.setenv("SHEETGEN_PRECOMPILED", "off")
    assert rules.precompiled_dir() is None


def test_the_name_changes_with_every_module_whose_classes_the_copy_holds(tmp_path: Path) -> None:
    """A parsed copy names its classes by module path: every sheetgen module it names is one
    the copy's name is a hash of, so moving or editing a model renames the copy (a stale one,
    whose classes live elsewhere now, is never read)."""
    import pickletools

    from sheetgen import rules

    _build_tool().build_rules(tmp_path)
    hashed = {path.resolve() for path in rules.precompiled_sources()}
    named: set[str] = set()
    for copy in tmp_path.iterdir():
        strings = [arg for _, arg, _ in pickletools.genops(copy.read_bytes())
                   if isinstance(arg, str)]
        named.update(s for s in strings if s.startswith("sheetgen."))
    assert "sheetgen.vocabulary" in named and any(m.startswith("sheetgen.rules") for m in named)
    for module in named:
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None, module
        assert Path(spec.origin).resolve() in hashed, module


# --- what a cold fill imports -----------------------------------------------------------------

NOT_FOR_A_JSON_FILL = ("weasyprint", "jinja2", "sheetgen.sources.spreadsheet", "python_calamine",
                       "openpyxl", "sheetgen.rendering.docx", "docxtpl", "docx",
                       "sheetgen.serve.app", "fastapi", "uvicorn", "starlette",
                       "sheetgen.receive", "zxingcpp", "numpy", "pypdfium2",
                       "sheetgen.batch", "rich.progress")


def test_a_json_fill_imports_only_what_it_runs(tmp_path: Path) -> None:
    env = {"SHEETGEN_CACHE_DIR": str(tmp_path / "cache"), "SHEETGEN_PRECOMPILED": "off",
           "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    fill = ["fill", str(EXAMPLES / "jiangxi-personal.json"), "-o", str(tmp_path / "x.pdf")]
    code = ("import json, sys, sheetgen\n"
            f"code = sheetgen.main({fill!r})\n"
            "print(json.dumps([code, sorted(sys.modules)]))\n")
    # The first run compiles the layouts into the cache; the second is the cold fill.
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, timeout=300, env=env, cwd=tmp_path)
    status, modules = json.loads(proc.stdout.splitlines()[-1])
    assert status == 0, proc.stderr
    loaded = [m for m in modules
              if any(m == n or m.startswith(n + ".") for n in NOT_FOR_A_JSON_FILL)]
    assert loaded == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX owners and modes")
def test_a_poisoned_cache_others_can_write_does_not_change_a_fill(tmp_path: Path) -> None:
    """Issue 26.4 as reported: another user swaps the applicant's and the provider's fields in
    a cache they can write (digest recomputed); the fill prints what it should, and warns."""
    example = EXAMPLES / "jiangxi-personal.json"
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)

    def fill(name: str, cache_dir: str) -> subprocess.CompletedProcess[str]:
        env = {"SHEETGEN_CACHE_DIR": cache_dir, "SHEETGEN_PRECOMPILED": "off",
               "PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SOURCE_DATE_EPOCH": "0"}
        return subprocess.run([sys.executable, "-m", "sheetgen", "fill", str(example),
                               "--provider", "某某云计算有限公司", "-o", str(tmp_path / name)],
                              capture_output=True, text=True, timeout=300, env=env,
                              check=False, cwd=tmp_path)

    assert fill("clean.pdf", "off").returncode == 0
    assert fill("first.pdf", str(cache)).returncode == 0  # fills the cache
    poisoned = 0
    for meta_path in cache.glob("*.json"):
        meta = json.loads(meta_path.read_text("utf-8"))
        paths = [f["path"] for f in meta["fields"]]
        if "host.name" in paths and "provider.name" in paths:
            for f in meta["fields"]:
                f["path"] = {"host.name": "provider.name",
                             "provider.name": "host.name"}.get(f["path"], f["path"])
            background = (cache / f"{meta_path.stem}.pdf").read_bytes()
            meta["entry_sha256"] = layout.entry_digest(meta, background)
            meta_path.write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
            poisoned += 1
    assert poisoned
    cache.chmod(0o777)
    proc = fill("after.pdf", str(cache))
    assert proc.returncode == 0, proc.stderr
    assert "sheetgen: warning: the layout cache folder" in proc.stderr
    assert "writable by every user" in proc.stderr
    clean = (tmp_path / "clean.pdf").read_bytes()
    assert (tmp_path / "first.pdf").read_bytes() == clean
    assert (tmp_path / "after.pdf").read_bytes() == clean
