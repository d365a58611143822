"""Starting the Keras backend without TensorFlow's start-up chatter on stderr.

TensorFlow's C++ start-up writes lines that ``TF_CPP_MIN_LOG_LEVEL`` no longer silences (absl
logs everything until it is initialised): oneDNN and CUDA notes, and on a machine without an
NVIDIA GPU an alarming "failed call to cuInit". They would open every foreground ``train``,
``resume`` and ``classify`` of the command line. Kept apart from :mod:`fer.cli` because it is
process plumbing (file descriptors and a filter process), not a command.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys

from fer import hardware
from fer.errors import FerError

NATIVE_LOG_LINE = re.compile(r"(?P<level>[IWEF])\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [\w.]+:\d+\] ")
"""A line of C++ logging (absl/TensorFlow format: level, date, time, thread, file:line)."""
ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
CUINIT_FAILED = r"E\d{4} [^]]*\] failed call to cuInit"
"""CUDA's start on a machine without an NVIDIA GPU: expected there, alarming to read."""
_FILTER = """
import re, sys
chatter = re.compile(sys.argv[1].encode())
for line in sys.stdin.buffer:
    if not chatter.match(line):
        sys.stderr.buffer.write(line)
        sys.stderr.buffer.flush()
"""


def start_backend_quietly() -> None:
    """Import Keras and run one op with the process's stderr passed through a filter of
    TensorFlow's start-up chatter.

    Dropped: absl's banner, info lines, and the cuInit failure where ``nvidia-smi`` finds no GPU;
    warnings, errors and Python's own output pass. The filter is a small process of its own, so
    a start-up that aborts the process (a bad ``TF_XLA_FLAGS``) still shows its reason. A backend
    Keras can't import is a FerError.
    """
    chatter = [re.escape(ABSL_BANNER) + "$", NATIVE_LOG_LINE.pattern.replace("[IWEF]", "I")]
    chatter += [] if hardware.gpu_names() else [CUINIT_FAILED]
    sys.stderr.flush()
    passed = subprocess.Popen([sys.executable, "-I", "-S", "-c", _FILTER, "|".join(chatter)], stdin=subprocess.PIPE)
    saved = os.dup(2)
    os.dup2(passed.stdin.fileno(), 2)
    try:
        try:
            import keras
        except (ImportError, ValueError) as error:  # ValueError: an unknown KERAS_BACKEND
            raise FerError(f"Keras can't start its backend ({error})") from error
        keras.ops.convert_to_numpy(keras.ops.zeros(()))  # devices are found on the first op
        if importlib.util.find_spec("tensorflow") is not None:
            # Keras seeds TensorFlow wherever it is installed (set_random_seed), whatever the backend.
            importlib.import_module("tensorflow")
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        passed.stdin.close()
        passed.wait()
