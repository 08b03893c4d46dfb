"""The provider configuration (``sheetgen.toml``, ``--config``): found, merged under the
command line, strict; the electronic flow's packet; originals per document; provider
templates for a document kind of the rules (issue 23, items 3 and 4)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pypdfium2 as pdfium
import pytest

from sheetgen.documents.provider import CONFIG_ENV, ProviderConfig, find_config, load_config
from sheetgen.errors import UsageError
from sheetgen.resources import rules_file, templates_dir
from sheetgen.rules import load_rules
from tests.conftest import EXAMPLES, REPO, run_cli
from tests.pdfs import outline_titles, page_texts

FIXTURE = REPO / "tests" / "fixtures" / "provider" / "templates"
UNIT = str(EXAMPLES / "beijing-unit-two-websites.json")  # two websites: two sheets
GUANGDONG_UNIT = str(EXAMPLES / "guangdong-unit.json")
GUANGDONG_PERSONAL = str(EXAMPLES / "guangdong-personal.json")
#: A province-prescribed document in the rules' documents table: a title, no template
#: (sheetgen never holds its text), printed only from a provider's template.
COMMITMENT = '''
[documents.guangdong_commitment]
title = "互联网信息服务备案承诺书"
when = ["unit"]
order = 10
originals = true
code = true
boxes = ["signature", "seal", "date"]
'''


def _write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def _pdf(path: Path) -> bytes:
    return path.read_bytes()


def _pages(pdf: bytes) -> int:
    document = pdfium.PdfDocument(pdf)
    try:
        return len(document)
    finally:
        document.close()


def _titles(pdf: bytes) -> list[str]:
    return [t for t in outline_titles(pdf) if isinstance(t, str)]


# --- finding and reading the file -----------------------------------------------------------

def test_the_file_is_found_in_the_working_directory_by_env_or_as_given(tmp_path: Path) -> None:
    assert find_config(None, cwd=tmp_path, environ={}) is None
    assert load_config(None, cwd=tmp_path, environ={}) == ProviderConfig()
    here = _write(tmp_path / "sheetgen.toml", '[provider]\nname = "某某云"\n')
    assert find_config(None, cwd=tmp_path, environ={}) == here
    other = _write(tmp_path / "other.toml", '[provider]\nflow = "electronic"\n')
    assert find_config(None, cwd=tmp_path, environ={CONFIG_ENV: str(other)}) == other
    assert find_config(here, cwd=tmp_path, environ={CONFIG_ENV: str(other)}) == here
    config = load_config(None, cwd=tmp_path, environ={CONFIG_ENV: str(other)})
    assert config.flow == "electronic" and config.name is None and config.path == other


def test_templates_are_relative_to_the_file_and_originals_keep_their_counts(
        tmp_path: Path) -> None:
    (tmp_path / "conf" / "my-templates").mkdir(parents=True)
    path = _write(tmp_path / "conf" / "x.toml",
                  '[provider]\ntemplates = "my-templates"\nsheet = true\n'
                  '[originals]\nsheet = 2\n')
    config = load_config(path)
    assert config.templates == tmp_path / "conf" / "my-templates"
    assert config.sheet is True and config.originals == (("sheet", 2),)


@pytest.mark.parametrize(("text", "line", "key", "says"), [
    ('[provider]\nname = "x"\ncolour = "red"\n', 3, "provider.colour", "unknown key"),
    ('[provider]\nflow = "email"\n', 2, "provider.flow", "'paper' or 'electronic'"),
    ('[provider]\n\nsheet = "yes"\n', 3, "provider.sheet", "boolean"),
    ('[originals]\nsheet = 20\n', 2, "originals.sheet", "less than or equal to 10"),
    ('[originals]\nsheet = 0\n', 2, "originals.sheet", "greater than or equal to 1"),
    ('[originals]\nfoo = 2\n', 2, "originals.foo", "foo is not a document kind"),
    ('[originals]\ncover = 2\n', 2, "originals.cover", "not printed as an original"),
    ('[originals]\nSheet = 2\n', 2, "originals.Sheet", "not a document kind name"),
    ('flow = "paper"\n', 1, "flow", "unknown key"),
    ('[provider]\ntemplates = "nowhere"\n', 2, "provider.templates", "is not a folder"),
])
def test_an_unknown_key_or_a_bad_value_is_exit_2_naming_file_line_and_key(
        tmp_path: Path, text: str, line: int, key: str, says: str) -> None:
    path = _write(tmp_path / "bad.toml", text)
    result = run_cli("fill", UNIT, "-o", str(tmp_path / "x.pdf"), "--config", str(path))
    assert result.code == 2, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"sheetgen: error: config file {path} line {line}: key {key}: ")
    assert says in first
    assert "Traceback" not in result.stderr and not (tmp_path / "x.pdf").exists()


def test_a_syntax_error_a_missing_file_and_a_bad_file_in_the_working_directory(
        tmp_path: Path) -> None:
    result = run_cli("fill", UNIT, "--config", str(tmp_path / "missing.toml"))
    assert result.code == 2 and "missing.toml: no such file" in result.stderr
    _write(tmp_path / "sheetgen.toml", "[provider\n")
    result = run_cli("fill", UNIT, "-o", "x.pdf", cwd=tmp_path)
    assert result.code == 2 and "config file " in result.stderr
    assert "sheetgen.toml: TOML syntax error" in result.stderr and "line 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_command_that_prints_or_lists_documents_takes_config() -> None:
    for command in ("fill", "preview", "batch", "serve", "rules", "receive"):
        result = run_cli(command, "--help")
        assert "--config" in result.text, command


# --- the command line over the file ---------------------------------------------------------

def test_the_command_line_wins_over_the_file_and_the_file_over_the_defaults(
        tmp_path: Path) -> None:
    _write(tmp_path / "sheetgen.toml",
           '[provider]\nname = "配置里的云"\nflow = "paper"\n[originals]\nsheet = 2\n')
    data = json.loads(Path(UNIT).read_text("utf-8"))
    del data["access"]["provider"]  # the provider's name comes from the options
    _write(tmp_path / "in.json", json.dumps(data, ensure_ascii=False))
    assert run_cli("fill", "in.json", "-o", "a.pdf", cwd=tmp_path).code == 0
    pdf = _pdf(tmp_path / "a.pdf")
    assert _pages(pdf) == 1 + 2 * 2  # the cover, two websites × the file's two originals
    assert any("配置里的云" in text for text in page_texts(pdf))
    assert run_cli("fill", "in.json", "-o", "b.pdf", "--copies", "1", "--provider", "命令行的云",
                   cwd=tmp_path).code == 0
    pdf = _pdf(tmp_path / "b.pdf")
    assert _pages(pdf) == 1 + 2
    texts = page_texts(pdf)
    assert any("命令行的云" in t for t in texts) and not any("配置里的云" in t for t in texts)
    # --config names another file: the working directory's is not read.
    other = _write(tmp_path / "other.toml", '[provider]\nflow = "electronic"\n')
    assert run_cli("fill", "in.json", "-o", "c.pdf", "--config", str(other),
                   cwd=tmp_path).code == 0
    assert _pages(_pdf(tmp_path / "c.pdf")) == 1


# --- the electronic flow's packet -----------------------------------------------------------

def test_the_electronic_flow_prints_the_cover_and_no_sheet_unless_asked(tmp_path: Path) -> None:
    config = _write(tmp_path / "e.toml", '[provider]\nflow = "electronic"\n')
    out = tmp_path / "e.pdf"
    assert run_cli("fill", UNIT, "-o", str(out), "--config", str(config)).code == 0
    pdf = _pdf(out)
    assert _pages(pdf) == 1 and _titles(pdf) == ["备案材料清单"]
    # The cover still says what to do: the electronic flow's own section.
    assert "电子化核验" in page_texts(pdf)[0]
    # --check-sheet prints the sheets anyway; so does sheet = true in the file.
    assert run_cli("fill", UNIT, "-o", str(out), "--config", str(config),
                   "--check-sheet").code == 0
    assert [t[:4] for t in _titles(_pdf(out))[1:]] == ["网站 1", "网站 2"]
    _write(config, '[provider]\nflow = "electronic"\nsheet = true\n')
    assert run_cli("fill", UNIT, "-o", str(out), "--config", str(config)).code == 0
    assert _pages(_pdf(out)) == 3
    # --no-check-sheet and --no-cover together leave nothing: a usage error, not an empty PDF.
    result = run_cli("fill", UNIT, "-o", str(tmp_path / "none.pdf"), "--verification",
                     "electronic", "--no-cover")
    assert result.code == 2 and "nothing to print" in result.stderr
    # The paper flow prints the sheets, and --no-check-sheet leaves them out there too.
    assert run_cli("fill", UNIT, "-o", str(out), "--verification", "paper").code == 0
    assert _pages(_pdf(out)) == 3
    assert run_cli("fill", UNIT, "-o", str(out), "--no-check-sheet").code == 0
    assert _pages(_pdf(out)) == 1


def test_the_manifest_and_receive_expect_no_sheet_the_electronic_flow_did_not_print(
        tmp_path: Path) -> None:
    from sheetgen.receive.records import load_manifest

    config = _write(tmp_path / "e.toml", '[provider]\nflow = "electronic"\n')
    result = run_cli("batch", UNIT, "-o", str(tmp_path / "out"), "--config", str(config),
                     "--report", str(tmp_path / "m.json"), "-j", "1")
    assert result.code == 0, result.stderr
    manifest = json.loads((tmp_path / "m.json").read_text("utf-8"))
    [record] = manifest["records"]
    assert [d["kind"] for d in record["documents"]] == ["cover"]
    [expected] = load_manifest(tmp_path / "m.json")
    assert expected.documents == {}


# --- originals per document -----------------------------------------------------------------

def test_originals_per_document_reach_the_pdf_and_the_manifest(tmp_path: Path) -> None:
    folder = _provider(tmp_path)
    _write(folder / "sheetgen.toml", '[provider]\ntemplates = "templates"\n'
           '[originals]\nsheet = 3\nguangdong_commitment = 2\n')
    result = run_cli("batch", GUANGDONG_UNIT, "-o", "out", "--rules", "rules.toml",
                     "--report", "m.json", "-j", "1", cwd=folder)
    assert result.code == 0, result.stderr
    manifest = json.loads((folder / "m.json").read_text("utf-8"))
    [record] = manifest["records"]
    copies = {d["kind"]: d["copies"] for d in record["documents"]}
    assert copies == {"cover": 1, "guangdong_commitment": 2, "sheet": 3}
    pdf = next((folder / "out").glob("*.pdf")).read_bytes()
    assert _pages(pdf) == 1 + 2 + 3
    # --copies sets the sheet's count over the file's; the letter keeps the file's.
    assert run_cli("fill", GUANGDONG_UNIT, "-o", "x.pdf", "--rules", "rules.toml",
                   "--copies", "1", cwd=folder).code == 0
    assert _pages((folder / "x.pdf").read_bytes()) == 1 + 2 + 1


# --- provider templates for a kind ----------------------------------------------------------

def _provider(tmp_path: Path) -> Path:
    """A provider's folder: the bundled templates with the Guangdong commitment added (the
    fixture templates/README.md shows), and a rules file whose documents table names it."""
    folder = tmp_path / "provider"
    shutil.copytree(templates_dir(), folder / "templates")
    shutil.copytree(FIXTURE / "documents", folder / "templates" / "documents")
    text = rules_file().read_text("utf-8")
    if "[documents.guangdong_commitment]" not in text:  # the built-in rules may name it
        text += COMMITMENT
    _write(folder / "rules.toml", text)
    return folder


def test_a_provider_template_for_a_known_kind_prints_in_the_pdf_and_the_docx(
        tmp_path: Path) -> None:
    folder = _provider(tmp_path)
    _write(folder / "sheetgen.toml", '[provider]\nname = "某某云"\ntemplates = "templates"\n')
    result = run_cli("fill", GUANGDONG_UNIT, "-o", "u.pdf", "--format", "pdf,docx",
                     "--rules", "rules.toml", "--json", cwd=folder)
    assert result.code == 0, result.stderr
    pdf = (folder / "u.pdf").read_bytes()
    titles = _titles(pdf)
    assert "互联网信息服务备案承诺书" in titles
    report = json.loads(result.text)
    [letter] = [s for s in report["sheets"]
                if s["template"] == "documents/guangdong_commitment.html"]
    assert letter["pages"] == 1
    page = titles.index("互联网信息服务备案承诺书")
    text = page_texts(pdf)[page]
    data = json.loads(Path(GUANGDONG_UNIT).read_text("utf-8"))
    assert data["host"]["name"] in text and "单位公章" in text
    assert (folder / "u-guangdong_commitment.docx").is_file()
    image = pdfium.PdfDocument(pdf)[page].render(scale=1).to_pil().convert("L")
    assert image.getextrema()[0] < 64  # ink on the page, not a blank one
    # The rules decide who gets it: a filing in another province does not.
    assert run_cli("fill", UNIT, "-o", "p.pdf", "--rules", "rules.toml", cwd=folder).code == 0
    assert "互联网信息服务备案承诺书" not in _titles((folder / "p.pdf").read_bytes())
    # Without the provider's template the entry prints nothing (sheetgen holds no text).
    assert run_cli("fill", GUANGDONG_UNIT, "-o", "b.pdf", "--rules", "rules.toml",
                   "--config", str(_write(folder / "none.toml", "")), cwd=folder).code == 0
    assert "互联网信息服务备案承诺书" not in _titles((folder / "b.pdf").read_bytes())


def test_a_provider_template_for_a_kind_the_rules_do_not_know_is_exit_5(
        tmp_path: Path) -> None:
    folder = _provider(tmp_path)
    shutil.copy(FIXTURE / "documents" / "guangdong_commitment.html",
                folder / "templates" / "documents" / "hubei_commitment.html")
    for command in (("fill", GUANGDONG_UNIT, "-o", "x.pdf"),
                    ("batch", GUANGDONG_UNIT, "-o", "out", "-j", "1")):
        result = run_cli(*command, "--rules", "rules.toml", "--templates", "templates",
                         cwd=folder)
        assert result.code == 5, result.stderr
        assert "documents/hubei_commitment.html" in result.stderr
        assert "hubei_commitment" in result.stderr and "Traceback" not in result.stderr
    (folder / "templates" / "documents" / "hubei_commitment.html").unlink()
    shutil.copy(FIXTURE / "documents" / "guangdong_commitment.html",
                folder / "templates" / "documents" / "sheet.html")
    result = run_cli("fill", GUANGDONG_UNIT, "-o", "x.pdf", "--rules", "rules.toml",
                     "--templates", "templates", cwd=folder)
    assert result.code == 5 and "public/sheet.html" in result.stderr


def test_the_readme_example_is_the_fixture() -> None:
    """templates/README.md shows the Guangdong provider's commitment: the fixture is it."""
    readme = (REPO / "templates" / "README.md").read_text("utf-8")
    assert "documents/guangdong_commitment.html" in readme
    assert "tests/fixtures/provider/templates/documents" in readme


