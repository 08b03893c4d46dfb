"""Precompile what a first run would otherwise make: the layouts of the bundled templates and
rules, and the built-in rules editions parsed, to ship them with the package.

    python tools/precompile.py                   # sheetgen/_precompiled/ (what make setup runs)
    python tools/precompile.py --out DIR         # elsewhere
    python tools/precompile.py --all --dry-run   # how many layouts the whole set has

A first ``sheetgen fill`` on a new machine otherwise spends most of its time compiling its
cover and sheet layouts with WeasyPrint (see docs/performance.md). The layouts are found the way
the pipeline finds them: every applicant the bundled rules can describe is made from the
rules themselves (each province and host nature, through :func:`make_example`, with and
without a seal, a landline, a 前置审批 row, in each filing type and with the special-site
mark), validated by the real model, planned, and turned into page jobs with the default
options; the layout key of each page is what the package looks up at run time. Nothing here
lists a variant, a province or a flag by hand.

Which of them are shipped (``--all`` ships every one): every **sheet** layout, and the
**cover** layouts of a first filing (``new_filing``) without 前置审批 content or the
special-site mark. The whole set is about four times as big (the cover's static texts differ
per filing type, per 前置审批 and per special site, see docs/performance.md for the figures);
a layout that is not shipped is compiled on first use and kept in the user's cache as before.

The folder holds ``layouts/``: ``KEY.pdf`` and ``KEY.json`` per layout (the user cache's format,
:func:`sheetgen.rendering.pdf.layout._store`) and ``index.json``: the stamp they were built
under, a digest of this build's inputs (that stamp, the templates, the rules files, every
module of the package: they make the contexts and so the keys) and key → template. Run again
with the same inputs, it checks the files and stops (``make setup`` runs it every time); with
other inputs it enumerates again, compiles only what is missing or stale, removes the files of
layouts no longer in the set, and writes the index last. And ``rules/``: each built-in edition
validated and pickled, named by :func:`sheetgen.rules.precompiled_name` (read by
:func:`sheetgen.rules.load_rules`, :mod:`sheetgen.rules.precompiled`, instead of parsing the
TOML file again).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "sheetgen" / "_precompiled"


def variants(rules: Any, *, everything: bool) -> Iterator[dict[str, Any]]:
    """Applicant data for every structural choice the rules allow (see the module docstring),
    made from each province's and nature's example."""
    from sheetgen.documents.example import make_example
    from sheetgen.vocabulary import FilingType, Nature, Preapproval

    filing_types = [t.code for t in FilingType] if everything else ["new_filing"]
    special = (False, True) if everything else (False,)
    content = next(iter(Preapproval)).code
    for province in rules.provinces:
        for nature in Nature:
            base = make_example(rules, province.key, nature.code)
            seals = (True, False) if nature.code != "personal" else (None,)
            site = base["websites"][0]
            phone = site["manager"].get("office_phone") or province.sample_landline
            for filing_type in filing_types:
                for special_site in special:
                    for seal in seals:
                        for landline in (False, True):
                            for preapproval in ((), (content,)):
                                manager = {k: v for k, v in site["manager"].items()
                                           if k != "office_phone"}
                                if landline:
                                    manager["office_phone"] = phone
                                host = dict(base["host"])
                                if seal is not None:
                                    host["has_seal"] = seal
                                yield {**base, "filing_type": filing_type,
                                       "special_site": special_site, "host": host,
                                       "websites": [{**site, "manager": manager,
                                                     "preapproval": list(preapproval)}]}


def shipped(plan: Any) -> bool:
    """Whether the cover of ``plan`` is one of those shipped by default."""
    return (plan.applicant.filing_type.code == "new_filing" and "preapproval" not in plan.flags
            and "special_site" not in plan.flags)


def _with_and_without_provider(found: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Each variant as it is (with a provider's name) and without one: the cover prints its
    接入商 row only when a name is known (``flags.provider``)."""
    for data in found:
        yield data
        if data.get("access", {}).get("provider"):
            yield {**data, "access": {k: v for k, v in data["access"].items() if k != "provider"}}


def layouts(*, everything: bool) -> dict[str, tuple[str, dict[str, Any], int]]:
    """key → (template, context, max pages) of every layout to ship."""
    from sheetgen.documents.cover import TEMPLATE as COVER
    from sheetgen.documents.jobs import RenderOptions, applicant_jobs
    from sheetgen.documents.plan import make_plan
    from sheetgen.errors import InvalidDataError
    from sheetgen.model import parse_applicant
    from sheetgen.rendering.pdf.layout import layout_key
    from sheetgen.rendering.templating import bundled
    from sheetgen.rules import load_rules

    rules = load_rules()
    templates = bundled()
    options = RenderOptions()  # the defaults of sheetgen fill
    found: dict[str, tuple[str, dict[str, Any], int]] = {}
    for data in _with_and_without_provider(variants(rules, everything=everything)):
        try:
            plan = make_plan(parse_applicant(data, rules), rules)
        except InvalidDataError:
            continue  # a choice the rules refuse (no seal in Zhejiang, …): never printed
        for job in applicant_jobs(plan, options):
            if job.sheet.template == COVER and not everything and not shipped(plan):
                continue  # a cover outside the default selection
            context = job.sheet.context
            key = layout_key(templates, job.sheet.template, context)
            found.setdefault(key, (job.sheet.template, context, job.max_pages))
    return found


