"""Batch generation (issue 7): streamed input, one result per record, crash isolation, resume.

Small batches and ``--jobs 2`` keep these fast; the 1000-record figures are in bench/batch.py.
In-process runs use the ``fork`` start method, so a worker sees what the test patched before
the pool started (the crash injection) and the test's environment; the CLI runs use the
default (forkserver), as users do.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import sheetgen.batch as batch
import sheetgen.rendering.pdf.document as pdf_document
import sheetgen.sources.json as sources
from sheetgen.batch import BatchOptions, BatchResult, run_batch
from sheetgen.batch.flight import _Names as Names
from sheetgen.batch.run import _locked as locked
from sheetgen.batch.worker import _check_name as check_name
from sheetgen.documents.example import make_example
from sheetgen.documents.jobs import RenderOptions
from sheetgen.errors import ExitCode, SheetgenError, UsageError
from sheetgen.output import AtomicFile
from sheetgen.pipeline import output_stem
from sheetgen.rules import load_rules
from sheetgen.sources.json import iter_records
from tests.applicants import SECRET
from tests.conftest import EXAMPLES, REPO, run_cli

FORK = multiprocessing.get_context("fork")
PLACES = [("江西", "personal"), ("北京", "enterprise"), ("广东", "personal"),
          ("广东", "enterprise"), ("上海", "institution"), ("浙江", "personal")]


def applicants(count: int, *, prefix: str = "T",
               places: list[tuple[str, str]] = PLACES) -> list[dict[str, Any]]:
    """``count`` valid applicants with distinct refs and the filing password planted."""
    rules = load_rules()
    out = []
    for n in range(count):
        province, nature = places[n % len(places)]
        data = make_example(rules, province, nature)
        data["ref"] = f"{prefix}-{n:03d}"
        data["access"]["filing_password"] = SECRET
        out.append(data)
    return out


def jsonl(records: list[Any]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def broken(data: dict[str, Any]) -> dict[str, Any]:
    """A copy with an invalid mobile (one validation problem with a JSON path)."""
    data = copy.deepcopy(data)
    data["websites"][0]["manager"]["mobile"] = "12345"
    return data


def run(inputs: list[str], outdir: Path, **options: Any) -> BatchResult:
    """run_batch with two forked workers; render options (copies=…) go into ``render``."""
    render = RenderOptions(**{key: options.pop(key) for key in list(options)
                              if key in RENDER_KEYS})
    return run_batch(inputs, BatchOptions(outdir=outdir, jobs=2, render=render, **options),
                     mp_context=FORK)


RENDER_KEYS = {f.name for f in dataclasses.fields(RenderOptions)} - {"templates"}


def files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# --- streaming input -------------------------------------------------------------------------

def test_iter_records_reads_arrays_lines_folders_and_stdin(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('[{"n": 1},\n {"n": 2}]')
    (tmp_path / "b.jsonl").write_text('{"n": 3}\n\n{"n": 4}\n')
    folder = tmp_path / "dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "z.json").write_text('{"n": 6}')
    (folder / "sub" / "y.jsonl").write_text('{"n": 7}')
    (folder / "a.json").write_text('{"n": 5}')
    (folder / ".hidden.json").write_text('{"n": 0}')
    (folder / "notes.txt").write_text("not read")
    records = list(iter_records([str(tmp_path / "a.json"), str(tmp_path / "b.jsonl"),
                                 str(folder), "-"],
                                stdin=io.BytesIO(b'{"n": 8}\n{"n": 9}\n')))
    assert [r.value for r in records] == [{"n": n} for n in range(1, 10)]
    assert [r.locator for r in records[:4]] == [{"index": 0, "line": 1}, {"index": 1, "line": 2},
                                                 {"line": 1}, {"line": 3}]
    assert [Path(r.source).name for r in records[4:7]] == ["a.json", "z.json", "y.jsonl"]
    assert records[4].locator is None
    assert records[7].source == "<stdin>" and records[8].locator == {"line": 2}


@pytest.mark.parametrize(("data", "values"), [
    (b"[]", []),
    (b'\xef\xbb\xbf  [ {"a": "x,]}\\"[{"} , 2 ]', [{"a": 'x,]}"[{'}, 2]),
    (b'{"a": 1}', [{"a": 1}]),
    (b'{\n  "a": 1\n}\n', [{"a": 1}]),            # pretty-printed object on stdin
    (b'{"a": 1}\n{"a": 2}', [{"a": 1}, {"a": 2}]),  # JSON Lines on stdin
    (b"", []),
])
def test_stdin_is_sniffed(data: bytes, values: list[object]) -> None:
    records = list(iter_records(["-"], stdin=io.BytesIO(data)))
    assert [r.value for r in records] == values and all(r.error is None for r in records)


@pytest.mark.parametrize("chunk", [1, 2, 7, 4096])
def test_array_streaming_does_not_depend_on_chunk_boundaries(
        chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "_CHUNK", chunk)
    data = applicants(3)
    text = json.dumps(data, ensure_ascii=False, indent=2).encode()
    assert [r.value for r in iter_records(["-"], stdin=io.BytesIO(text))] == data


def test_each_broken_record_is_one_failed_record(tmp_path: Path) -> None:
    (tmp_path / "lines.jsonl").write_bytes(
        b'{"a": 1}\nnot json\n{"a": 1, "a": 2}\n{"b": NaN}\n"\xff"\n[1]\n')
    (tmp_path / "array.json").write_text('[{"a": 1}, {"a": }, 3, {"a": 2}]')
    (tmp_path / "scalar.json").write_text('"just a string"')
    (tmp_path / "cut.json").write_text('[{"a": 1}, {"a": 2}')
    (tmp_path / "ghost.json").symlink_to(tmp_path / "missing")  # unreadable
    records = list(iter_records([str(tmp_path)]))
    summary = [(Path(r.source).name, r.locator, r.error.problems[0].code if r.error else "ok")
               for r in records]
    assert summary == [
        ("array.json", {"index": 0, "line": 1}, "ok"),
        ("array.json", {"index": 1, "line": 1}, "not_json"),
        ("array.json", {"index": 2, "line": 1}, "ok"),  # not an object: the model says so
        ("array.json", {"index": 3, "line": 1}, "ok"),
        ("cut.json", {"index": 0, "line": 1}, "ok"),
        ("cut.json", {"index": 1, "line": 1}, "ok"),
        ("cut.json", {"line": 1}, "not_json"),           # the array is not closed
        ("ghost.json", None, "unreadable"),
        ("lines.jsonl", {"line": 1}, "ok"),
        ("lines.jsonl", {"line": 2}, "not_json"),
        ("lines.jsonl", {"line": 3}, "duplicate_key"),
        ("lines.jsonl", {"line": 4}, "not_json"),
        ("lines.jsonl", {"line": 5}, "not_utf8"),
        ("lines.jsonl", {"line": 6}, "ok"),
        ("scalar.json", None, "not_an_object"),
    ]


def test_records_over_the_size_limit_are_skipped_without_reading_them_whole(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sources, "MAX_DOCUMENT_BYTES", 50)
    monkeypatch.setattr(sources, "_CHUNK", 16)
    big = json.dumps({"x": "y" * 500})
    (tmp_path / "a.json").write_text(f'[{big}, {{"a": 1}}, "{"z" * 300}", 2]')
    (tmp_path / "b.jsonl").write_text(f'{big}\n{{"a": 1}}\n')
    records = list(iter_records([str(tmp_path)]))
    assert [r.error.problems[0].code if r.error else "ok" for r in records] == [
        "too_large", "ok", "too_large", "ok", "too_large", "ok"]


def test_missing_inputs_are_usage_errors_before_any_record() -> None:
    with pytest.raises(SheetgenError) as info:
        next(iter_records([str(EXAMPLES), "no/such/file.json"]))
    assert info.value.exit_code == ExitCode.USAGE


# --- output names --------------------------------------------------------------------------

@pytest.mark.parametrize("ref", ["../../x", "/etc/passwd", "..", ".", "a/../../b", "x\x00y",
                                 "\u202e fdp.exe", "C:\\Windows\\x", "~root", " ", "．．／ｘ"])
def test_hostile_refs_cannot_name_a_path_outside_outdir(ref: str, tmp_path: Path) -> None:
    stem = output_stem({"ref": ref, "host": {"name": "../张三"}}, 7)
    path = (tmp_path / f"{stem}.pdf").resolve()
    assert path.parent == tmp_path.resolve()
    assert not path.name.startswith(".") and "/" not in stem and "\\" not in stem
    check_name(tmp_path, f"{stem}.pdf")
    for bad in ("../x.pdf", "/etc/passwd", ".hidden.pdf", "", "a\\b.pdf"):
        with pytest.raises(SheetgenError):
            check_name(tmp_path, bad)


def test_names_from_ref_else_index_and_host_and_duplicates_get_a_suffix() -> None:
    assert output_stem({"ref": " QY-1 "}, 3) == "QY-1"
    assert output_stem({"ref": "ＱＹ－１"}, 3) == "QY-1"  # full-width, folded like validation
    assert output_stem({"host": {"name": "某某 科技/有限公司"}}, 12) == "12-某某_科技_有限公司"
    assert output_stem([1, 2], 4) == "4-applicant"
    names = Names(["bundle.pdf"])
    assert [names.claim(s, ["pdf"]) for s in ("a", "A", "a", "bundle", "a~2")] == [
        "a", "A~2", "a~3", "bundle~2", "a~2~2"]


# --- whole runs ------------------------------------------------------------------------------

def test_mixed_inputs_manifest_accounts_for_every_record(tmp_path: Path) -> None:
    good = applicants(6)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "array.json").write_text(
        json.dumps([good[0], broken(good[1]), good[2]], ensure_ascii=False))
    (tmp_path / "in" / "lines.jsonl").write_text(jsonl([good[3]]) + "{oops\n" + jsonl([good[4]]))
    single = tmp_path / "single.json"
    single.write_text(json.dumps(good[5], ensure_ascii=False))
    out = tmp_path / "out"
    result = run([str(tmp_path / "in"), str(single)], out, report=out / "manifest.json")
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest == json.loads(batch.manifest_json(result)) | {
        "elapsed_seconds": manifest["elapsed_seconds"]}
    records = manifest["records"]
    assert [r["index"] for r in records] == [1, 2, 3, 4, 5, 6, 7]  # count in = count out
    assert manifest["summary"] == {"total": 7, "ok": 5, "failed": 2, "interrupted": 0,
                                   "skipped": 0}
    assert [r["ok"] for r in records] == [True, False, True, True, False, True, True]
    assert records[1]["errors"][0]["path"] == "websites[0].manager.mobile"
    assert records[1]["locator"] == {"index": 1, "line": 1}
    assert records[4]["errors"][0]["code"] == "not_json" and records[4]["locator"] == {"line": 2}
    assert records[6]["source"] == str(single) and records[6]["locator"] is None
    for record in records:
        if record["ok"]:
            [output] = record["outputs"]
            assert output["path"] == f"{record['reference']}.pdf"
            data = (out / output["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == output["sha256"]
            assert record["pages"] in (2, 3)  # a cover of one or two pages, one sheet
            assert record["variant"] in ("public", "guangdong")
            assert record["fit"]["fields"] > 10
            assert len(record["input_sha256"]) == 64
    assert sorted(p.name for p in out.glob("*.pdf")) == sorted(
        f"T-00{n}.pdf" for n in (0, 2, 3, 4, 5))


def test_rerun_skips_up_to_date_records_and_force_redoes_them(tmp_path: Path) -> None:
    data = applicants(4)
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(data))
    out = tmp_path / "out"
    first = run([str(source)], out)
    assert [r.skipped for r in first.records] == [False] * 4
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.pdf")}
    data[1]["websites"][0]["name"] = "改过名字的网站"
    data[2]["access"]["filing_password"] = "another"  # changes nothing printed
    source.write_text(jsonl(data))
    (out / "T-003.pdf").write_bytes(b"%PDF- tampered")
    second = run([str(source)], out)
    assert [r.skipped for r in second.records] == [True, False, True, False]
    assert (out / "T-000.pdf").stat().st_mtime_ns == mtimes["T-000.pdf"]
    assert second.records[0].outputs == first.records[0].outputs
    assert (out / "T-003.pdf").read_bytes() != b"%PDF- tampered"
    forced = run([str(source)], out, force=True)
    assert not any(r.skipped for r in forced.records) and forced.ok
    assert run([str(source)], out, copies=2).records[0].pages == 3  # options are in the key


def test_worker_crash_fails_only_that_record(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker dying on one record (injected: os._exit while rendering T-003) fails only
    that record; the worker is replaced and the others go on."""
    real = pdf_document.render_planned

    def crashing(plan: Any, *args: Any, **kwargs: Any) -> Any:
        if plan.applicant.ref == "T-003":
            os._exit(70)
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(pdf_document, "render_planned", crashing)
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(10)))
    out = tmp_path / "out"
    result = run([str(source)], out, bundle=tmp_path / "bundle.pdf")
    assert [r.ok for r in result.records] == [n != 3 for n in range(10)]
    assert [p.code for p in result.records[3].errors] == ["worker_crashed"]
    assert len(list(out.glob("*.pdf"))) == 9 and not list(out.glob(".*.part"))
    assert result.bundle is not None and result.bundle["records"] == 9
    assert result.bundle["pages"] == sum(r.pages or 0 for r in result.records)


