"""Supervising training runs: create, queue, launch, watch, cancel, resume and delete them.

Runs live on disk (:mod:`fer.store`); this module decides when and where they train. A
background run is its own OS process (``python -m fer.worker RUN_ID``, in a new session so it
outlives the dashboard's server and the browser tab). A queue lets at most one run per GPU
train at once, one at a time on a CPU-only machine, first come first served: waiting runs stay
``queued``. Its slots are shared with measurements on worse photos (:mod:`fer.measuring`), which
go after the runs queued. A run whose process is gone without a final state shows as failed.

This module never imports Keras, so listing runs stays instant in the dashboard and the CLI.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from fer import processes, store
from fer.errors import FerError
from fer.hardware import check_devices_backend, gpu_names, keras_backend
from fer.paths import active_dataset_name, runs_dir
from fer.scenarios import RunConfig, weights_path
from fer.store import ACTIVE, Run, StatusCallback
from fer.vocab import CLASSES, WEIGHTS, epochs_text

if TYPE_CHECKING:  # annotations only: this module never imports Keras
    import keras

QUEUE_POLL_S = 1.0


# --------------------------------------------------------------------------------------------
# Creating and running


def create_run(config: RunConfig) -> Run:
    """A new run folder, queued; ``data="active"`` is pinned to what is active now."""
    if config.weights not in WEIGHTS:
        weights_path(config.weights)
    active = active_dataset_name()
    if config.data == "full" and active != "full":
        raise FerError("no FER2013 import found for data=full: run `python -m fer data import SOURCE` first")
    if config.data == "active":
        config = replace(config, data=active)
    if config.protocol == "standard":
        _check_standard_protocol(config.data)
    check_devices_backend(config.device_count(max(1, len(gpu_names()))), keras_backend())
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = runs_dir() / f"{stamp}-{config.scenario.lower()}-{config.arch}-{secrets.token_hex(2)}"
    path.mkdir()
    store.write_config(path, config)
    now = store.now()
    status = store.write_status(path, state="queued", created_at=now, queued_at=now, epoch=0, epochs=config.epochs)
    return Run(path, config, status)


def _check_standard_protocol(data: str) -> None:
    """Refuse now, rather than as a failed run (one per seed), data whose test images do not
    record the PublicTest/PrivateTest halves the standard protocol selects and reports on."""
    from fer.data import load_dataset  # the data layer loads pyarrow: only when such a run is made
    from fer.dataset import protocol_splits

    protocol_splits(load_dataset(data), "standard")


def start(config: RunConfig, background: bool = True, on_status: StatusCallback | None = None) -> Run:
    """Create a run and train it: in a background process (returns at once) or right here."""
    run = create_run(config)
    if background:
        launch(run.run_id)
    else:
        execute(run.run_id, on_status)
    return get_run(run.run_id)


def launch(run_id: str) -> None:
    """Start ``python -m fer.worker RUN_ID`` detached (:func:`fer.processes.spawn`); its output goes
    to the run's ``train.log``."""
    path = store.run_path(run_id)
    processes.spawn("fer.worker", [run_id], path / "train.log", path / "pid.json")


def execute(
    run_id: str,
    on_status: StatusCallback | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    on_slots: Callable[[list[int]], None] | None = None,
) -> str:
    """Train a run in this process once it is first in line and a slot is free; the final state.

    The one way a run trains: its pid file tells readers it is alive, and the queue keeps it
    off a slot another run holds. ``callbacks`` are Keras callbacks added to the run's own (a
    script's extra measurements). ``on_slots`` is called with the slots' indices once they are
    held, before Keras is imported: the background worker (:mod:`fer.worker`) uses it to see
    only its slots' GPUs. Otherwise the run trains on whatever devices this process sees.
    """
    path = store.run_path(run_id)
    _write_pid(path, os.getpid())
    gpus = len(gpu_names())
    needed = min(store.read_config(path).device_count(gpus), gpus) if gpus else 1
    with queue_slots(path, needed) as slots:
        if slots is None:
            store.write_status(path, state="cancelled", message=None, error="cancelled while queued")
            state = "cancelled"
        else:
            if on_slots:
                on_slots(slots)
            from fer.train import run_training  # imports Keras: only in the process that trains

            state = run_training(path, on_status, callbacks)
    # A final state answers any cancel request, also one that came too late to stop the run.
    (path / "cancel").unlink(missing_ok=True)
    (path / "pid.json").unlink(missing_ok=True)  # done: this process touches the folder no more (see delete)
    return state


