"""Measuring a run on worse photos (:func:`fer.robustness.measure_run`) in a process of its own,
``python -m fer.measuring RUN_ID``, so that the dashboard goes on while it takes its minutes
(11 for the default model on a 2-core CPU).

A measurement takes a slot of the run queue as a training run does (:func:`slot`), so the two
never share the CPU: training runs queued go first, and a run queued while a measurement holds the
slot waits for it. While it waits or measures, the run's folder holds ``robustness.progress.json``
(how far, what now, since when) and ``robustness.pid.json``; its output goes to
``robustness.log``. A failure leaves its error in the progress file for the page to show;
:func:`cancel` stops it, keeping nothing. The result lands in ``metrics.json`` as from
``python -m fer robustness``, written once whole, so a crash or a killed process loses nothing the
run had. Asking after a measurement reads two small files: the page does it as it draws.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from fer import processes, runs, store
from fer.errors import FerError
from fer.hardware import see_only_gpus
from fer.paths import atomic_write_json, read_json
from fer.robustness import check_measurable, measure_run
from fer.store import Run

PROGRESS, PID, LOG = store.MEASURING_PROGRESS, store.MEASURING_PID, store.MEASURING_LOG


@dataclass(frozen=True)
class Measuring:
    """A measurement waiting for its slot or under way (``error`` None), or how the last one
    ended without a result. ``started_at``: since when it waits, then since when it measures."""

    fraction: float
    message: str
    started_at: str
    error: str | None = None
    waiting: bool = False

    def elapsed_seconds(self) -> float:
        return (datetime.now(UTC) - datetime.fromisoformat(self.started_at)).total_seconds()

    def doing(self) -> str:
        """What it does, said after a run's name (the Train page and ``python -m fer runs``)."""
        if self.waiting:
            return f"waits to be measured on worse photos: {self.message}"
        return f"is being measured on worse photos, {self.fraction:.0%}: {self.message}"


def start(run_id: str) -> None:
    """Measure run ``run_id`` in the background.

    Raises FerError, before anything starts, for a run that can't be measured (not completed
    with results, no model file), a committed reference run (``python -m fer robustness`` changes
    its files on purpose; the dashboard never does), and a run already being measured. The check
    and the start are one step under the run's lock, so two clicks start one process.
    """
    run = runs.get_run(run_id)
    if run.reference:
        raise FerError(f"{run.display_name} is committed with the project: `python -m fer robustness {run_id}` measures it")
    check_measurable(run)
    with _locked(run.path):
        if (now := progress(run_id)) is not None and now.error is None:
            raise FerError(f"{run.display_name} is being measured already ({now.fraction:.0%})")
        _report(run.path, 0.0, "starting", store.now())
        processes.spawn("fer.measuring", [run_id], run.path / LOG, run.path / PID)


