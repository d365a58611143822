"""Time the FER2013 importers and the cached reload on the full dataset; prints a table.

    python -m benchmarks.data_import [../shared/datasets/fer2013]

Targets on the 2-core development machine: full import <= 15 s, cached reload <= 1 s.
The challenge CSV is generated from the parquet copy first (the shared folder has no CSV).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from fer import data


def timed(label: str, action) -> tuple[str, float, data.FaceDataset]:
    start = time.perf_counter()
    result = action()
    return label, time.perf_counter() - start, result


def main(folder: Path) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["FER_ARTIFACTS"] = scratch
        csv = Path(scratch) / "fer2013.csv"
        data.export_challenge_csv(data.read_source(folder), csv)
        rows = [
            timed("import Kaggle zip (+ cache write)", lambda: data.import_dataset(folder / "fer2013.zip")),
            timed("import parquet folder (+ cache write)", lambda: data.import_dataset(folder)),
            timed("import challenge CSV (+ cache write)", lambda: data.import_dataset(csv)),
            timed("cached reload", data.load_imported),
        ]
    print(f"{'step':40} {'seconds':>8} {'images':>8}")
    for label, seconds, dataset in rows:
        print(f"{label:40} {seconds:8.2f} {len(dataset):8,}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/datasets/fer2013"))
