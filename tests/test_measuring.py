"""Measuring a run on worse photos in the background: the real process from start to result,
what refuses to start, and a measurement that ends without one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fer import cli, hardware, measuring, processes, robustness, runs, store
from fer.errors import FerError
from fer.paths import atomic_write_json

from .conftest import copy_run

DEAD_PID = 2**31 - 1  # within pid_t, above any pid_max: no process has it


def wait_until_measured(run_id: str, timeout_s: float = 600) -> list[float]:
    """The fractions seen while run ``run_id`` was measured, until it no longer is."""
    seen: list[float] = []
    deadline = time.monotonic() + timeout_s
    while (now := measuring.progress(run_id)) is not None:
        assert now.error is None, now.error
        seen.append(now.fraction)
        assert time.monotonic() < deadline, f"still measuring after {timeout_s} s"
        time.sleep(0.5)
    return seen


def test_a_run_is_measured_in_its_own_process_and_keeps_the_result(finished_run: str) -> None:
    run = runs.get_run(finished_run)
    before = run.metrics()
    measuring.start(finished_run)
    assert measuring.progress(finished_run) is not None  # under way at once, before the process has said anything
    with pytest.raises(FerError, match=r"is being measured already \(\d+%\)"):
        measuring.start(finished_run)  # a second click starts nothing
    with pytest.raises(FerError, match="is being measured on worse photos: delete it once that has ended"):
        runs.delete(finished_run)
    seen = wait_until_measured(finished_run)
    assert seen == sorted(seen)  # progress only goes forward
    after = runs.get_run(finished_run).metrics()
    measured = robustness.stored(after)
    assert measured is not None and list(measured.conditions) == list(robustness.degradations())[1:]
    assert measured.tta == run.config.tta and next(iter(measured.conditions.values())).n == before["test_images"]
    assert {key: value for key, value in after.items() if key != robustness.KEY} == before  # nothing else changed
    assert not (run.path / store.MEASURING_PID).exists() and not (run.path / store.MEASURING_PROGRESS).exists()
    assert (run.path / store.MEASURING_LOG).exists()


def test_only_a_local_completed_run_with_its_model_starts(
    finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(processes, "spawn", lambda *args: pytest.fail("nothing may start"))
    failed = copy_run(finished_run, "failed")
    atomic_write_json(runs.get_run(failed).path / "status.json", {**runs.get_run(failed).status, "state": "failed"})
    without_model = copy_run(finished_run, "nomodel")
    runs.get_run(without_model).model_path.unlink()
    monkeypatch.setenv("FER_REFERENCE", str(tmp_path / "reference"))
    shipped = runs.get_run(copy_run(finished_run, "shipped"))
    reference = store.export_reference(shipped, store.reference_dir(), include_model=True).name
    runs.delete(reference)  # so the name finds the reference run only
    assert runs.get_run(reference).reference
    for run_id, refusal in (
        (failed, "has not completed with results"),
        (without_model, "kept no model file"),
        (reference, f"is committed with the project: `python -m fer robustness {reference}` measures it"),
        ("no-such-run", "no run named 'no-such-run'"),
    ):
        with pytest.raises(FerError, match=refusal):
            measuring.start(run_id)
    assert all(measuring.progress(run_id) is None for run_id in (failed, without_model))


def test_a_measurement_that_cannot_finish_says_why_and_changes_nothing(finished_run: str) -> None:
    elsewhere = copy_run(finished_run, "other", metrics={"test_set": "0" * 16})  # scored on other test faces
    before = runs.get_run(elsewhere).metrics()
    assert measuring.main([elsewhere]) == 1
    stopped = measuring.progress(elsewhere)
    assert stopped is not None and "are not the ones" in stopped.error and stopped.fraction == 0
    assert runs.get_run(elsewhere).metrics() == before
    assert not (runs.get_run(elsewhere).path / store.MEASURING_PID).exists()
    assert measuring.main([]) == 2


def test_a_measurement_whose_process_is_gone_reads_as_stopped(finished_run: str) -> None:
    path = runs.get_run(finished_run).path
    started = {"fraction": 0.4, "message": "JPEG quality 10: classifying 296 faces (flip TTA)", "started_at": store.now(), "error": None}
    atomic_write_json(path / store.MEASURING_PROGRESS, started)
    atomic_write_json(path / store.MEASURING_PID, {"pid": os.getpid(), "start": processes.process_start(os.getpid())})
    assert measuring.progress(finished_run) == measuring.Measuring(0.4, started["message"], started["started_at"])
    atomic_write_json(path / store.MEASURING_PID, {"pid": DEAD_PID, "start": "1"})  # killed, or the machine restarted
    stopped = measuring.progress(finished_run)
    assert stopped.error == f"its process ended without a result, at 40% (see {store.MEASURING_LOG} in the run's folder)"
    # A pid file not written yet: under way for a minute after the start, then gone.
    (path / store.MEASURING_PID).unlink()
    assert measuring.progress(finished_run).error is None
    atomic_write_json(path / store.MEASURING_PROGRESS, {**started, "started_at": "2026-01-01T00:00:00+00:00"})
    assert "ended without a result" in measuring.progress(finished_run).error
    for damaged in ("{", json.dumps({**started, "fraction": "most"}), json.dumps({**started, "started_at": "noon"})):
        (path / store.MEASURING_PROGRESS).write_text(damaged)
        assert "is damaged: start it again" in measuring.progress(finished_run).error


def wait_for_progress(run_id: str, condition: Callable[[measuring.Measuring], bool], timeout_s: float = 120) -> measuring.Measuring:
    """Run ``run_id``'s measurement progress, once ``condition`` holds for it."""
    deadline = time.monotonic() + timeout_s
    while (now := measuring.progress(run_id)) is None or not condition(now):
        assert now is None or now.error is None, now.error
        assert time.monotonic() < deadline, f"the measurement never got there: {now}"
        time.sleep(0.3)
    return now


