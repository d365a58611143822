"""How often does face detection find the face in a FER2013 test crop? Ours vs the usual tool.

The baseline is what users would otherwise reach for: the ``fer`` PyPI package's detector,
OpenCV's default frontal-face Haar cascade called with scaleFactor 1.1, minNeighbors 5 and
minSize 50x50 on the grayscale image (emulated here, the package itself is not needed). The issue
reported it finding faces in 31 of 50 test crops upscaled to 192x192, 41 of 50 after adding a
48 px border, and never in a raw 48x48 crop.

    python benchmarks/face_detection.py [--n 500] [--source PATH]

Uses the first N images of ``../shared/datasets/fer2013/test.parquet`` (beside the repository)
when it is there, else the shipped sample's test images (and says so). A hit is an image in
which at least one face box was found; ``fer.faces.detect_faces`` is counted twice: with real
detector boxes only, and with the tight-crop fallback (a small square image with no detection
taken whole), which is what the Classify page gets.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer.data import USAGES, load_sample, read_source  # noqa: E402
from fer.errors import FerError  # noqa: E402
from fer.faces import CASCADE_DIRS, detect_faces  # noqa: E402

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fer2013" / "test.parquet"
ISSUE_N = 50  # the issue's numbers are for the first 50 test images


@functools.lru_cache(maxsize=1)
def default_cascade() -> cv2.CascadeClassifier:
    """The cascade the ``fer`` package uses (``fer.faces`` uses the ``alt2`` one)."""
    name = "haarcascade_frontalface_default.xml"
    for folder in CASCADE_DIRS:
        if folder and os.path.isfile(os.path.join(folder, name)):
            return cv2.CascadeClassifier(os.path.join(folder, name))
    raise FerError(f"{name} not found in {', '.join(filter(None, CASCADE_DIRS))}")


def baseline_boxes(image: np.ndarray) -> np.ndarray:
    """The ``fer`` package's detector: the default cascade on the grayscale image."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    found = default_cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(50, 50))
    return np.asarray(found).reshape(-1, 4)


def bordered_baseline_boxes(image: np.ndarray) -> np.ndarray:
    """The issue's quick fix: the baseline after adding a 48 px black border."""
    return baseline_boxes(cv2.copyMakeBorder(image, 48, 48, 48, 48, cv2.BORDER_CONSTANT, value=0))


def load_faces(n: int, source: Path) -> tuple[np.ndarray, str]:
    if source.exists():
        images = read_source(source).images[:n]
        return images, f"first {len(images)} images of {source}"
    sample = load_sample()
    images = sample.images[sample.usage != USAGES.index("Training")][:n]
    return images, f"{source} not found: using the shipped sample's {len(images)} test images instead"


def timed(images: list[np.ndarray], find: Callable[[np.ndarray], object]) -> tuple[list, float]:
    start = time.perf_counter()
    results = [find(image) for image in images]
    return results, (time.perf_counter() - start) / len(images) * 1000


def measure(images: list[np.ndarray]) -> dict[str, float]:
    base, base_ms = timed(images, baseline_boxes)
    bordered, _ = timed(images, bordered_baseline_boxes)
    ours, ours_ms = timed(images, detect_faces)
    return {
        "baseline": sum(len(boxes) > 0 for boxes in base),
        "baseline+48px": sum(len(boxes) > 0 for boxes in bordered),
        "ours (boxes)": sum(any(not face.whole_image for face in faces) for faces in ours),
        "ours (+fallback)": sum(len(faces) > 0 for faces in ours),
        "baseline ms": base_ms,
        "ours ms": ours_ms,
    }


def table(faces: np.ndarray) -> str:
    variants = {
        "raw 48x48": list(faces),
        "upscaled 192x192": [cv2.resize(face, (192, 192), interpolation=cv2.INTER_LINEAR) for face in faces],
    }
    columns = ["baseline", "baseline+48px", "ours (boxes)", "ours (+fallback)", "baseline ms", "ours ms"]
    n = len(faces)
    lines = [f"{'input':<18}" + "".join(f"{name:>18}" for name in columns)]
    for name, images in variants.items():
        row = measure(images)
        cells = [f"{row[c]:.1f}" if c.endswith("ms") else f"{row[c]}/{n} ({row[c] / n:.0%})" for c in columns]
        lines.append(f"{name:<18}" + "".join(f"{cell:>18}" for cell in cells))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="number of test crops (default 500)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="FER2013 test parquet")
    args = parser.parse_args()
    faces, description = load_faces(args.n, args.source)
    print(f"{description}; OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads")
    print("hits = images with at least one face found; ms = milliseconds per image\n")
    print(table(faces))
    if len(faces) > ISSUE_N:
        print(f"\nfirst {ISSUE_N} (the issue: baseline 0/50 raw, 31/50 at 192x192, 41/50 with a 48 px border)")
        print(table(faces[:ISSUE_N]))


if __name__ == "__main__":
    main()
