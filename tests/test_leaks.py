"""Leaks and hangs (issue 15): nothing left in the temp folder after any run, killed or not;
no input or worker that hangs a batch; no helper process outliving it.

The CLI runs get a temp folder of their own (``TMPDIR``) and no layout cache, so WeasyPrint
runs (it is what copies the fonts into the temp folder) and only their own leftovers count.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import sheetgen.rendering.pdf.document as pdf_document
from sheetgen import scratch
from sheetgen.batch import BatchOptions, run_batch
from tests.applicants import SECRET
from tests.conftest import REPO, run_cli
from tests.test_batch import FORK, applicants, jsonl


def _env(tmp: Path) -> dict[str, str]:
    tmp.mkdir(exist_ok=True)
    # These runs must compile their layouts (WeasyPrint's font copies are what could leak):
    # no cache, and not the precompiled layouts shipped in the package either.
    return {**os.environ, "TMPDIR": str(tmp), "SHEETGEN_CACHE_DIR": "off",
            "SHEETGEN_PRECOMPILED": "off"}


def children() -> set[int]:
    """The pids of this process's living children (zombies excepted)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == os.getpid() and fields[0] != "Z":
                found.add(int(entry.name))
    return found


def _wait_for(predicate: Any, what: str, deadline: float = 300) -> None:
    """Poll until ``predicate()`` holds; a generous deadline only stops a broken test."""
    end = time.monotonic() + deadline
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_a_batch_whose_workers_compile_layouts_leaves_nothing_in_the_temp_folder(
        tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(4)), encoding="utf-8")
    tmp = tmp_path / "tmp"
    result = run_cli("batch", str(source), "-o", str(tmp_path / "out"), "--jobs", "2",
                     env=_env(tmp))
    assert result.code == 0, result.stderr
    assert sorted(tmp.iterdir()) == []


def test_a_sigterm_during_fill_leaves_nothing_in_the_temp_folder(tmp_path: Path) -> None:
    source = tmp_path / "me.json"
    source.write_text(json.dumps(applicants(1)[0], ensure_ascii=False), encoding="utf-8")
    tmp = tmp_path / "tmp"
    process = subprocess.Popen(
        [sys.executable, "-m", "sheetgen", "fill", str(source), "-o", str(tmp_path / "o.pdf")],
        env=_env(tmp), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # Stop it while WeasyPrint has its font copies in the temp folder.
        _wait_for(lambda: any(tmp.glob(f"{scratch.PREFIX}*/weasyprint-fonts/*"))
                  or process.poll() is not None, "the font copies")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=300)
    finally:
        process.kill()
    if process.returncode == 0:
        pytest.skip("fill finished before the signal arrived")
    assert process.returncode == 130, stderr
    assert b"interrupted" in stderr and b"Traceback" not in stderr and SECRET.encode() not in stderr
    assert sorted(tmp.iterdir()) == []
    assert not list(tmp_path.glob(".*.part"))


def test_an_interrupted_command_exits_with_130_under_python_m() -> None:
    # Not -2 (SIGINT), which CPython would use after a KeyboardInterrupt left exec'd code.
    done = subprocess.run([sys.executable, "-m", "tests.interrupted_main"], cwd=REPO,
                          check=False)
    assert done.returncode == 130


def _leave_folder(tmp: Path, how: str) -> Path:
    """A scratch folder of a process that died without removing it (os._exit or SIGKILL)."""
    code = ("import os, signal\nfrom sheetgen import scratch\nprint(scratch.folder())\n"
            + ("os._exit(0)" if how == "exit" else "os.kill(os.getpid(), signal.SIGKILL)"))
    done = subprocess.run([sys.executable, "-c", code], env=_env(tmp), capture_output=True,
                          check=False)
    left = Path(done.stdout.decode().strip())
    assert left.parent == tmp and left.is_dir()
    return left


def test_the_next_run_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    _leave_folder(tmp, "kill")
    source = tmp_path / "me.json"
    source.write_text(json.dumps(applicants(1)[0], ensure_ascii=False), encoding="utf-8")
    result = run_cli("fill", str(source), "-o", str(tmp_path / "o.pdf"), env=_env(tmp))
    assert result.code == 0, result.stderr
    assert sorted(tmp.iterdir()) == []


def test_sweep_removes_only_dead_processes_folders_of_this_user(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # A living process's folder: its lock is held.
    alive = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom sheetgen import scratch\n"
                               "print(scratch.folder(), flush=True)\ntime.sleep(600)"],
        env=_env(tmp), stdout=subprocess.PIPE)
    try:
        assert alive.stdout is not None
        living = Path(alive.stdout.readline().decode().strip())
        dead = _leave_folder(tmp, "exit")  # (making it sweeps too: the living one stays)
        assert living.is_dir()
        # A folder being made (no lock file yet), and folders of other names.
        fresh = tmp / f"{scratch.PREFIX}1-new"
        fresh.mkdir()
        other = tmp / "weasyprint-abc"
        other.mkdir()
        foreign = tmp / "sheetgen-test-cache-x"
        foreign.mkdir()
        removed = scratch.sweep(tmp)
        assert removed == [dead]
        assert living.is_dir() and fresh.is_dir() and other.is_dir() and foreign.is_dir()
        # A lock-less folder is taken for dead once it is old.
        old = time.time() - scratch.UNLOCKED_GRACE - 5
        os.utime(fresh, (old, old))
        assert scratch.sweep(tmp) == [fresh]
        if os.getuid() == 0:  # someone else's dead folder is not ours to remove
            theirs = _leave_folder(tmp / "t2", "exit")
            os.chown(theirs, 65534, 65534)
            assert scratch.sweep(theirs.parent) == [] and theirs.is_dir()
    finally:
        alive.kill()
        alive.wait()
        if alive.stdout is not None:
            alive.stdout.close()
    assert scratch.sweep(tmp) == [living]