def inputs_digest(*, everything: bool) -> str:
    """A hash of what decides which layouts are built and what they hold (see the module
    docstring): when it is unchanged, so is the folder."""
    import hashlib

    from sheetgen.rendering.pdf.layout import engine_stamp
    from sheetgen.rendering.templating import bundled

    sha = hashlib.sha256(f"{engine_stamp()}\0{bundled().digest}\0{everything}".encode())
    sha.update(Path(__file__).read_bytes())  # which variants it enumerates
    package = REPO / "sheetgen"
    for path in sorted([*package.rglob("*.py"), *(package / "rules").glob("*.toml")]):
        if "_precompiled" not in path.parts:
            sha.update(f"\0{path.relative_to(package)}\0".encode())
            sha.update(path.read_bytes())
    return sha.hexdigest()


def up_to_date(out: Path, digest: str) -> bool:
    """Whether ``out`` (the _precompiled folder) was built from these inputs and still holds
    every file it lists."""
    from sheetgen.rendering.pdf.layout import SHIPPED_INDEX, _load
    from sheetgen.rules import EDITIONS, precompiled_name
    from sheetgen.rules import rules_file as rules_path

    try:
        index = json.loads((out / "layouts" / SHIPPED_INDEX).read_text("utf-8"))
        return index["inputs"] == digest and all(
            _load(key, template, out / "layouts") is not None
            for key, template in index["layouts"].items()) and all(
            (out / "rules" / precompiled_name(e, rules_path(f).read_bytes())).is_file()
            for e, f in EDITIONS.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def build_rules(out: Path) -> list[str]:
    """Each built-in rules edition parsed and validated, pickled under its name (see
    :func:`sheetgen.rules.precompiled_name`); other files of the folder are removed."""
    import pickle

    from sheetgen.rules import EDITIONS, parse_rules, precompiled_name
    from sheetgen.rules import rules_file as rules_path
    from sheetgen.rules.editions import _builtin_origin

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for edition, name in EDITIONS.items():
        data = rules_path(name).read_bytes()
        rules = parse_rules(data, origin=_builtin_origin(edition))
        written.append(precompiled_name(edition, data))
        (out / written[-1]).write_bytes(pickle.dumps(rules, protocol=pickle.HIGHEST_PROTOCOL))
    for path in out.iterdir():
        if path.name not in written:
            path.unlink()
    return written


def build(root: Path, *, everything: bool, dry_run: bool) -> int:
    from sheetgen.output import write_atomic
    from sheetgen.rendering.pdf.layout import (
        SHIPPED_INDEX,
        _load,
        _store,
        compile_layout,
        engine_stamp,
    )
    from sheetgen.rendering.templating import bundled

    started = time.perf_counter()
    digest = inputs_digest(everything=everything)
    if not dry_run and up_to_date(root, digest):
        print(f"precompile: {root} is up to date")
        return 0
    wanted = layouts(everything=everything)
    enumerated = time.perf_counter() - started
    kinds: dict[str, int] = {}
    for template, _, _ in wanted.values():
        kinds[template] = kinds.get(template, 0) + 1
    summary = ", ".join(f"{n} {t}" for t, n in sorted(kinds.items()))
    print(f"precompile: {len(wanted)} layouts ({summary}), enumerated in {enumerated:.1f} s")
    if dry_run:
        return 0
    out = root / "layouts"
    stamp = engine_stamp()
    try:
        index = json.loads((out / SHIPPED_INDEX).read_text("utf-8"))
        current = index["layouts"] if index.get("stamp") == stamp else {}
    except (OSError, ValueError, KeyError, TypeError):
        current = {}
    out.mkdir(parents=True, exist_ok=True)
    (out / SHIPPED_INDEX).unlink(missing_ok=True)  # written again last, once all is there
    templates = bundled()
    compiled = 0
    for key, (template, context, max_pages) in sorted(wanted.items()):
        if current.get(key) == template and _load(key, template, out) is not None:
            continue
        _store(compile_layout(templates, template, context, key=key, max_pages=max_pages),
               out)
        if _load(key, template, out) is None:  # _store keeps quiet about a failed write
            raise SystemExit(f"precompile: could not write layout {key} into {out}")
        compiled += 1
    for path in out.iterdir():  # the files of layouts no longer in the set
        if path.stem not in wanted:
            path.unlink()
    editions = build_rules(root / "rules")
    write_atomic(out / SHIPPED_INDEX, json.dumps(
        {"stamp": stamp, "inputs": digest,
         "layouts": {k: t for k, (t, _, _) in sorted(wanted.items())}},
        indent=1).encode())
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    print(f"precompile: {compiled} layouts compiled, {len(wanted) - compiled} up to date, "
          f"{len(editions)} rules editions; {root} holds {size / 1e6:.1f} MB; "
          f"{time.perf_counter() - started:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder to write")
    parser.add_argument("--all", action="store_true",
                        help="every layout the rules can produce, not the default selection")
    parser.add_argument("--dry-run", action="store_true", help="count them, compile nothing")
    args = parser.parse_args(argv)
    # The package of this checkout, whichever sheetgen the interpreter has installed.
    sys.path.insert(0, str(REPO))
    return build(args.out, everything=args.all, dry_run=args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