@contextmanager
def queue_slots(path: Path, needed: int = 1) -> Iterator[list[int] | None]:
    """Wait until the run is first in line and ``needed`` slots are free (:func:`hold_slots`);
    yield the slots' indices (None if the run was cancelled while it waited) and hold them until
    the block ends. Its status says what it waits for."""
    store.write_status(path, state="queued", pid=os.getpid(), message="waiting for a free slot")
    with hold_slots(
        needed,
        f"run {path.name}",
        turn=lambda: _first_in_line(path),
        behind="runs queued before it",
        stop=lambda: cancel_requested(path),
        waiting=lambda why: store.write_status(path, message=why),
    ) as slots:
        yield slots


@contextmanager
def hold_slots(
    needed: int,
    holder: str,
    turn: Callable[[], bool],
    behind: str,
    stop: Callable[[], bool] = lambda: False,
    waiting: Callable[[str], None] = lambda why: None,
) -> Iterator[list[int] | None]:
    """Wait until ``turn()`` and ``needed`` slots' locks are free (one slot per GPU, one in all
    on a CPU-only machine); yield the slots' indices and hold the locks until the block ends, or
    yield None once ``stop()`` (cancelled while waiting).

    Training runs and measurements on worse photos (:mod:`fer.measuring`) take slots alike, so
    that two jobs never share a CPU (each would take twice as long) or a GPU's memory. While it
    waits, ``waiting(why)`` hears why, each time that changes: ``behind`` (who goes first) while
    it is not this job's turn, else who holds the slots, as the ``holder`` that each slot's lock
    file names.
    """
    slots = max(1, len(gpu_names()))
    said = None
    while not stop():
        if not turn():
            why = f"waiting for its turn: {behind} go first"
        else:
            with ExitStack() as held:
                taken, busy = [], []
                for index in range(slots):
                    if len(taken) == needed:
                        break
                    if _try_lock(held, index, holder):
                        taken.append(index)
                    else:
                        busy.append(index)
                if len(taken) == needed:
                    yield taken
                    return
            holders = ", ".join(filter(None, map(_slot_holder, busy)))
            why = "waiting for a free slot" + (f" (held by {holders})" if holders else "")
        if why != said:
            waiting(why)
            said = why
        time.sleep(QUEUE_POLL_S)
    yield None


def _slot_lock(index: int) -> Path:
    return runs_dir() / f".slot-{index}.lock"


def _try_lock(held: ExitStack, index: int, holder: str) -> bool:
    """Take slot ``index``'s lock without waiting and write ``holder`` in it; it is released when
    ``held`` closes. Opened for appending: a job that finds the slot taken leaves its holder's name."""
    lock = held.enter_context(_slot_lock(index).open("a+"))
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    lock.truncate(0)
    lock.write(holder)
    lock.flush()
    return True


def _slot_holder(index: int) -> str:
    """Who holds slot ``index``, as its lock file names it; "" when that can't be read."""
    try:
        with _slot_lock(index).open("rb") as lock:
            return lock.read(200).decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _first_in_line(path: Path) -> bool:
    queued = [run for run in list_runs() if run.state == "queued"]
    first = min(queued, key=lambda run: (run.status.get("queued_at") or "", run.run_id), default=None)
    return first is None or first.path == path


def nothing_queued() -> bool:
    """Whether no run of this machine waits to train: a measurement's turn (training goes first)."""
    return not any(run.state == "queued" for run in list_runs())


# --------------------------------------------------------------------------------------------
# Controlling


def cancel(run_id: str) -> Run:
    """Ask a queued or running run to stop; it stops at its next batch and is marked cancelled."""
    run = _own_run(run_id, "cancelled")
    if run.state not in ACTIVE:
        raise FerError(f"run {run_id} is {run.state}: only queued or running runs can be cancelled")
    (run.path / "cancel").touch()
    return run