def test_scratch_folder_is_per_process_and_removed_by_cleanup(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.setattr(scratch.tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(scratch, "_current", None)
    path = scratch.subfolder("fonts")
    assert path.parent.parent == tmp_path and scratch.folder() == path.parent
    pid = os.fork()
    if pid == 0:  # a forked child makes its own, and its cleanup leaves the parent's
        child = scratch.folder()
        scratch.cleanup()
        os._exit(0 if child != path.parent and path.is_dir() and not child.exists() else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert path.is_dir()
    scratch.cleanup()
    assert not path.parent.exists() and list(tmp_path.iterdir()) == []


# --- hangs -----------------------------------------------------------------------------------

def _hang_on(ref: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the (forked) workers hang, not crash, while rendering ``ref``."""
    real = pdf_document.render_planned

    def render(plan: Any, *args: Any, **kwargs: Any) -> Any:
        if plan.applicant.ref == ref:
            time.sleep(3600)
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(pdf_document, "render_planned", render)


def test_a_hung_worker_times_out_and_the_batch_goes_on(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    records = applicants(6)
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(records), encoding="utf-8")
    _hang_on("T-002", monkeypatch)
    before = children()
    # Generous: the other records must finish well within it on a loaded machine (only the
    # time a record runs in its worker counts, not the pool's start).
    result = run_batch([str(source)], BatchOptions(outdir=tmp_path / "out", jobs=2, timeout=45),
                       mp_context=FORK)
    assert [r.ok for r in result.records] == [True, True, False, True, True, True]
    [problem] = result.records[2].errors
    assert problem.code == "worker_timeout" and "--timeout" in problem.message
    assert sorted(p.name for p in (tmp_path / "out").glob("*.pdf")) == [
        f"T-00{n}.pdf" for n in (0, 1, 3, 4, 5)]
    assert children() <= before  # the hung worker was killed, not left behind


def test_batch_timeout_is_a_cli_option(tmp_path: Path) -> None:
    result = run_cli("batch", str(tmp_path), "-o", str(tmp_path / "out"), "--timeout", "-1",
                     "--json")
    assert result.code == 2 and json.loads(result.text)["ok"] is False
    assert "--timeout must be a number of seconds above 0" in result.stderr


def test_a_fifo_in_an_input_folder_does_not_block_batch(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(applicants(1)[0], ensure_ascii=False),
                                   encoding="utf-8")
    os.mkfifo(folder / "b.json")
    result = run_cli("batch", str(folder), "-o", str(tmp_path / "out"), "--json",
                     env=_env(tmp_path / "tmp"))
    manifest = json.loads(result.text)
    assert result.code == 6, result.stderr
    assert [(Path(r["source"]).name, r["ok"]) for r in manifest["records"]] == [
        ("a.json", True), ("b.json", False)]
    assert manifest["records"][1]["errors"][0]["code"] == "unreadable"


def test_batch_stops_the_forkserver_and_resource_tracker_it_started(tmp_path: Path) -> None:
    """Run in a fresh interpreter: this test process may already use a forkserver."""
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(2)), encoding="utf-8")
    code = f"""
import os
from pathlib import Path
from sheetgen.batch import BatchOptions, run_batch

def children():
    me, found = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{{entry}}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == me and fields[0] != "Z":
                found.append(entry)
    return found

if __name__ == "__main__":
    result = run_batch([{str(source)!r}], BatchOptions(outdir=Path({str(tmp_path / 'out')!r}),
                                                       jobs=2))
    assert result.ok
    print(len(children()))
"""
    script = tmp_path / "run.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], env=_env(tmp_path / "tmp"),
                          capture_output=True, check=False, timeout=600)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == "0"
    assert sorted((tmp_path / "tmp").iterdir()) == []


def test_a_long_lived_caller_keeps_no_helper_process_of_a_pool_or_a_batch(tmp_path: Path) -> None:
    """A server (or the desk, or a test session) runs pools and batches one after another:
    once each has ended, no process of its own is left, not even the fork server and the
    resource tracker multiprocessing would keep for the interpreter's life. Counted over the
    caller's whole session (its workers are not its children: the fork server's)."""
    source = tmp_path / "in.jsonl"
    source.write_text(jsonl(applicants(2)), encoding="utf-8")
    code = f"""
import os
from pathlib import Path
from sheetgen.batch import BatchOptions, run_batch
from sheetgen.workers import Pool

def others():
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if os.getsid(int(entry)) == os.getsid(0):
                    found.append(entry)
            except OSError:
                continue
    return found

if __name__ == "__main__":
    counts = []
    for n in range(2):
        pool = Pool(2, abs)
        assert [pool.submit(-i, timeout=60).result() for i in range(4)] == [0, 1, 2, 3]
        assert others()  # the pool's fork server and workers run meanwhile
        pool.close()
        counts.append(len(others()))
        result = run_batch([{str(source)!r}],
                           BatchOptions(outdir=Path({str(tmp_path)!r}) / f"out{{n}}", jobs=2))
        assert result.ok
        counts.append(len(others()))
    print(counts)
"""
    script = tmp_path / "run.py"
    script.write_text(code, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], env=_env(tmp_path / "tmp"),
                          capture_output=True, check=False, timeout=600, start_new_session=True)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode().strip() == "[0, 0, 0, 0]"
    assert sorted((tmp_path / "tmp").iterdir()) == []
