"""Where the project writes its state: everything lives under ``$FER_ARTIFACTS``.

Tests and users point the variable elsewhere to keep runs and caches apart; the default is
``./artifacts`` relative to the working directory, which is the repository root for the
dashboard and the CLI.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fer.errors import FerError


def artifacts_dir() -> Path:
    """The root of all written state (created on first use)."""
    root = _artifacts_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a file in the way, no permission, a read-only disk
        raise FerError(f"cannot use {root} for the project's runs and data (FER_ARTIFACTS): {error.strerror or error}") from error
    return root


def _artifacts_root() -> Path:
    return Path(os.environ.get("FER_ARTIFACTS", "artifacts")).expanduser().resolve()


@contextmanager
def artifacts_at(path: Path) -> Iterator[Path]:
    """Point ``$FER_ARTIFACTS`` at ``path`` for the block, then back where it was: scratch runs
    (benchmarks, test fixtures) stay out of the user's own runs."""
    previous = os.environ.get("FER_ARTIFACTS")
    os.environ["FER_ARTIFACTS"] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop("FER_ARTIFACTS", None)
        else:
            os.environ["FER_ARTIFACTS"] = previous


def dataset_cache_path() -> Path:
    """The imported dataset's cache file."""
    return artifacts_dir() / "data" / "fer2013.npz"


def compilation_cache_path() -> Path:
    """Where JAX keeps the steps it compiled (:func:`fer.hardware.keep_compilations`). Not created
    here: a process entry point asks for it before it knows whether it will compile anything,
    and JAX makes the folder on its first write."""
    return _artifacts_root() / "cache" / "jax"


def active_dataset_name() -> str:
    """What ``active`` stands for now: ``full`` once FER2013 was imported, else ``sample``.

    The one answer the pages, the sidebar, the data loader and new runs share; here, beside
    the cache it looks at, so that asking costs no import of the data layer.
    """
    return "full" if dataset_cache_path().exists() else "sample"


def runs_dir() -> Path:
    """The folder holding one sub-folder per training run."""
    path = artifacts_dir() / "runs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def atomic_write_bytes(path: Path, data: bytes | memoryview) -> None:
    """Write ``data`` so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=_json_default) + "\n").encode())


MAX_STATE_FILE_BYTES = 64 * 2**20
"""Largest run or settings file read back (JSON, ``history.csv``, an array of ``probabilities.npz``
unpacked): far above what the project writes (a 10,000-epoch history is 1.5 MB), so a file beyond
it is damaged and refused before it is read into memory."""


def check_state_file_size(path: Path) -> None:
    """Raise ValueError (a damaged file, as a parse error is) when ``path`` is beyond
    :data:`MAX_STATE_FILE_BYTES`."""
    size = path.stat().st_size
    if size > MAX_STATE_FILE_BYTES:
        raise ValueError(f"{path.name} is {size:,} bytes, more than a run file can be ({MAX_STATE_FILE_BYTES:,})")


def read_json(path: Path) -> Any:
    """Read a JSON file written by :func:`atomic_write_json`."""
    check_state_file_size(path)
    return json.loads(path.read_text())


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays reach the JSON writers from metrics code.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
