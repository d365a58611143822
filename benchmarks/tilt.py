"""Tilted heads: how many faces the Classify page finds, and classifies right, as the head tilts.

    python -m benchmarks.tilt [--split validation] [--degrees 0 10 20 30 40] [--min-tilt 15] [--limit N]

Each test face (PrivateTest, or PublicTest with ``--split validation``; the shipped sample's when
the full FER2013 has not been imported) is enlarged to 192 px on a 384 px photo (its edges
repeated outwards) and the photo is turned counter-clockwise by each of ``--degrees``. Each photo
goes through :func:`fer.faces.detect_faces` with YuNet, then the default model with its run's
test-time augmentation, three ways:

* **before**: searched upright only, and cut as found (the Classify page before faces were leveled);
* **turned search**: searched turned by :data:`fer.faces.TILTED_TURNS` too (always, as photos
  are since 2026-12-07; before, only when upright found none), still cut as found;
* **leveled at T**: as the Classify page does it, a face whose eye line is tilted by at least T
  degrees is turned level before it is cut (:data:`fer.faces.LEVEL_MIN_TILT`; ``--min-tilt``
  compares several).

Accuracy counts a face that was not found as wrong: it is the share of faces the page gets right.
Each way after the first is paired with "before" on the same faces (:func:`fer.significance.paired_comparison`).
Also printed: the time per photo, and the tilt YuNet measured: its median, and the 90th percentile of its size.
"""

from __future__ import annotations

import argparse
import time
from unittest import mock

import cv2
import numpy as np

from benchmarks.private_test import private_test
from fer import data, faces
from fer.dataset import protocol_splits
from fer.inference import classify_faces
from fer.significance import paired_comparison

SIDE = 192


def photo(face: np.ndarray, degrees: float) -> np.ndarray:
    """The face enlarged to SIDE px in the middle of a photo twice its size, turned by ``degrees``."""
    grown = cv2.resize(face, (SIDE, SIDE), interpolation=cv2.INTER_CUBIC)
    pad = SIDE // 2
    canvas = cv2.copyMakeBorder(grown, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    matrix = cv2.getRotationMatrix2D((SIDE, SIDE), degrees, 1.0)
    return cv2.warpAffine(canvas, matrix, (2 * SIDE, 2 * SIDE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def found_faces(photos: list[np.ndarray], detector: faces.Detector) -> tuple[list[faces.Face | None], float]:
    """Each photo's one face (the largest, as a video follows), or None; and the seconds per photo."""
    start = time.perf_counter()
    found = []
    for image in photos:
        detected = faces.detect_faces(image, detector=detector)
        found.append(max(detected, key=lambda face: face.box[2] * face.box[3]) if detected else None)
    return found, (time.perf_counter() - start) / len(photos)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--degrees", type=float, nargs="+", default=[0, 10, 20, 30, 40])
    parser.add_argument("--min-tilt", type=float, nargs="+", default=[faces.LEVEL_MIN_TILT])
    parser.add_argument("--limit", type=int, help="only the first N faces")
    args = parser.parse_args()
    scoring = private_test()
    images, labels = scoring.faces, scoring.labels
    if args.split == "validation":
        dataset = data.load_dataset("active")
        validation = protocol_splits(dataset, "standard")["validation"]
        images, labels = dataset.images[validation], dataset.labels[validation]
    images, labels = images[: args.limit], labels[: args.limit]
    detector = faces.active_detector()
    if detector.name != "yunet":
        raise SystemExit(f"this benchmark measures YuNet, which is not available: {detector.reason}")
    print(f"{scoring.path}, {scoring.tta} TTA: {len(labels)} {args.split} faces ({scoring.data} data) at {SIDE} px\n")
    never = float("inf")
    ways = {  # the way's name: the turns searched when nothing is found upright, and the tilt leveled from
        "before": ((), never),
        "turned search": (faces.TILTED_TURNS, never),
        **{f"leveled at {tilt:g}": (faces.TILTED_TURNS, tilt) for tilt in args.min_tilt},
    }
    print(
        "| turned by | way | faces found | accuracy | against before: points (95% CI) | McNemar p | ms per photo "
        "| YuNet's tilt: median, 90% within |\n|---:|---|---:|---:|---:|---:|---:|---|"
    )
    for degrees in args.degrees:
        photos = [photo(face, degrees) for face in images]
        before = None
        for way, (turns, min_tilt) in ways.items():
            with mock.patch.object(faces, "TILTED_TURNS", turns), mock.patch.object(faces, "LEVEL_MIN_TILT", min_tilt):
                found, seconds = found_faces(photos, detector)
            hit = np.array([face is not None for face in found])
            right = np.zeros(len(labels), bool)
            if hit.any():
                crops = np.stack([face.crop for face in found if face is not None])
                right[hit] = classify_faces(scoring.model, crops, tta=scoring.tta).argmax(axis=1) == labels[hit]
            tilts = np.array([face.tilt for face in found if face is not None])
            tilt = f"{np.median(tilts):+.1f}, {np.percentile(np.abs(tilts), 90):.1f}" if len(tilts) else ""
            change = p_value = ""
            if before is None:
                before = right
            else:
                paired = paired_comparison(before, right)
                change = f"{100 * paired.difference:+.1f} ({100 * paired.ci_low:+.1f} to {100 * paired.ci_high:+.1f})"
                p_value = f"{paired.p_value:.2g}"
            print(
                f"| {degrees:g} | {way} | {hit.mean():.3f} | {right.mean():.4f} | {change} | {p_value} "
                f"| {1000 * seconds:.1f} | {tilt} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