def cancel(run_id: str) -> None:
    """Stop run ``run_id``'s measurement, waiting or under way: it ends within a batch of faces
    and keeps nothing (the run's metrics stay as they were). Raises FerError when none runs."""
    path = store.run_path(run_id)
    with _locked(path):
        if (now := progress(run_id)) is None or now.error is not None:
            raise FerError(f"run {run_id} is not being measured on worse photos")
        # Said before the signal: a process still importing dies of it without a word, and its
        # progress file must then read as cancelled, not as a measurement that crashed.
        _report(path, now.fraction, "cancelling", now.started_at, waiting=now.waiting, cancelled=True)
        processes.terminate(path / PID)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """The run's measurement lock: a start's check and spawn, or a cancel, as one step (two
    clicks start one process; a cancel never falls between a start's progress file and its pid)."""
    with open(path / ".robustness.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@contextmanager
def slot(run_id: str, waiting: Callable[[str], None]) -> Iterator[None]:
    """Hold a slot of the run queue (:func:`fer.runs.hold_slots`) while the block measures run
    ``run_id``: training runs queued go first, and one queued meanwhile waits until the block
    ends. ``waiting(why)`` hears why it waits. On a GPU machine, the process then sees only the
    slot's GPU: call it before the backend starts."""
    with runs.hold_slots(
        1, f"measuring run {run_id} on worse photos", turn=runs.nothing_queued, behind="training runs queued", waiting=waiting
    ) as slots:
        see_only_gpus(slots or [])
        yield


def progress(run_id: str) -> Measuring | None:
    """How run ``run_id`` is being measured: None when it is not (never, it finished: the result
    is in its metrics, or it was cancelled). A measurement whose process is gone without a result
    (killed, the machine restarted) reads as ended with that error."""
    path = store.run_path(run_id)
    try:
        kept = read_json(path / PROGRESS)
        measuring = Measuring(float(kept["fraction"]), str(kept["message"]), str(kept["started_at"]), kept.get("error"),
                              kept.get("waiting") is True)
        measuring.elapsed_seconds()  # a start that is no ISO time with a zone is damage
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return Measuring(0.0, "", store.now(), f"its progress file ({PROGRESS}) is damaged: start it again")
    if measuring.error is not None:
        return measuring
    alive = processes.recorded_alive(path / PID)
    if alive is False or (alive is None and measuring.elapsed_seconds() > processes.PID_GRACE_S):
        if kept.get("cancelled") is True:
            return None
        return Measuring(measuring.fraction, measuring.message, measuring.started_at,
                         f"its process ended without a result, at {measuring.fraction:.0%} (see {LOG} in the run's folder)")
    return measuring


def under_way(listed: Iterable[Run]) -> dict[str, Measuring]:
    """The measurements of the ``listed`` runs that wait for a slot or measure, by run id: the
    Train page lists them beside the training runs, as they share the queue."""
    return {
        run.run_id: now
        for run in listed
        if (run.path / PROGRESS).exists() and (now := progress(run.run_id)) is not None and now.error is None
    }


def _report(
    path: Path,
    fraction: float,
    message: str,
    started_at: str,
    error: str | None = None,
    waiting: bool = False,
    cancelled: bool = False,
) -> None:
    atomic_write_json(
        path / PROGRESS,
        {"fraction": fraction, "message": message, "started_at": started_at, "error": error, "waiting": waiting,
         "cancelled": cancelled},
    )


class Cancelled(Exception):
    """SIGTERM (:func:`cancel`) reached the measuring process."""


@contextmanager
def _cancellable() -> Iterator[None]:
    """SIGTERM raises :class:`Cancelled` while the block runs, so that a cancel ends the
    measurement through its ``except`` (files tidied) rather than killing it mid-write; the
    handler before it is restored after (tests call :func:`main` in their own process)."""

    def cancelled(signum: int, frame: FrameType | None) -> None:
        raise Cancelled

    previous = signal.signal(signal.SIGTERM, cancelled)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """The background process: wait for a slot, measure the run, its progress in :data:`PROGRESS`;
    exit 0 once the result is in its metrics or it was cancelled, 1 with the error recorded for
    the page."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m fer.measuring RUN_ID", file=sys.stderr)
        return 2
    path = store.run_path(args[0])
    started_at, done = store.now(), 0.0

    def waiting(why: str) -> None:
        _report(path, 0.0, why, started_at, waiting=True)

    def report(fraction: float, message: str) -> None:
        nonlocal done
        done = fraction
        _report(path, fraction, message, started_at)

    processes.write_pid(path / PID, os.getpid())  # as spawn did; also when started by hand
    try:
        waiting("waiting for a free slot")
        with _cancellable(), slot(args[0], waiting):
            started_at = store.now()  # the time left is reckoned from here, not from the wait
            report(0.0, "starting")
            measure_run(store.read_run(path), report)
    except Cancelled:
        (path / PROGRESS).unlink(missing_ok=True)
        print("cancelled: nothing kept", file=sys.stderr)
    except FerError as error:  # the run can't be measured (any more): said, no traceback
        _report(path, done, "stopped", started_at, str(error))
        print(error, file=sys.stderr)
        return 1
    except Exception as error:  # recorded for the page; the traceback goes to the log
        _report(path, done, "stopped", started_at, f"{type(error).__name__}: {error}")
        raise
    else:
        (path / PROGRESS).unlink(missing_ok=True)
    finally:
        (path / PID).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
