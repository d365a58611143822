"""Background processes the dashboard starts and later asks after: a run's training
(:mod:`fer.runs`) and a run's measurement on worse photos (:mod:`fer.measuring`).

Each is its own OS process in a new session, so it outlives the dashboard's server and the
browser tab, with its output appended to a log and its pid in a small JSON file. The pid file
also keeps the process's start time as the kernel gives it, so a pid the system has since given
to another process is not taken for the one that was started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from fer.paths import artifacts_dir, atomic_write_json, read_json

_MAX_PID = 2**31  # pid_t is a signed 32-bit integer; 0 and negative pids name process groups
PID_GRACE_S = 60.0
"""How long a process just asked for may go without its pid file (a queued run's worker, a
measurement) before the callers count it as gone."""


def spawn(module: str, args: Sequence[str], log: Path, pid_file: Path) -> None:
    """Start ``python -m MODULE ARGS`` detached, its output appended to ``log``, its pid written
    to ``pid_file``. It sees this process's ``$FER_ARTIFACTS`` and the package, wherever it was
    started from. A thread waits for it, so a finished process is reaped at once instead of
    lingering as a ``<defunct>`` child of the dashboard's server."""
    package_root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ)
    env["FER_ARTIFACTS"] = str(artifacts_dir())
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONUNBUFFERED"] = "1"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
    write_pid(pid_file, process.pid)
    threading.Thread(target=process.wait, name=f"reap-{module}-{process.pid}", daemon=True).start()


def write_pid(pid_file: Path, pid: int) -> None:
    atomic_write_json(pid_file, {"pid": pid, "start": process_start(pid)})


def recorded_alive(pid_file: Path) -> bool | None:
    """Whether the process recorded in ``pid_file`` still runs (the same process, not a reused
    pid); None when the file can't be read (not written yet, or damaged), for the caller to judge."""
    try:
        recorded = read_json(pid_file)
    except (OSError, ValueError, RecursionError):
        return None
    return _live_pid(recorded) is not None


def terminate(pid_file: Path) -> None:
    """Ask the process recorded in ``pid_file`` to stop (SIGTERM), if it still runs."""
    try:
        if (pid := _live_pid(read_json(pid_file))) is not None:
            os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError, RecursionError):  # no file, a damaged one, or ended since it was read
        pass


def _live_pid(recorded: object) -> int | None:
    """The pid a pid file's content records, if that process still runs (not a reused pid)."""
    pid = recorded.get("pid") if isinstance(recorded, dict) else None
    if not isinstance(pid, int) or isinstance(pid, bool) or not 0 < pid < _MAX_PID:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    start = process_start(pid)
    if start is None:  # no /proc: trust the pid
        return pid
    return pid if start == recorded.get("start") else None  # a zombie (finished, not yet reaped) never matches


def process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` ("zombie" for a finished, unreaped one); None without /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return "zombie" if fields[0] in ("Z", "X") else fields[19]
