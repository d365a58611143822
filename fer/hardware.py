"""What will train: the Keras backend and the GPUs, found without importing a framework.

The dashboard asks this on every Train page render, and the run queue uses the GPU count to
decide how many runs may train at once, so it must stay cheap: ``nvidia-smi`` for GPUs and
Keras' own configuration rules for the backend. :func:`check_devices_backend`, framework-free
too, refuses a run on several devices that the backend can't train, before the run exists and
again as it starts.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from fer.errors import FerError


@lru_cache(maxsize=1)
def gpu_names() -> tuple[str, ...]:
    """Names of the NVIDIA GPUs this machine has (empty without a driver or GPU)."""
    if shutil.which("nvidia-smi") is None:
        return ()
    try:
        result = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
            check=False, capture_output=True, text=True, timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ()
    return tuple(line.strip() for line in result.stdout.splitlines() if line.strip()) if result.returncode == 0 else ()


def keras_backend() -> str:
    """The backend Keras will pick: ``$KERAS_BACKEND``, else ``~/.keras/keras.json``, else TensorFlow."""
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    config = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "keras.json"
    try:
        return json.loads(config.read_text()).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


def see_only_gpus(slots: list[int]) -> None:
    """Make this process see only the GPUs of its queue slots (slot ``i`` is GPU ``i``;
    :func:`fer.runs.hold_slots`).

    CUDA reads ``CUDA_VISIBLE_DEVICES`` when the backend first starts, which in a training
    worker or a measurement is after the slots are taken (they import Keras only then). The
    variable is set for good, not restored: such a process exists for that one job. On a
    CPU-only machine the one slot is no GPU, and nothing is hidden.
    """
    if gpu_names():
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, slots))


def check_devices_backend(devices: int, backend: str) -> None:
    """Refuse training on several devices with a backend other than JAX, saying what to do.

    Keras' data-parallel engine (:mod:`fer.distribute`) is its JAX path. The run queue asks with
    the backend Keras will pick (:func:`keras_backend`), so that such a run is refused before its
    folder exists, not as one failed run per seed; the training process asks again with the
    backend it started.
    """
    if devices > 1 and backend != "jax":
        raise FerError(
            f"training on {devices} devices needs Keras' JAX backend (KERAS_BACKEND=jax, with jax installed), "
            f"not {backend}: set it, or train on 1 device"
        )


def keep_compilations(folder: Path) -> None:
    """Have JAX keep the steps it compiles in ``folder`` (its persistent compilation cache), so a
    later process training the same network at the same batch size and precision (a seed repeat,
    a resumed run, S4 after S2 or after the benchmark, the next call on a warm GPU machine) loads
    its training step in a second or two instead of compiling it again: 20-28 s for VGG19 or
    ResNet50 on the H200. Only compilations over a second are kept (JAX's default). TensorFlow and
    PyTorch read nothing of it.

    Sets ``$JAX_COMPILATION_CACHE_DIR`` for good, unless the user set it, and JAX reads it when
    it is imported: so only the entry point of a process calls this, first thing.
    """
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(folder))


def cpu_name() -> str:
    """The processor model, for run records."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


@lru_cache(maxsize=1)
def cpu_supports_bf16() -> bool:
    """Whether the CPU computes bfloat16 natively (AMX or AVX512-BF16); False where unknown."""
    try:
        flags = next(
            line.split(":", 1)[1].split()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("flags")
        )
    except (OSError, StopIteration):
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags
