"""Why the model said so: occlusion sensitivity maps of faces.

A square patch of the face's own mean grey slides over the 48x48 crop; wherever hiding the
region lowers the probability of the class the model predicted for the whole face, that
region drove the prediction. Only forward passes are needed (no gradients), so it works the
same with every Keras backend and every saved model, and all occluded copies of all faces go
through the model in one batched :func:`fer.inference.classify_faces` call.

With an 8 px patch moved 4 px at a time, a face costs 121 occluded copies, and the time grows
with the number of faces: with the committed default model (the FER-CNN) on a 2-core CPU that
was training a model at the same time, 0.12 s a face, 0.22 s with flip TTA (each copy is
classified twice), so close to a second for a photo of four faces; on a quiet 2-core AMD EPYC,
0.14 s, 0.28 s with flip TTA and 1.45 s with shift TTA (10 views), about 6 s for four faces.
That is why the Classify page draws the maps only when asked to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from fer.errors import FerError
from fer.images import FACE_SIZE
from fer.inference import check_faces, classify_faces

if TYPE_CHECKING:
    import keras

PATCH = 8
"""Side of the hiding patch in pixels of the 48x48 crop: about an eye or a mouth corner."""
STRIDE = 4
"""Step between patch positions: half a patch, so each pixel is hidden by up to four patches."""


def occlusion_maps(
    model: keras.Model, faces: np.ndarray, *, patch: int = PATCH, stride: int = STRIDE, tta: str = "none"
) -> np.ndarray:
    """Occlusion sensitivity ``(N, 48, 48)`` float32 of uint8 faces ``(N, 48, 48)``.

    Each pixel holds the mean drop, over the patch positions hiding it, of the probability of
    the class predicted for the intact face (``tta`` as in :func:`classify_faces`, so the
    map explains the prediction the user sees). Positive: hiding the region weakens the
    prediction; negative: the region spoke against it. One model call for all faces.
    """
    faces = check_faces(faces)
    if not 1 <= patch <= FACE_SIZE or stride < 1:
        raise FerError(f"the patch must be 1 to {FACE_SIZE} pixels and the stride at least 1, not {patch} and {stride}")
    if len(faces) == 0:
        return np.zeros((0, FACE_SIZE, FACE_SIZE), np.float32)
    corners = patch_corners(patch, stride)
    occluded = np.repeat(faces[:, None], len(corners), axis=1)  # (N, P, 48, 48)
    fill = np.round(faces.reshape(len(faces), -1).mean(axis=1)).astype(np.uint8)
    for k, (y, x) in enumerate(corners):
        occluded[:, k, y : y + patch, x : x + patch] = fill[:, None, None]
    probabilities = classify_faces(
        model, np.concatenate([faces, occluded.reshape(-1, FACE_SIZE, FACE_SIZE)]), tta=tta
    )
    intact, hidden = probabilities[: len(faces)], probabilities[len(faces) :].reshape(len(faces), len(corners), -1)
    predicted = intact.argmax(axis=1)[:, None]
    hidden_predicted = np.take_along_axis(hidden, predicted[..., None], axis=2)[..., 0]  # (N, P)
    drops = np.take_along_axis(intact, predicted, axis=1) - hidden_predicted
    return _spread(drops, corners, patch)


def patch_corners(patch: int, stride: int) -> list[tuple[int, int]]:
    """Top-left (y, x) of every patch position, the last row and column flush with the edge so
    that every pixel is hidden at least once."""
    starts = list(range(0, FACE_SIZE - patch + 1, stride))
    if starts[-1] != FACE_SIZE - patch:
        starts.append(FACE_SIZE - patch)
    return [(y, x) for y in starts for x in starts]


def _spread(drops: np.ndarray, corners: list[tuple[int, int]], patch: int) -> np.ndarray:
    """Per-pixel mean of the drops ``(N, P)`` of the patches covering each pixel."""
    total = np.zeros((len(drops), FACE_SIZE, FACE_SIZE), np.float32)
    covered = np.zeros((FACE_SIZE, FACE_SIZE), np.float32)
    for k, (y, x) in enumerate(corners):
        total[:, y : y + patch, x : x + patch] += drops[:, k, None, None]
        covered[y : y + patch, x : x + patch] += 1
    return total / covered
