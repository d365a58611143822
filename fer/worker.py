"""``python -m fer.worker RUN_ID``: the background process of one training run.

:func:`fer.runs.launch` starts it detached, with its output going to the run's ``train.log``.
It waits for its turn in the queue, sees only its slot's GPU, trains, and exits with status 0
when the run completed or was cancelled, 1 when it failed (the error is in ``status.json``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from fer import runs


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m fer.worker RUN_ID", file=sys.stderr)
        return 2
    return 0 if runs.execute(args[0], pin_gpu=True) in ("completed", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main())
