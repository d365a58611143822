"""Training runs on disk and as background processes: create, queue, watch, cancel, resume, delete.

A run is a folder ``$FER_ARTIFACTS/runs/<run_id>/`` holding ``config.json`` and
``status.json`` from the start, then what :mod:`fer.train` writes. Background runs are
separate OS processes (``python -m fer worker RUN_ID``, in a new session so they outlive the
dashboard's server and the browser tab). A queue lets at most one run per GPU train at once,
one at a time on a CPU-only machine, first come first served: waiting runs stay ``queued``.

This module never imports Keras, so listing runs stays instant in the dashboard and the CLI.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from fer.errors import FerError
from fer.hardware import gpu_names
from fer.paths import artifacts_dir, atomic_write_json, dataset_cache_path, read_json, runs_dir
from fer.scenarios import RunConfig

STATES = ("queued", "running", "completed", "failed", "cancelled")
ACTIVE = ("queued", "running")
QUEUE_POLL_S = 1.0
_PID_GRACE_S = 60.0  # a new background run may not have its pid file for a moment
_RUN_ID = re.compile(r"^[A-Za-z0-9._-]+$")
REFERENCE_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "reference"
"""Committed results of full-data runs (config, history, metrics; no model files)."""
REFERENCE_FILES = ("config.json", "status.json", "history.csv", "metrics.json")


@dataclass(frozen=True)
class Run:
    """One run folder, with its status as of when it was read."""

    path: Path
    config: RunConfig
    status: dict[str, Any]

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def state(self) -> str:
        return self.status["state"]

    @property
    def reference(self) -> bool:
        """A committed reference run (read-only, no model) rather than one trained here."""
        return self.path.parent == REFERENCE_DIR

    @property
    def display_name(self) -> str:
        """A unique, readable name for legends and tables; committed reference runs say so."""
        name = f"{self.config.label} · {self.run_id}"
        return f"reference run · {name}" if self.reference else name

    @property
    def model_path(self) -> Path:
        return self.path / "model.keras"

    def metrics(self) -> dict[str, Any] | None:
        path = self.path / "metrics.json"
        return read_json(path) if path.exists() else None

    def history(self) -> pd.DataFrame | None:
        path = self.path / "history.csv"
        return pd.read_csv(path) if path.exists() else None

    def log_tail(self, lines: int = 30) -> str:
        path = self.path / "train.log"
        if not path.exists():
            return ""
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 200 * lines))
            return "\n".join(handle.read().decode(errors="replace").splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# Creating and running


def create_run(config: RunConfig) -> Run:
    """A new run folder, queued; ``data="active"`` is pinned to what is active now."""
    if config.weights not in ("none", "imagenet") and not Path(config.weights).expanduser().is_file():
        raise FerError(f"weights file {config.weights} not found: give none, imagenet or an existing file")
    imported = dataset_cache_path().exists()
    if config.data == "full" and not imported:
        raise FerError("no FER2013 import found for data=full: run `python -m fer data import SOURCE` first")
    if config.data == "active":
        config = replace(config, data="full" if imported else "sample")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = runs_dir() / f"{stamp}-{config.scenario.lower()}-{config.arch}-{secrets.token_hex(2)}"
    path.mkdir()
    atomic_write_json(path / "config.json", config.to_dict())
    now = _now()
    status = write_status(path, state="queued", created_at=now, queued_at=now, epoch=0, epochs=config.epochs)
    return Run(path, config, status)


def start(config: RunConfig, background: bool = True, on_status: Callable[[dict[str, Any]], None] | None = None) -> Run:
    """Create a run and train it: in a background process (returns at once) or right here."""
    run = create_run(config)
    if background:
        launch(run.run_id)
    else:
        execute(run.run_id, on_status)
    return get_run(run.run_id)


def launch(run_id: str) -> None:
    """Start ``python -m fer worker RUN_ID`` detached; its output goes to the run's ``train.log``."""
    path = _run_path(run_id)
    package_root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["FER_ARTIFACTS"] = str(artifacts_dir())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    with (path / "train.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "fer", "worker", run_id],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    _write_pid(path, process.pid)


def execute(run_id: str, on_status: Callable[[dict[str, Any]], None] | None = None) -> str:
    """Wait for a free GPU (or the CPU) in queue order, then train; return the final state."""
    path = _run_path(run_id)
    _write_pid(path, os.getpid())
    write_status(path, state="queued", pid=os.getpid(), message="waiting for a free slot")
    slot = _wait_for_slot(path)
    if slot is None:
        write_status(path, state="cancelled", message=None, error="cancelled while queued")
        return "cancelled"
    index, lock = slot
    try:
        if gpu_names():
            os.environ["CUDA_VISIBLE_DEVICES"] = str(index)  # read when the backend first starts
        write_status(path, state="running", started_at=_now(), message="loading data and building the model")
        from fer.train import run_training  # imports Keras: only in the process that trains

        return run_training(path, on_status)
    finally:
        lock.close()


def _wait_for_slot(path: Path) -> tuple[int, Any] | None:
    """Block until this run is first in line and a slot's lock is free; None if cancelled."""
    slots = max(1, len(gpu_names()))
    while True:
        if cancel_requested(path):
            return None
        if _first_in_line(path):
            for index in range(slots):
                lock = (runs_dir() / f".slot-{index}.lock").open("w")
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return index, lock
                except BlockingIOError:
                    lock.close()
        time.sleep(QUEUE_POLL_S)


def _first_in_line(path: Path) -> bool:
    queued = [run for run in list_runs() if run.state == "queued"]
    first = min(queued, key=lambda run: (run.status.get("queued_at", ""), run.run_id), default=None)
    return first is None or first.path == path


# --------------------------------------------------------------------------------------------
# Controlling


def cancel(run_id: str) -> Run:
    """Ask a queued or running run to stop; it stops at its next batch and is marked cancelled."""
    run = get_run(run_id)
    if run.state not in ACTIVE:
        raise FerError(f"run {run_id} is {run.state}: only queued or running runs can be cancelled")
    (run.path / "cancel").touch()
    return run


def cancel_requested(path: Path) -> bool:
    return (path / "cancel").exists()


def resume(run_id: str, background: bool = True, on_status: Callable[[dict[str, Any]], None] | None = None) -> Run:
    """Continue a failed or cancelled run from its last finished epoch, history intact."""
    run = get_run(run_id)
    if run.state not in ("failed", "cancelled"):
        raise FerError(f"run {run_id} is {run.state}: only failed or cancelled runs can be resumed")
    (run.path / "cancel").unlink(missing_ok=True)
    write_status(run.path, state="queued", queued_at=_now(), error=None, message=None)
    _write_pid(run.path, os.getpid())  # the old pid is dead: never show the fresh run as failed
    if background:
        launch(run_id)
    else:
        execute(run_id, on_status)
    return get_run(run_id)


def delete(run_id: str) -> None:
    """Remove a run folder; a queued or running run must be cancelled first."""
    run = get_run(run_id)
    if run.state in ACTIVE:
        raise FerError(f"run {run_id} is {run.state}: cancel it before deleting it")
    shutil.rmtree(run.path)


# --------------------------------------------------------------------------------------------
# Reading


def list_runs() -> list[Run]:
    """All runs, newest first; folders that are not runs (no config) are skipped."""
    runs = []
    for path in runs_dir().iterdir():
        if (path / "config.json").exists() and (path / "status.json").exists():
            try:
                runs.append(_read_run(path))
            except (FerError, ValueError, OSError):
                continue  # being deleted, or written by a newer version
    return sorted(runs, key=lambda run: (run.status.get("created_at", ""), run.run_id), reverse=True)


def runs_table(listed: list[Run]) -> pd.DataFrame:
    """One row per run for listings (the CLI's ``runs``, the Train page): raw values, unformatted."""
    rows = []
    for run in listed:
        metrics = run.metrics() or {}
        rows.append(
            {
                "run": run.run_id,
                "scenario": run.config.label,
                "data": run.config.data,
                "state": run.state,
                "epoch": f"{run.status.get('epoch', 0)}/{run.config.epochs}",
                "progress": run.status.get("progress") or 0.0,
                "test accuracy": metrics.get("test_accuracy", float("nan")),
                "train seconds": metrics.get("train_seconds", float("nan")),
            }
        )
    return pd.DataFrame(rows)


def reference_runs() -> list[Run]:
    """The committed reference runs, by name."""
    if not REFERENCE_DIR.is_dir():
        return []
    return [
        Run(path, read_config(path), read_json(path / "status.json"))
        for path in sorted(REFERENCE_DIR.iterdir())
        if all((path / name).exists() for name in REFERENCE_FILES)
    ]


def comparable_runs() -> dict[str, Run]:
    """Runs with results to compare, by display name: completed runs of this machine that have
    metrics (newest first), then the committed reference runs."""
    finished = [run for run in list_runs() if run.state == "completed" and (run.path / "metrics.json").exists()]
    return {run.display_name: run for run in [*finished, *reference_runs()]}


def export_reference(run_id: str, destination: Path, include_model: bool = False) -> Path:
    """Copy a completed run's small files to ``destination/<run_id>``: how reference runs are
    made, e.g. on the GPU machine into the folder that comes back. The model comes along only
    when asked (a compact one to ship; VGG19's and ResNet50's are 80-95 MB)."""
    run = get_run(run_id)
    if run.state != "completed":
        raise FerError(f"run {run_id} is {run.state}: only completed runs can become reference runs")
    target = destination / run_id
    target.mkdir(parents=True, exist_ok=True)
    for name in REFERENCE_FILES + (("model.keras",) if include_model else ()):
        shutil.copy2(run.path / name, target / name)
    return target


def get_run(run_id: str) -> Run:
    return _read_run(_run_path(run_id))


def read_config(path: Path) -> RunConfig:
    return RunConfig.from_dict(read_json(path / "config.json"))


def read_status(path: Path) -> dict[str, Any]:
    """The status, with a queued/running run whose process is gone shown as failed."""
    status = read_json(path / "status.json")
    if status["state"] in ACTIVE and not _process_alive(path, status):
        status = {
            **status,
            "state": "failed",
            "error": "the training process ended without a final state (killed, crashed or the machine "
            "restarted); resume continues from the last finished epoch",
        }
    return status


def write_status(path: Path, **fields: Any) -> dict[str, Any]:
    """Update fields of ``status.json`` atomically and return the whole status."""
    status_path = path / "status.json"
    status = read_json(status_path) if status_path.exists() else {}
    status.update(fields, updated_at=_now())
    atomic_write_json(status_path, status)
    return status


def _read_run(path: Path) -> Run:
    return Run(path, read_config(path), read_status(path))


def _run_path(run_id: str) -> Path:
    path = runs_dir() / run_id
    if not _RUN_ID.match(run_id) or not (path / "config.json").exists():
        raise FerError(f"no run named {run_id!r}: `python -m fer runs` lists them")
    return path


# --------------------------------------------------------------------------------------------
# Processes


def _write_pid(path: Path, pid: int) -> None:
    atomic_write_json(path / "pid.json", {"pid": pid, "start": _process_start(pid)})


def _process_alive(path: Path, status: dict[str, Any]) -> bool:
    """Whether the process recorded for a run still runs (and is the same process, not a reused pid)."""
    try:
        recorded = read_json(path / "pid.json")
    except (OSError, ValueError):
        queued_at = datetime.fromisoformat(status.get("queued_at") or status.get("updated_at"))
        return (datetime.now(timezone.utc) - queued_at).total_seconds() < _PID_GRACE_S
    pid = recorded["pid"]
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    start = _process_start(pid)
    if start is None:  # no /proc: trust the pid
        return True
    if start == "zombie":
        try:
            os.waitpid(pid, os.WNOHANG)  # reap our own finished child
        except ChildProcessError:
            pass
        return False
    return start == recorded["start"]


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` ("zombie" for a finished, unreaped one); None without /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return "zombie" if fields[0] in ("Z", "X") else fields[19]


def _now() -> str:
    # Microseconds: runs started in the same second must still queue in the order they came.
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")
