"""Time the FER2013 importers and the cached reload on the full dataset, with each one's peak
memory; prints a table.

    python -m benchmarks.data_import [../shared/datasets/fer2013]

Each step runs in a fresh Python process, so its peak resident memory (``VmHWM`` of Linux's
``/proc/self/status``; ``ru_maxrss`` would carry over the parent's peak across fork and exec) is its
own: the interpreter with numpy, pyarrow and OpenCV loaded (the first row, importing nothing),
the source read, the cache written. Targets on the 2-core development machine: full import
<= 15 s and <= 1.5 GB, cached reload <= 1 s. The challenge CSV, and its fer2013.tar.gz, are
generated from the parquet copy first (the shared folder has neither).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from fer import sources
from fer.paths import artifacts_at

STEP = """
import re, sys, time
from pathlib import Path
from fer import data
step, source = sys.argv[1], Path(sys.argv[2])
start = time.perf_counter()
if step == "upload":
    images = len(data.import_upload(source.name, source.read_bytes()))
elif step == "reload":
    images = len(data.load_imported())
elif step == "import":
    images = len(data.import_dataset(source))
else:
    images = 0
peak_kb = re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1)
print(time.perf_counter() - start, images, int(peak_kb) * 1024)
"""


def measured(step: str, source: Path) -> tuple[float, int, int]:
    """Seconds, images and peak resident bytes of one step, run in a process of its own."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", STEP, step, str(source)], capture_output=True, text=True, check=True, env=env, cwd=root
    )
    seconds, images, peak = done.stdout.split()
    return float(seconds), int(images), int(peak)


def main(folder: Path) -> None:
    # The steps' processes inherit the scratch FER_ARTIFACTS: their imports replace no user's cache.
    with tempfile.TemporaryDirectory() as scratch, artifacts_at(Path(scratch)):
        csv = Path(scratch) / "fer2013.csv"
        sources.export_challenge_csv(sources.read_source(folder), csv)
        packed = Path(scratch) / "fer2013.tar.gz"
        with tarfile.open(packed, "w:gz") as archive:  # as the challenge ships it
            archive.add(csv, "fer2013/fer2013.csv")
        steps = [
            ("Python + fer.data, no import", "none", folder),
            ("import Kaggle zip (+ cache write)", "import", folder / "fer2013.zip"),
            ("upload of the Kaggle zip (from memory)", "upload", folder / "fer2013.zip"),
            ("import parquet folder (+ cache write)", "import", folder),
            ("import challenge CSV (+ cache write)", "import", csv),
            ("import challenge fer2013.tar.gz (+ cache)", "import", packed),
            ("cached reload", "reload", folder),
        ]
        rows = [(label, *measured(step, source)) for label, step, source in steps]
    print(f"{'step':40} {'seconds':>8} {'images':>8} {'peak MB':>8}")
    for label, seconds, images, peak in rows:
        print(f"{label:40} {seconds:8.2f} {images:8,} {peak / 2**20:8,.0f}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/fer2013"))