def test_a_hung_record_and_a_killed_worker_fail_alone_and_nothing_runs_twice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 22.4: one record hangs (T-002), one's worker is killed mid-render (T-005). Both
    fail (worker_timeout, worker_crashed); every other record is rendered exactly once (no
    pool-wide restart re-running records that were fine), by the two first workers and the
    two that replaced the stopped ones, and neither failed record is run again."""
    real = pdf_document.render_planned
    log = tmp_path / "renders.log"

    def render(plan: Any, *args: Any, **kwargs: Any) -> Any:
        with log.open("a", encoding="utf-8") as stream:
            stream.write(f"{plan.applicant.ref} {os.getpid()}\n")
        if plan.applicant.ref == "T-002":
            time.sleep(3600)
        if plan.applicant.ref == "T-005":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(pdf_document, "render_planned", render)
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(12)))
    out = tmp_path / "out"
    result = run([str(source)], out, timeout=20)
    codes = [[p.code for p in r.errors] for r in result.records]
    assert codes == [["worker_timeout"] if n == 2 else ["worker_crashed"] if n == 5 else []
                     for n in range(12)]
    renders = [line.split() for line in log.read_text("utf-8").splitlines()]
    refs = sorted(ref for ref, _ in renders)
    assert refs == sorted(f"T-{n:03d}" for n in range(12))  # each once, the failed ones too
    assert len({pid for _, pid in renders}) <= 4
    assert sorted(p.name for p in out.glob("*.pdf")) == [
        f"T-{n:03d}.pdf" for n in range(12) if n not in (2, 5)]


def test_a_run_stopped_by_repeated_crashes_still_writes_its_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers that die on every record stop the run (exit 1), but only after the report
    lists every record read: the ones done, the crashes, and the rest as not done."""
    def crashing(plan: Any, *args: Any, **kwargs: Any) -> Any:
        os._exit(70)

    monkeypatch.setattr(pdf_document, "render_planned", crashing)
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(30)))
    report = tmp_path / "report.json"
    with pytest.raises(SheetgenError) as caught:
        run([str(source)], tmp_path / "out", report=report)
    assert caught.value.exit_code == ExitCode.INTERNAL
    manifest = json.loads(report.read_text("utf-8"))
    assert manifest["interrupted"] is True
    records = manifest["records"]
    assert [r["index"] for r in records] == list(range(1, len(records) + 1))
    assert all(not r["ok"] for r in records) and len(records) >= 8
    codes = {e["code"] for r in records for e in r["errors"]}
    assert codes <= {"worker_crashed", "interrupted"} and "worker_crashed" in codes