def wait_until_gone(run_id: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while measuring.progress(run_id) is not None:
        assert time.monotonic() < deadline, "the cancelled measurement is still there"
        time.sleep(0.3)


def test_a_measurement_waits_for_training_and_can_be_cancelled_waiting_or_measuring(
    finished_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = runs.get_run(finished_run)
    before = run.metrics()
    queued = runs.create_run(run.config)  # a training run waiting for its turn (its worker not started yet)
    measuring.start(finished_run)
    waiting = wait_for_progress(finished_run, lambda now: now.waiting and "turn" in now.message)
    assert waiting.message == "waiting for its turn: training runs queued go first" and waiting.fraction == 0
    assert cli.main(["runs"]) == 0  # listed with the runs whose queue it shares
    assert (f"Run {finished_run} waits to be measured on worse photos: waiting for its turn: training runs queued go "
            "first") in capsys.readouterr().out.splitlines()
    with runs.hold_slots(1, "run 1234 (a test holding the slot)", turn=lambda: True, behind="-"):
        store.write_status(queued.path, state="cancelled")  # no longer in line: the slot is what it waits for now
        waiting = wait_for_progress(finished_run, lambda now: "slot" in now.message)
        assert waiting.waiting and waiting.message == "waiting for a free slot (held by run 1234 (a test holding the slot))"
        measuring.cancel(finished_run)
        wait_until_gone(finished_run)
    with pytest.raises(FerError, match=f"run {finished_run} is not being measured on worse photos"):
        measuring.cancel(finished_run)
    # Cancelled while measuring: nothing is kept, and the slot is free again.
    measuring.start(finished_run)
    wait_for_progress(finished_run, lambda now: not now.waiting and "classifying" in now.message)
    measuring.cancel(finished_run)
    wait_until_gone(finished_run)
    assert runs.get_run(finished_run).metrics() == before and not (run.path / store.ROBUSTNESS_ANSWERS).exists()
    assert not (run.path / store.MEASURING_PID).exists()
    assert (run.path / store.MEASURING_LOG).read_text().count("cancelled: nothing kept") == 2
    with runs.hold_slots(1, "a test", turn=lambda: True, behind="-") as slots:
        assert slots == [0]


def test_a_training_run_queued_while_a_measurement_holds_the_slot_waits_and_says_why(finished_run: str) -> None:
    waiting = runs.create_run(runs.get_run(finished_run).config)
    got: list[list[int] | None] = []

    def queue() -> None:  # what the run's worker does first
        with runs.queue_slots(waiting.path) as slots:
            got.append(slots)

    with runs.hold_slots(1, f"measuring run {finished_run} on worse photos", turn=lambda: True, behind="-"):
        worker = threading.Thread(target=queue)
        worker.start()
        deadline = time.monotonic() + 30
        while "held by" not in (message := runs.get_run(waiting.run_id).status.get("message") or ""):
            assert time.monotonic() < deadline, message
            time.sleep(0.2)
        assert message == f"waiting for a free slot (held by measuring run {finished_run} on worse photos)"
        runs.cancel(waiting.run_id)
        worker.join(timeout=30)
    assert got == [None]  # cancelled while it waited: it never trained beside the measurement


def test_a_measurement_sees_only_its_slots_gpu(finished_run: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def two_gpus() -> tuple[str, ...]:
        return ("GPU 0", "GPU 1")

    monkeypatch.setattr(runs, "gpu_names", two_gpus)
    monkeypatch.setattr(hardware, "gpu_names", two_gpus)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)  # and restored after the test
    with runs.hold_slots(1, "a training run", turn=lambda: True, behind="-"):  # GPU 0 is taken
        with measuring.slot(finished_run, waiting=pytest.fail):
            assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"


def test_a_measurement_cancelled_before_it_could_answer_reads_as_cancelled_not_crashed(finished_run: str) -> None:
    """SIGTERM kills a process still importing Keras outright (its handler not yet set): the
    progress file, marked by the cancel before the signal, then reads as no measurement."""
    path = runs.get_run(finished_run).path
    importing = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        processes.write_pid(path / store.MEASURING_PID, importing.pid)
        atomic_write_json(path / store.MEASURING_PROGRESS,
                          {"fraction": 0.0, "message": "starting", "started_at": store.now(), "error": None})
        measuring.cancel(finished_run)
        assert importing.wait(timeout=30) == -signal.SIGTERM
    finally:
        importing.kill()
    assert measuring.progress(finished_run) is None
    measuring.start(finished_run)  # and it can be measured again
    measuring.cancel(finished_run)
    wait_until_gone(finished_run)
