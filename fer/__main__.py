"""Entry point of ``python -m fer``."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter, before any import
# FFmpeg's own log, read once when OpenCV first uses FFmpeg: a damaged video would print a line per
# damaged block (thousands), where `video` reports what it could read and one clear error if nothing.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

from fer.hardware import keep_compilations  # noqa: E402
from fer.paths import compilation_cache_path  # noqa: E402

keep_compilations(compilation_cache_path())  # a foreground run on JAX compiles once per network and batch

from fer.cli import main  # noqa: E402

sys.exit(main())