def test_bundle_has_every_page_an_outline_per_applicant_and_shared_resources(
        tmp_path: Path) -> None:
    from pypdf import PdfReader

    data = applicants(6, places=[("江西", "personal"), ("北京", "enterprise")])
    source = tmp_path / "in.json"
    source.write_text(json.dumps([*data[:3], broken(data[3]), *data[4:]], ensure_ascii=False))
    result = run([str(source)], tmp_path / "out", bundle=tmp_path / "all.pdf", copies=2)
    reader = PdfReader(tmp_path / "all.pdf")
    assert result.bundle is not None
    # Each record's own PDF: its cover once, its sheet twice (--copies 2); the bundle: all.
    assert [r.pages for r in result.records if r.ok] == [
        len(PdfReader(tmp_path / "out" / f"T-00{n}.pdf").pages) for n in (0, 1, 2, 4, 5)]
    assert len(reader.pages) == result.bundle["pages"] == sum(r.pages or 0 for r in result.records)
    outline = reader.outline
    tops = [item for item in outline if not isinstance(item, list)]
    assert len(tops) == 5 and tops[0].title == f"{data[0]['host']['name']}（T-000）"
    assert all(isinstance(item, list) and item[0].title == "备案材料清单"
               for item in outline[1::2])
    # One font program per font for the whole bundle, one background per layout page.
    font_files = set()
    backgrounds = set()
    for page in reader.pages:
        resources = page["/Resources"]
        for name, ref in resources["/XObject"].items():
            if name.startswith("/SgBg"):
                backgrounds.add(ref.idnum)
        for font in resources.get("/Font", {}).values():
            descendant = font.get_object().get("/DescendantFonts")
            if descendant:
                descriptor = descendant[0].get_object()["/FontDescriptor"]
                font_files.add(descriptor.raw_get("/FontFile2").idnum)
    # Two kinds of applicant: two covers (of one or two pages) and two sheet layouts.
    assert len(backgrounds) <= 6 < len(reader.pages)
    assert len(font_files) <= 4
    assert reader.pages[0].extract_text().count("备案材料清单") == 1


