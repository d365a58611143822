"""``python -m fer.worker RUN_ID``: the background process of one training run.

:func:`fer.runs.launch` starts it detached, with its output going to the run's ``train.log``.
It waits for its turn in the queue, sees only its slot's GPU (:func:`fer.hardware.see_only_gpus`),
trains, and exits with status 0 when the run completed or was cancelled, 1 when it failed (the
error is in ``status.json``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from fer import runs
from fer.hardware import keep_compilations, see_only_gpus
from fer.paths import compilation_cache_path


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m fer.worker RUN_ID", file=sys.stderr)
        return 2
    return 0 if runs.execute(args[0], on_slots=see_only_gpus) in ("completed", "cancelled") else 1


if __name__ == "__main__":
    keep_compilations(compilation_cache_path())  # before Keras, which this process imports only to train
    sys.exit(main())