# --- serve ----------------------------------------------------------------------------------

def test_serve_uses_the_configured_flow_and_originals(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from sheetgen.serve.app import create_app
    from sheetgen.serve.config import ServeConfig

    body = Path(UNIT).read_bytes()
    config = load_config(_write(tmp_path / "s.toml", '[provider]\nflow = "electronic"\n'))
    with TestClient(create_app(ServeConfig(workers=1, provider=config)),
                    raise_server_exceptions=False) as client:
        answer = client.post("/api/v1/sheets", content=body,
                             headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-sheetgen-pages"] == "1"
        assert client.get("/api/v1/rules/北京").json()["verification"]["flow"] == "electronic"
    config = load_config(_write(tmp_path / "p.toml", '[originals]\nsheet = 2\n'))
    with TestClient(create_app(ServeConfig(workers=1, provider=config)),
                    raise_server_exceptions=False) as client:
        pages = [client.post(f"/api/v1/sheets{query}", content=body,
                             headers={"content-type": "application/json"}
                             ).headers["x-sheetgen-pages"] for query in ("", "?copies=1")]
        assert pages == ["5", "3"]  # the file's two originals; the request's copies win


def test_serve_refuses_a_bad_config_before_it_starts(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", "[originals]\nletter = 2\n")
    result = run_cli("serve", "--config", str(path), "--port", "0")
    assert result.code == 2 and "key originals.letter" in result.stderr


def test_the_config_check_uses_the_rules_documents_table(tmp_path: Path) -> None:
    path = _write(tmp_path / "c.toml", "[originals]\nguangdong_commitment = 2\n")
    rules = load_rules()
    config = load_config(path)
    if "guangdong_commitment" not in rules.documents:
        with pytest.raises(UsageError, match="guangdong_commitment is not a document kind"):
            config.check_kinds(rules)
    rules_path = _write(tmp_path / "rules.toml", rules_file().read_text("utf-8")
                        + ("" if "guangdong_commitment" in rules.documents else COMMITMENT))
    assert config.check_kinds(load_rules(rules_path)) is config


def test_a_provider_template_replaces_the_projects_wording_of_a_registered_kind(
        tmp_path: Path) -> None:
    from sheetgen.documents.kinds import DocumentKind, letter_context, register, unregister

    folder = _provider(tmp_path)
    html = (FIXTURE / "documents" / "guangdong_commitment.html").read_text("utf-8")
    (folder / "templates" / "letters").mkdir(exist_ok=True)
    _write(folder / "templates" / "letters" / "own_letter.html",
           html.replace("互联网信息服务备案承诺书", "项目自己的措辞"))
    _write(folder / "rules.toml", (folder / "rules.toml").read_text("utf-8")
           + "\n[documents.own_letter]\nwhen = []\n")
    register(DocumentKind(name="own_letter", title="授权书", context=letter_context,
                          template="letters/own_letter", order=10))
    try:
        args = ("fill", GUANGDONG_UNIT, "-o", "x.pdf", "--rules", "rules.toml", "--templates",
                "templates")
        assert run_cli(*args, cwd=folder).code == 0
        assert any("项目自己的措辞" in t for t in page_texts((folder / "x.pdf").read_bytes()))
        _write(folder / "templates" / "documents" / "own_letter.html",
               html.replace("互联网信息服务备案承诺书", "接入商的措辞"))
        assert run_cli(*args, cwd=folder).code == 0
        texts = page_texts((folder / "x.pdf").read_bytes())
        assert any("接入商的措辞" in t for t in texts)
        assert not any("项目自己的措辞" in t for t in texts)
    finally:
        unregister("own_letter")


def test_receive_finds_a_provider_documents_layout_it_never_cached(tmp_path: Path) -> None:
    """A scan of the provider's commitment, read where no layout is cached: receive
    enumerates the provider's documents/ kinds with the others (--config names them)."""
    import os

    folder = _provider(tmp_path)
    _write(folder / "sheetgen.toml", '[provider]\ntemplates = "templates"\n')
    assert run_cli("fill", GUANGDONG_UNIT, "-o", "u.pdf", "--rules", "rules.toml",
                   cwd=folder).code == 0
    pdf = (folder / "u.pdf").read_bytes()
    page = _titles(pdf).index("互联网信息服务备案承诺书")
    pdfium.PdfDocument(pdf)[page].render(scale=200 / 72).to_pil().convert("RGB").save(
        folder / "scan.png")
    env = {**os.environ, "SHEETGEN_CACHE_DIR": "off"}
    result = run_cli("receive", "scan.png", "--rules", "rules.toml", "--json", cwd=folder,
                     env=env)
    assert result.code == 6, result.stderr  # unsigned: read, matched, and found incomplete
    [found] = json.loads(result.text)["pages"]
    assert found["kind"] == "guangdong_commitment" and found["reference"]
    assert found["signed"] is False


def test_the_desks_batches_use_the_servers_provider_configuration(tmp_path: Path) -> None:
    import time

    from fastapi.testclient import TestClient

    from sheetgen.serve.app import create_app
    from sheetgen.serve.config import ServeConfig

    token = "t0ken-for-the-config-tests-0123"
    auth = {"authorization": f"Bearer {token}"}
    config = load_config(_write(tmp_path / "d.toml", '[provider]\nflow = "electronic"\n'
                                '[originals]\nsheet = 2\n'))
    serve = ServeConfig(workers=1, token=token, register=str(tmp_path / "desk"),
                        provider=config)
    with TestClient(create_app(serve), raise_server_exceptions=False) as desk:
        job = desk.post("/api/v1/batches", content=Path(UNIT).read_bytes(),
                        headers={**auth, "content-type": "application/json"}).json()
        deadline = time.monotonic() + 300
        while desk.get(job["url"], headers=auth).json()["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, "the batch did not finish"
            time.sleep(0.2)
        manifest = desk.get(job["url"] + "/manifest", headers=auth).json()
        [record] = manifest["records"]
        assert [d["kind"] for d in record["documents"]] == ["cover"]  # electronic: no sheet
        # sheet = true in the server's configuration: the sheets, two originals each.
        desk.app.state.provider = ProviderConfig(flow="electronic", sheet=True,  # type: ignore[attr-defined]
                                                 originals=(("sheet", 2),))
        job = desk.post("/api/v1/batches", content=Path(UNIT).read_bytes(),
                        headers={**auth, "content-type": "application/json"}).json()
        while desk.get(job["url"], headers=auth).json()["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline, "the batch did not finish"
            time.sleep(0.2)
        [record] = desk.get(job["url"] + "/manifest", headers=auth).json()["records"]
        assert {d["kind"]: d["copies"] for d in record["documents"]} == {"cover": 1, "sheet": 2}


def test_sheetgen_config_names_the_file_and_rules_shows_its_flow(tmp_path: Path) -> None:
    import os

    path = _write(tmp_path / "e.toml", '[provider]\nflow = "electronic"\n')
    result = run_cli("rules", "粤", "--json", env={**os.environ, CONFIG_ENV: str(path)})
    assert result.code == 0, result.stderr
    assert json.loads(result.text)["verification"]["flow"] == "electronic"
    result = run_cli("rules", "粤", "--config", str(path))
    assert "verification: electronic" in result.text
    assert json.loads(run_cli("rules", "粤", "--json").text)["verification"]["flow"] == "paper"
    # The 2018 edition knows no electronic flow: rules lists it as it is.
    result = run_cli("rules", "赣", "--edition", "2018", "--config", str(path))
    assert result.code == 0 and "verification: paper" in result.text


def test_serve_prints_from_the_configured_templates(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from sheetgen.errors import TemplateError
    from sheetgen.serve.app import create_app
    from sheetgen.serve.config import ServeConfig

    folder = _provider(tmp_path)
    config = load_config(_write(folder / "s.toml", '[provider]\ntemplates = "templates"\n'))
    serve = ServeConfig(workers=1, provider=config)
    if "guangdong_commitment" not in load_rules().documents:
        # The built-in rules do not name it: the server refuses to start, naming the file.
        with pytest.raises(TemplateError, match="documents/guangdong_commitment"):
            create_app(serve)
        (folder / "templates" / "documents" / "guangdong_commitment.html").unlink()
        (folder / "templates" / "documents" / "guangdong_commitment.docx").unlink()
        config = load_config(folder / "s.toml")
        serve = ServeConfig(workers=1, provider=config)
    marked = (folder / "templates" / "common" / "cover.html")
    marked.write_text(marked.read_text("utf-8").replace("网站备案材料清单", "接入商的材料清单"),
                      "utf-8")
    with TestClient(create_app(serve), raise_server_exceptions=False) as client:
        answer = client.post("/api/v1/sheets", content=Path(GUANGDONG_UNIT).read_bytes(),
                             headers={"content-type": "application/json"})
        assert answer.status_code == 200, answer.text
        assert "接入商的材料清单" in page_texts(answer.content)[0]
