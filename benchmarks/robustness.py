"""How the default model's accuracy holds up when a face is photographed worse: JPEG, blur, light, noise, tilt.

    python -m benchmarks.robustness [--model artifacts/reference/<run>/model.keras] [--side 192] [--only dark tilt]
    python -m benchmarks.robustness --against OTHER/model.keras    # two models, each row's answers paired

Each PrivateTest face (the standard protocol's test split; the shipped sample's test faces when
the full FER2013 has not been imported) is enlarged to SIDE px, as a face of that size in a
photo or a video frame, degraded there, and brought back to 48x48: by :func:`fer.images.to_face`
alone ("as cut"), and by :func:`fer.images.photo_face`, as the Classify page brings a face crop to
the model (equalized when its grey levels are not spread as FER2013's: "as classified"). A
degradation is seen through the same shrinking a real one is. The model uses its run's test-time
augmentation. The first row is the round trip alone; each other row's "as classified" answers are
paired with the first row's on the same faces (the Compare page's test,
:func:`fer.significance.paired_comparison`: the difference with a 95% bootstrap interval and
McNemar's exact p). With ``--against``, each row pairs the model's "as classified" answers with another
model's on the same degraded faces instead (a previous default, with its run's ``config.json`` beside it
for its test-time augmentation). The conditions are :mod:`fer.robustness`'s (what ``python -m fer
robustness RUN`` keeps in a run's metrics and the Classify page draws), plus tilted heads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from benchmarks.private_test import Scoring, private_test
from fer.images import photo_face, to_face
from fer.inference import classify_faces
from fer.robustness import Degradation, degradations, seen_as
from fer.significance import paired_comparison


def tilted(degrees: float) -> Degradation:
    """A head tilted by ``degrees``, not turned level: the Classify page levels it first (benchmarks/tilt.py)."""

    def rotated(face: np.ndarray) -> np.ndarray:
        side = face.shape[0]
        matrix = cv2.getRotationMatrix2D((side / 2, side / 2), degrees, 1.0)
        return cv2.warpAffine(face, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    return rotated


def conditions(side: int) -> dict[str, Degradation]:
    """:func:`fer.robustness.degradations` (what ``python -m fer robustness`` measures), then tilted heads."""
    return degradations(side) | {"tilted 15 degrees": tilted(15), "tilted 30 degrees": tilted(30)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--against", type=Path, help="another model, each row's answers paired with the model's")
    parser.add_argument("--side", type=int, default=192, help="the face's size in the photo, px (default 192)")
    parser.add_argument("--only", nargs="+", metavar="WORD", help="only the rows whose name holds one of these words")
    args = parser.parse_args()
    scoring = private_test(args.model)
    faces, labels = scoring.faces, scoring.labels
    print(f"{scoring.heading()}, at {args.side} px\n")
    rows = {
        name: degrade for number, (name, degrade) in enumerate(conditions(args.side).items())
        if number == 0 or not args.only or any(word in name for word in args.only)
    }
    if args.against:
        against(scoring, private_test(args.against), rows, args.side)
        return
    print(
        "| the face | accuracy as cut | as classified | as classified, against the first row: points (95% CI) | McNemar p |\n"
        "|---|---:|---:|---:|---:|"
    )
    baseline = None
    for name, degrade in rows.items():
        cut, classified = (
            classify_faces(scoring.model, seen_as(faces, args.side, degrade, prepare), tta=scoring.tta).argmax(axis=1) == labels
            for prepare in (lambda face: to_face(face)[0], photo_face)
        )
        if baseline is None:
            baseline = classified
            print(f"| {name} | {cut.mean():.4f} | {classified.mean():.4f} | | |", flush=True)
            continue
        print(f"| {name} | {cut.mean():.4f} | {classified.mean():.4f} | {_paired(baseline, classified)} |", flush=True)


def against(scoring: Scoring, other: Scoring, rows: dict[str, Degradation], side: int) -> None:
    """Each row's faces as classified by ``scoring``'s model and by ``other``'s, paired."""
    print(f"against {other.heading()}\n")
    print("| the face | this model | the other | this model against the other: points (95% CI) | McNemar p |\n|---|---:|---:|---:|---:|")
    for name, degrade in rows.items():
        seen = seen_as(scoring.faces, side, degrade)
        mine, theirs = (
            classify_faces(model.model, seen, tta=model.tta).argmax(axis=1) == scoring.labels for model in (scoring, other)
        )
        print(f"| {name} | {mine.mean():.4f} | {theirs.mean():.4f} | {_paired(theirs, mine)} |", flush=True)


def _paired(before: np.ndarray, after: np.ndarray) -> str:
    """``after``'s right answers against ``before``'s on the same faces: the table's last two cells."""
    paired = paired_comparison(before, after)
    return f"{100 * paired.difference:+.1f} ({100 * paired.ci_low:+.1f} to {100 * paired.ci_high:+.1f}) | {paired.p_value:.2g}"


if __name__ == "__main__":
    main()