def test_password_never_written_anywhere(tmp_path: Path) -> None:
    from pypdf import PdfReader

    source = tmp_path / "in.jsonl"
    records = applicants(3)
    source.write_text(jsonl([*records, broken(records[0])]))
    out = tmp_path / "out"
    result = run_cli("batch", str(source), "-o", str(out), "--jobs", "2", "--json",
                     "--bundle", str(out / "all.pdf"), "--report", str(tmp_path / "r.json"))
    assert result.code == ExitCode.BATCH_PARTIAL, result.stderr
    needles = [SECRET.encode(), SECRET.encode("utf-16-be")]
    written = [p for p in [*out.rglob("*"), tmp_path / "r.json"] if p.is_file()]
    assert len(written) > 5
    for path in written:
        data = path.read_bytes()
        assert not any(n in data for n in needles), path
        if path.suffix == ".pdf":
            text = "".join(page.extract_text() for page in PdfReader(path).pages)
            assert "T-00" in text  # the text layer is there, and the password is not
            assert SECRET not in text, path
    assert SECRET not in result.text and SECRET not in result.stderr


# --- the command line ----------------------------------------------------------------------

def test_cli_examples_folder_then_stdin_with_exit_codes_0_and_6(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("batch", str(EXAMPLES), "-o", str(out), "--jobs", "2", "--json")
    manifest = json.loads(result.text)
    assert result.code == 0, result.stderr
    assert manifest["ok"] and manifest["summary"]["total"] == len(list(EXAMPLES.glob("*.json")))
    assert "ok: " in result.stderr
    lines = jsonl([applicants(1, prefix="S")[0], broken(applicants(2, prefix="S")[1])])
    result = run_cli("batch", "-", "-o", str(out), "--jobs", "2", "--report",
                     str(tmp_path / "r.json"), stdin=lines.encode())
    assert result.code == ExitCode.BATCH_PARTIAL
    assert result.stdout == b""  # the manifest goes to stdout only with --json
    report = json.loads((tmp_path / "r.json").read_text())
    assert [r["ok"] for r in report["records"]] == [True, False]
    assert "record 2 (<stdin> line 2) failed" in result.stderr
    assert "websites[0].manager.mobile" in result.stderr


@pytest.mark.parametrize(("args", "code", "fragment"), [
    (["no-such-input.json"], ExitCode.USAGE, "no such file"),
    ([str(EXAMPLES), "--format", "pdf,rtf"], ExitCode.USAGE, "unknown output format"),
    ([str(EXAMPLES), "--variant", "hainan"], ExitCode.USAGE, "unknown variant"),
    ([str(EXAMPLES), "--templates", "no-such-dir"], ExitCode.TEMPLATE_OR_FONT, "not found"),
    ([str(EXAMPLES), "--rules", "no-such.toml"], ExitCode.USAGE, "rules file"),
])
def test_failures_of_the_run_itself(args: list[str], code: ExitCode, fragment: str,
                                    tmp_path: Path) -> None:
    result = run_cli("batch", *args, "-o", str(tmp_path / "out"))
    assert result.code == code, result.stderr
    assert fragment in result.stderr
    assert not list((tmp_path / "out").glob("*.pdf")) if (tmp_path / "out").exists() else True


def test_malformed_source_date_epoch_stops_the_run_before_any_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every record would fail alike: a failure of the run (exit 2), as for `sheetgen fill`.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(SheetgenError) as info:
        run([str(EXAMPLES)], tmp_path / "out")
    assert info.value.exit_code == ExitCode.USAGE and "SOURCE_DATE_EPOCH" in info.value.message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["bundle", "report"])
