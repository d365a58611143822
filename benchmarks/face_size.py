"""How small a face the default model can still read: accuracy on test faces shrunk and enlarged back.

    python -m benchmarks.face_size [--model artifacts/reference/<run>/model.keras] [--sizes 48 32 24 20 16 12]

Each PrivateTest face (the standard protocol's test split; the shipped sample's test faces
when the full FER2013 has not been imported) is shrunk to S x S pixels with INTER_AREA, as a
small face in a photo was taken, and brought back to 48x48 by :func:`fer.images.to_face`, as
the Classify page brings a face crop to the model (FER2013's faces need no equalizing,
:func:`fer.images.photo_face`). The model uses the test-time augmentation its run was scored
with. The table is what :data:`fer.faces.MIN_FACE_PX` is chosen from; the last row is the
score of always answering the most common class.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from benchmarks.private_test import private_test
from fer.images import to_face
from fer.inference import classify_faces


def shrunk(faces: np.ndarray, size: int) -> np.ndarray:
    """The faces shrunk to ``size`` px and brought back to 48x48 as the Classify page would."""
    return np.stack([to_face(cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA))[0] for face in faces])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 32, 24, 20, 16, 12])
    args = parser.parse_args()
    scoring = private_test(args.model)
    faces, labels = scoring.faces, scoring.labels
    print(scoring.heading() + "\n")
    print("| face side (px) | accuracy |\n|---:|---:|")
    for size in args.sizes:
        accuracy = (classify_faces(scoring.model, shrunk(faces, size), tta=scoring.tta).argmax(1) == labels).mean()
        print(f"| {size} | {accuracy:.3f} |")
    print(f"| always the most common class | {np.bincount(labels).max() / len(labels):.3f} |")


if __name__ == "__main__":
    main()