def cancel_requested(path: Path) -> bool:
    return (path / "cancel").exists()


def resume(run_id: str, background: bool = True, on_status: StatusCallback | None = None) -> Run:
    """Continue a failed or cancelled run from its last finished epoch, history intact.

    The check and the claim (queued, with a live process) are one step under the run's lock:
    two resumes at once (two clicks, two terminals) would otherwise start two workers on it.
    """
    path = _own_run(run_id, "resumed").path
    with open(path / ".resume.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        run = get_run(run_id)
        if run.state not in ("failed", "cancelled"):
            raise FerError(f"run {run_id} is {run.state}: only failed or cancelled runs can be resumed")
        (run.path / "cancel").unlink(missing_ok=True)
        store.write_status(run.path, state="queued", queued_at=store.now(), error=None, message=None)
        if background:
            launch(run_id)  # writes the worker's pid before the lock is let go
        else:
            _write_pid(run.path, os.getpid())  # the old pid is dead: never show the fresh run as failed
    if not background:
        execute(run_id, on_status)
    return get_run(run_id)


def delete(run_id: str) -> None:
    """Remove a run folder; a queued or running run must be cancelled first, and a finished
    one's process must have ended (it removes its backup as it exits)."""
    run = _own_run(run_id, "deleted")
    if run.state in ACTIVE:
        raise FerError(f"run {run_id} is {run.state}: cancel it before deleting it")
    if (run.path / "pid.json").exists() and _process_alive(run.path, run.status):
        raise FerError(f"run {run_id} is {run.state} but its process is still finishing: delete it in a moment")
    if processes.recorded_alive(run.path / store.MEASURING_PID):
        raise FerError(f"run {run_id} is being measured on worse photos: delete it once that has ended")
    shutil.rmtree(run.path)


# --------------------------------------------------------------------------------------------
# Reading, with each active run's process checked


def list_runs() -> list[Run]:
    """This machine's runs, newest first, each queued or running one checked for its process."""
    return [_checked(run) for run in store.list_runs()]


def get_run(run_id: str) -> Run:
    """This machine's run ``run_id``, its process checked; else the committed reference run of
    that name, so that ``show`` reads the runs the pages set beside the user's (read-only: see
    :func:`_own_run`). A run of this machine wins over a reference run exported from it."""
    try:
        path = store.run_path(run_id)
    except FerError:
        reference = store.reference_run(run_id)
        if reference is None:
            raise
        return reference
    return _checked(store.read_run(path))


def _own_run(run_id: str, action: str) -> Run:
    """This machine's run ``run_id``, to be ``action`` (cancelled, resumed, deleted).

    A committed reference run is refused by name rather than as "no run named": it ships with
    the code, and changing its folder would change the numbers every clone sets beside its own.
    """
    run = get_run(run_id)
    if run.reference:
        raise FerError(
            f"run {run_id} is a reference run committed with the project: reference runs are read-only "
            f"and can't be {action} (`python -m fer show {run_id}` shows it)"
        )
    return run


def comparable_runs() -> dict[str, Run]:
    """Runs with results to compare, by display name: completed runs of this machine (newest
    first), then the committed reference runs; those whose metrics lack a headline number are left out."""
    finished = [run for run in [*list_runs(), *store.reference_runs()] if run.state == "completed"]
    return {run.display_name: run for run in finished if run.has_results()}


def runs_table(listed: list[Run]) -> pd.DataFrame:
    """One row per run for listings (the CLI's ``runs``, the Train page): raw values, unformatted."""
    rows = []
    for run in listed:
        metrics = run.metrics() or {}
        rows.append(
            {
                "run": run.run_id,
                "scenario": run.label,
                "data": run.config.data if run.config else "",
                "state": run.state,
                "epoch": f"{run.status.get('epoch', 0)}/{run.config.epochs}" if run.config else "",
                "progress": run.status.get("progress") or 0.0,
                "test accuracy": _figure(metrics, "test_accuracy"),
                "test split": scored_on(metrics.get("test_split"), metrics.get("dataset")),
                "train seconds": _figure(metrics, "train_seconds"),
            }
        )
    return pd.DataFrame(rows)


def _figure(metrics: dict[str, Any], key: str) -> float:
    """A number of the metrics for a table column; NaN (an empty cell) where it is missing or not a number."""
    value = store.number(metrics.get(key))
    return float("nan") if value is None else value


def status_summary(status: dict[str, Any]) -> str:
    """``epoch 3/100 · batch 40/225 · ETA 2 min 05 s``, or what the run is busy with, or how it
    ended (``completed after 1/1 epoch``): the one progress line of the CLI and the Train page."""
    if status.get("message"):
        return status["message"]
    done, epochs = status.get("epoch", 0), status.get("epochs") or 0
    if status.get("state") != "running":
        state = status.get("state", "unknown")
        ended = f"{state} after {done}/{epochs_text(epochs)}" if epochs else state
        return f"{ended}, {origin}" if (origin := imported_from(status)) else ended
    if done >= epochs:
        return f"training done ({epochs_text(epochs)}), evaluating"
    text = f"epoch {done + 1}/{epochs}"
    if status.get("batches"):
        text += f" · batch {status.get('batch', 0)}/{status['batches']}"
    if status.get("eta_s") is not None:
        text += f" · ETA {duration(status['eta_s'])}"
    return text


def imported_from(status: dict[str, Any]) -> str | None:
    """``imported 2026-12-07 20:30 UTC from RUN.fer-run.zip`` for a run trained elsewhere
    (:func:`fer.sharing.import_run`), None for one trained here."""
    if not status.get("imported_from"):
        return None
    try:
        when = datetime.fromisoformat(status.get("imported_at") or "").astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC ")
    except ValueError:
        when = ""
    return f"imported {when}from {status['imported_from']}"


def state_summary(status: dict[str, Any]) -> str:
    """The run's state with :func:`status_summary`, the state said once: ``completed after 1/1
    epoch``, ``running: epoch 2/3 · batch 4/10``, ``queued: waiting for a free slot``. Why: a
    finished run's summary already opens with its state, a busy run's does not."""
    summary = status_summary(status)
    if status.get("message") or status.get("state") == "running":
        return f"{status.get('state', 'unknown')}: {summary}"
    return summary


def scored_on(split: Any, dataset: Any = None, images: Any = None) -> str:
    """Which faces a test accuracy was measured on, to label it with: ``PrivateTest``,
    ``all 7,178 test images`` (given ``images``), ``PrivateTest (3,589 images)``, and ``… of the
    sample data`` for a run on the shipped sample. "" where ``metrics.json`` does not say.

    Why: PrivateTest, all of FER2013's test images and a few hundred sample faces give numbers
    that can't be ranked against each other, so no accuracy is shown without its split.
    """
    split = split if isinstance(split, str) else ""
    count = store.number(images)
    of = f" of the {dataset} data" if isinstance(dataset, str) and dataset and dataset != "full" else ""
    if split == store.TEST_SPLITS["thesis"] and count is not None:
        return f"all {count:,} test images{of}"
    if not split:
        return f"{count:,} test images{of}" if count is not None else ""
    return f"{split}{of}" + (f" ({count:,} images)" if count is not None else "")


RUN_METRIC_FORMATS = {
    "test_accuracy": ".4f",
    "precision_macro": ".4f",
    "recall_macro": ".4f",
    "train_accuracy": ".4f",
    "train_seconds": ",.1f",
    "images_per_second": ",.0f",
    "test_images": ",",
    "test_split": "",
    "reported_epoch": "",
    "epochs_run": "",
    "device": "",
    "backend": "",
    "precision_policy": "",
    "weights": "",
    "dataset": "",
}
"""How one run's ``metrics.json`` values are written out: a number format, or "" for as it is."""


def run_metric_texts(metrics: dict[str, Any]) -> dict[str, str]:
    """One run's numbers and what they were measured on, as text ("—" where ``metrics`` lacks a
    value or holds a non-number), so that the Train page and ``python -m fer show`` round alike."""
    return {key: metric_text(metrics, key, number_format) for key, number_format in RUN_METRIC_FORMATS.items()}


def fit_texts(metrics: dict[str, Any] | None) -> list[str]:
    """What a run fitted on its validation faces (:mod:`fer.calibrate`) did on its test faces, a
    line each: its temperature, its balanced answers and their recall emotion by emotion; nothing
    for what its metrics lack or hold damaged. The Train page and ``python -m fer show`` and
    ``calibrate`` say them alike."""
    lines = []
    if (scaling := store.temperature_scaling(metrics)) is not None:
        fitted = metrics["temperature_scaling"]
        unscaled = f"{calibration[0]:.3f} -> " if (calibration := store.calibration(metrics)) else ""
        lines.append(f"Temperature {scaling[0]:.3g}, fitted on {fitted['fitted_images']:,} {fitted['fitted_on']} faces: "
                     f"expected calibration error {unscaled}{scaling[1]:.3f}")
    balanced = store.balanced_answers(metrics)
    if balanced is not None and not balanced.strength:
        lines.append("Balanced answers: none found the emotions better than its own (strength 0): not offered")
    elif balanced is not None and store.has_headline_metrics(metrics):
        scores = balanced.metrics
        lines.append(
            f"Balanced answers, strength {balanced.strength:g} (temperature {balanced.temperature:.3g}): accuracy "
            f"{metrics['test_accuracy']:.4f} -> {scores['test_accuracy']:.4f}, macro recall {metrics['recall_macro']:.3f} "
            f"-> {scores['recall_macro']:.3f}"
        )
        if store.has_per_class_scores(metrics):
            recalls = (f"{name} {metrics['per_class'][name]['recall']:.2f} -> {scores['per_class'][name]['recall']:.2f}"
                       for name in CLASSES)
            lines.append(f"Recall: {', '.join(recalls)}")
    return lines


def metric_text(metrics: dict[str, Any], key: str, number_format: str = "") -> str:
    """One value of a run's metrics as text, ``number_format`` for a number: "—" where it is
    missing or is not a number, so an edited or damaged ``metrics.json`` is shown, not a traceback."""
    value = store.number(metrics.get(key)) if number_format else metrics.get(key)
    return "—" if value is None else format(value, number_format)


def duration(seconds: float) -> str:
    """``2 min 05 s``: an ETA in seconds is unreadable once runs take hours."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _checked(run: Run) -> Run:
    """The run with its status corrected when its process ended without a final state.

    A run killed after writing ``metrics.json`` (its last file before the final state) is
    complete: it shows as completed, and resuming it only marks it so.
    """
    if run.state not in ACTIVE or _process_alive(run.path, run.status):
        return run
    if (run.path / "metrics.json").exists():
        return replace(run, status={**run.status, "state": "completed", "message": None})
    error = (
        "the training process ended without a final state (killed, crashed or the machine restarted); "
        "resume continues from the last finished epoch"
    )
    return replace(run, status={**run.status, "state": "failed", "error": error, "message": None})


# --------------------------------------------------------------------------------------------
# Processes


def _write_pid(path: Path, pid: int) -> None:
    processes.write_pid(path / "pid.json", pid)


def _process_alive(path: Path, status: dict[str, Any]) -> bool:
    """Whether the process recorded for a run still runs (and is the same process, not a reused pid).

    A damaged pid file names no process, so the run is not known to be alive: it shows as failed
    and can be resumed, rather than staying active forever.
    """
    alive = processes.recorded_alive(path / "pid.json")
    return _recently_queued(status) if alive is None else alive


def _recently_queued(status: dict[str, Any]) -> bool:
    """Whether the run was queued (or its status written) within the grace a new background run
    has to write its pid file; a missing or damaged timestamp is no sign of life."""
    try:
        stamp = datetime.fromisoformat(status.get("queued_at") or status.get("updated_at"))
        return (datetime.now(UTC) - stamp).total_seconds() < processes.PID_GRACE_S
    except (TypeError, ValueError):  # no timestamp, not ISO, or without a time zone
        return False