def test_unwritable_bundle_or_report_stops_the_run_before_any_record(
        option: str, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SheetgenError) as info:  # written at the end: checked at the start
        run([str(EXAMPLES)], tmp_path / "out", **{option: tmp_path / "file" / "x.pdf"})
    assert info.value.exit_code == ExitCode.USAGE and "cannot write" in info.value.message
    assert not (tmp_path / "out").exists()


def test_bundle_or_report_that_would_overwrite_an_input_or_each_other_is_refused(
        tmp_path: Path) -> None:
    source = tmp_path / "in.json"
    source.write_text(jsonl(applicants(1)))
    before = source.read_bytes()
    for options in ({"report": source}, {"bundle": source},
                    {"bundle": tmp_path / "x", "report": tmp_path / "x"}):
        with pytest.raises(SheetgenError) as info:
            run([str(source)], tmp_path / "out", **options)
        assert info.value.exit_code == ExitCode.USAGE
    assert source.read_bytes() == before and not (tmp_path / "out").exists()


def test_bundle_that_fails_at_the_end_still_leaves_the_report(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = tmp_path / "all.pdf"

    def disk_full(self: AtomicFile) -> None:  # the bundle is written as it goes
        raise UsageError(f"cannot write {self.path}: No space left on device")

    monkeypatch.setattr(AtomicFile, "commit", disk_full)
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(2)))
    with pytest.raises(SheetgenError, match="No space left"):
        run([str(source)], tmp_path / "out", bundle=bundle, report=tmp_path / "r.json")
    manifest = json.loads((tmp_path / "r.json").read_text())
    assert [r["ok"] for r in manifest["records"]] == [True, True] and not manifest["ok"]
    assert manifest["bundle"]["written"] is False and "No space" in manifest["bundle"]["error"]
    assert not bundle.exists() and not list(tmp_path.glob(".all.pdf.*"))  # no partial file


