"""Entry point of ``python -m fer``."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter, before any import

from fer.cli import main  # noqa: E402

sys.exit(main())
