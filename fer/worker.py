"""``python -m fer.worker RUN_ID``: the background process of one training run.

:func:`fer.runs.launch` starts it detached, with its output going to the run's ``train.log``.
It waits for its turn in the queue, sees only its slot's GPU, trains, and exits with status 0
when the run completed or was cancelled, 1 when it failed (the error is in ``status.json``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from fer import runs
from fer.hardware import gpu_names, keep_compilations
from fer.paths import compilation_cache_path


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m fer.worker RUN_ID", file=sys.stderr)
        return 2
    return 0 if runs.execute(args[0], on_slots=see_only) in ("completed", "cancelled") else 1


def see_only(slots: list[int]) -> None:
    """Make this process see only the GPUs of its queue slots (slot ``i`` is GPU ``i``).

    CUDA reads ``CUDA_VISIBLE_DEVICES`` when the backend first starts, which in this process is
    after the slots are taken (:func:`fer.runs.execute` imports Keras only then). The variable
    is set for good, not restored: this process exists to train this one run. On a CPU-only
    machine the one slot is no GPU, and nothing is hidden.
    """
    if gpu_names():
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, slots))


if __name__ == "__main__":
    keep_compilations(compilation_cache_path())  # before Keras, which this process imports only to train
    sys.exit(main())