def test_outdir_that_is_a_file_or_in_use_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert run_cli("batch", str(EXAMPLES), "-o", str(tmp_path / "file")).code == ExitCode.USAGE
    with locked(tmp_path / "busy"):
        result = run_cli("batch", str(EXAMPLES), "-o", str(tmp_path / "busy"))
    assert result.code == ExitCode.USAGE and "another sheetgen batch" in result.stderr


def test_broken_template_set_fails_the_run_early(tmp_path: Path) -> None:
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    sheet = templates / "public" / "sheet.html"
    sheet.write_text(sheet.read_text() + "{% if %}")
    result = run_cli("batch", str(EXAMPLES), "-o", str(tmp_path / "out"), "--templates",
                     str(templates))
    assert result.code == ExitCode.TEMPLATE_OR_FONT and "syntax error" in result.stderr


def _start(source: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "sheetgen", "batch", str(source), "-o", str(out), "--jobs", "2",
         *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _wait_for_outputs(out: Path, count: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.pdf"))) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_killed_batch_resumes_with_no_partial_or_duplicate_files(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(40)))
    out = tmp_path / "out"
    proc = _start(source, out)
    _wait_for_outputs(out, 3, proc)
    proc.kill()  # SIGKILL the parent only; its workers notice and exit
    proc.communicate()
    deadline = time.monotonic() + 10
    while not _group_gone(proc.pid):
        assert time.monotonic() < deadline, "orphaned workers are still running"
        time.sleep(0.05)
    done_before = len(list(out.glob("*.pdf")))
    assert 3 <= done_before < 40
    (out / ".T-039.pdf.stale.part").write_bytes(b"half a file")  # as a killed worker leaves
    result = run_cli("batch", str(source), "-o", str(out), "--jobs", "2", "--json")
    assert result.code == 0, result.stderr
    manifest = json.loads(result.text)
    assert manifest["summary"]["total"] == manifest["summary"]["ok"] == 40
    assert done_before - 2 <= manifest["summary"]["skipped"] <= done_before
    assert files(out) == sorted([f"T-{n:03d}.pdf" for n in range(40)]
                                + [f".sheetgen/T-{n:03d}.json" for n in range(40)]
                                + [".sheetgen/lock"])


def test_sigterm_stops_cleanly_reports_what_is_done_and_a_rerun_finishes(
        tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(40)))
    out = tmp_path / "out"
    report = tmp_path / "report.json"
    proc = _start(source, out, "--report", str(report), "--bundle", str(out / "all.pdf"))
    _wait_for_outputs(out, 2, proc)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.INTERRUPTED, stderr.decode()
    assert b"interrupted" in stderr
    manifest = json.loads(report.read_text())
    summary = manifest["summary"]
    assert manifest["interrupted"] and summary["total"] == summary["ok"] + summary["interrupted"]
    assert summary["ok"] == len(list(out.glob("T-*.pdf"))) and summary["total"] < 40 + 1
    assert not (out / "all.pdf").exists() and not list(out.rglob(".*.part"))
    result = run_cli("batch", str(source), "-o", str(out), "--jobs", "2", "--report",
                     str(report), "--bundle", str(out / "all.pdf"))
    assert result.code == 0, result.stderr
    assert json.loads(report.read_text())["summary"]["skipped"] == summary["ok"]
    assert len(list(out.glob("T-*.pdf"))) == 40 and (out / "all.pdf").exists()


def test_empty_input_is_an_empty_successful_batch(tmp_path: Path) -> None:
    result = run_cli("batch", "-", "-o", str(tmp_path / "out"), "--json", stdin=b"")
    assert result.code == 0
    assert json.loads(result.text)["summary"]["total"] == 0


def test_a_record_that_fails_in_one_format_writes_no_file(tmp_path: Path) -> None:
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(REPO / "templates", templates)
    (templates / "public" / "sheet.docx").unlink()  # the PDF renders, the Word file cannot
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(2, places=[("江西", "personal")])))
    out = tmp_path / "out"
    result = run([str(source)], out, formats=("pdf", "docx"), templates=templates)
    assert [[p.code for p in r.errors] for r in result.records] == [["template"]] * 2
    assert files(out) == [".sheetgen/lock"]


