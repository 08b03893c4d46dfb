"""The worker pool (issue 22 item 4, issue 26 item 6): a hung task stops only its worker, a
crashed worker is replaced and its task reported (never run again), a worker found dead before
a task is handed over is replaced first, and the pool's counts say only what is alive.

Toy tasks, on ``fork`` workers and on the pool's own fork server (its default); the batch and
serve tests use the real handlers.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from sheetgen.workers import (
    ForkServer,
    Pool,
    PoolClosed,
    StartMethod,
    WorkerCrashed,
    WorkerTimeout,
    cpu_count,
)
from tests.test_leaks import children

FORK = multiprocessing.get_context("fork")
STARTS = [pytest.param(FORK, id="fork"), pytest.param(ForkServer(), id="forkserver")]


def _task(spec: tuple[str, Any, str]) -> tuple[int, Any]:
    """Log the task to its file (how many times it ran), then do what it says."""
    action, value, log = spec
    with Path(log).open("a", encoding="utf-8") as stream:
        stream.write(f"{os.getpid()}\n")
    if action == "hang":
        time.sleep(3600)
    elif action == "sleep":
        time.sleep(1)
    elif action == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "raise":
        raise ValueError(value)
    return os.getpid(), value


def _until(predicate: Any, deadline: float = 60) -> None:
    end = time.monotonic() + deadline
    while not predicate():
        assert time.monotonic() < end, "gave up waiting"
        time.sleep(0.02)


@pytest.mark.parametrize("start", STARTS)
def test_a_hung_task_and_a_killed_worker_fail_alone(tmp_path: Path, start: StartMethod) -> None:
    before = children()
    pool = Pool(2, _task, context=start)
    specs = [("hang" if n == 3 else "die" if n == 6 else "ok", n, str(tmp_path / f"{n}.log"))
             for n in range(12)]
    futures = [pool.submit(spec, timeout=3) for spec in specs]
    outcomes: list[Any] = []
    for future in futures:
        try:
            outcomes.append(future.result(timeout=120)[1])
        except (WorkerTimeout, WorkerCrashed) as exc:
            outcomes.append(type(exc).__name__)
    stats = pool.stats()
    pool.close()
    assert outcomes == [n if n not in (3, 6) else
                        "WorkerTimeout" if n == 3 else "WorkerCrashed" for n in range(12)]
    # Every task ran exactly once: the crashed one too is not run again.
    assert all(len((tmp_path / f"{n}.log").read_text().split()) == 1 for n in range(12))
    # Only the two workers were replaced: no pool-wide restart.
    assert stats["replaced"] == 2 and stats["timed_out"] == 1 and stats["crashed"] == 1
    assert stats["served"] == 10
    assert children() <= before


def test_a_fork_server_worker_killed_on_a_task_reports_its_signal(tmp_path: Path) -> None:
    pool = Pool(1, _task, context=ForkServer())
    try:
        with pytest.raises(WorkerCrashed) as caught:
            pool.submit(("die", 1, str(tmp_path / "log")), timeout=30).result(timeout=60)
        assert caught.value.exitcode == -signal.SIGKILL and caught.value.started
        pid, _ = pool.submit(("ok", 2, str(tmp_path / "log")), timeout=30).result(timeout=60)
        assert pool.pids() == [pid]
    finally:
        pool.close()


@pytest.mark.parametrize("start", STARTS)
def test_workers_killed_while_idle_are_replaced_before_a_task_is_handed_over(
        tmp_path: Path, start: StartMethod) -> None:
    pool = Pool(2, _task, context=start)
    try:
        pool.start()
        _until(lambda: pool.stats()["idle"] == 2)
        pids = pool.pids()
        assert len(pids) == 2
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        # Seen at once: no dead worker is counted as idle.
        _until(lambda: pool.stats()["idle"] < 2, deadline=5)
        log = str(tmp_path / "log")
        results = [pool.submit(("ok", n, log), timeout=30).result(timeout=60) for n in range(2)]
        assert [value for _, value in results] == [0, 1]
        assert not {pid for pid, _ in results} & set(pids)
        assert pool.stats()["crashed"] == 0
        _until(lambda: pool.stats()["idle"] == 2)
    finally:
        pool.close()


@pytest.mark.parametrize("start", STARTS)
def test_a_task_that_raises_fails_and_its_worker_goes_on(tmp_path: Path,
                                                         start: StartMethod) -> None:
    pool = Pool(1, _task, context=start)
    try:
        log = str(tmp_path / "log")
        with pytest.raises(ValueError, match="bad"):
            pool.submit(("raise", "bad", log), timeout=30).result(timeout=60)
        pid, _ = pool.submit(("ok", 1, log), timeout=30).result(timeout=60)
        assert pool.stats()["replaced"] == 0
        assert pool.pids() == [pid]
    finally:
        pool.close()


def test_close_with_cancel_lets_the_running_task_finish_and_cancels_the_queued(
        tmp_path: Path) -> None:
    pool = Pool(1, _task, context=FORK)
    slow = pool.submit(("sleep", "first", str(tmp_path / "a")), timeout=30)
    _until(slow.running)
    queued = [pool.submit(("ok", n, str(tmp_path / f"q{n}")), timeout=30) for n in range(3)]
    pool.close(cancel=True)
    assert slow.result()[1] == "first"
    assert all(f.cancelled() for f in queued)
    with pytest.raises(PoolClosed):
        pool.submit(("ok", 1, str(tmp_path / "late")), timeout=30).result()


@pytest.mark.parametrize("start", STARTS)
def test_an_initializer_that_fails_fails_the_task_not_the_caller(tmp_path: Path,
                                                                start: StartMethod) -> None:
    pool = Pool(1, _task, initializer=os._exit, initargs=(3,), context=start)
    try:
        with pytest.raises(WorkerCrashed) as caught:
            pool.submit(("ok", 1, str(tmp_path / "log")), timeout=30).result(timeout=60)
        assert not caught.value.started
        assert not (tmp_path / "log").exists()
    finally:
        pool.close()


def test_one_cpu_count() -> None:
    from sheetgen.serve.config import default_workers

    assert cpu_count() >= 1 and default_workers() == cpu_count()


def test_a_worker_that_cannot_even_be_started_fails_the_task_and_the_pool_goes_on(
        tmp_path: Path) -> None:
    class Broken:  # a start method whose Process cannot start
        def Pipe(self) -> Any:
            return FORK.Pipe()

        def Process(self, **kwargs: Any) -> Any:
            raise OSError("no more processes")

    pool = Pool(1, _task, context=Broken())  # type: ignore[arg-type]
    try:
        with pytest.raises(WorkerCrashed):
            pool.submit(("ok", 1, str(tmp_path / "log")), timeout=30).result(timeout=60)
    finally:
        pool.close()