def test_word_files_alone_have_no_pages_but_a_fit_report(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(2)))
    first = run([str(source)], tmp_path / "out", formats=("docx",))
    assert [r.ok for r in first.records] == [True, True], first.records[0].errors
    record = first.records[0]
    assert record.pages is None and record.fit is not None and record.fit["fields"] > 10
    assert [o.path for o in record.outputs] == ["T-000-cover.docx", "T-000-sheet1.docx"]
    again = run([str(source)], tmp_path / "out", formats=("docx",))
    assert [r.skipped for r in again.records] == [True, True]


def test_docx_and_pdf_outputs_are_listed_hashed_and_kept_up_to_date(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(2)))
    out = tmp_path / "out"
    first = run([str(source)], out, formats=("pdf", "docx"))
    assert [[(o.path, o.format) for o in r.outputs] for r in first.records] == [
        [(f"T-00{n}.pdf", "pdf"), (f"T-00{n}-cover.docx", "docx"),
         (f"T-00{n}-sheet1.docx", "docx")] for n in (0, 1)]
    for output in first.records[1].outputs:
        assert hashlib.sha256((out / output.path).read_bytes()).hexdigest() == \
            output.sha256
    (out / "T-001-sheet1.docx").unlink()
    again = run([str(source)], out, formats=("pdf", "docx"))
    assert [r.skipped for r in again.records] == [True, False]
    assert (out / "T-001-sheet1.docx").exists()


def test_interrupted_records_do_not_hide_failures_on_stderr(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from sheetgen.cli.batch import SHOWN_FAILURES
    from sheetgen.errors import Problem

    def record(index: int, code: str) -> batch.RecordResult:
        return batch.RecordResult(index, "in.jsonl", {"line": index}, None, False,
                                  errors=(Problem("", code, f"{code} record"),))

    stopped = [record(n, "interrupted") for n in range(1, SHOWN_FAILURES + 1)]
    result = BatchResult(tmp_path, [*stopped, record(SHOWN_FAILURES + 1, "not_json")],
                         interrupted=True)
    monkeypatch.setattr(batch, "run_batch", lambda *args, **kwargs: result)
    result_ = run_cli("batch", "-", "-o", str(tmp_path))
    err = result_.stderr
    assert result_.code == ExitCode.INTERRUPTED
    assert f"record {SHOWN_FAILURES + 1} (in.jsonl line {SHOWN_FAILURES + 1}) failed" in err
    assert "interrupted record" not in err
