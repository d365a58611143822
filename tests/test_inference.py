"""Reading a face's answer, and the one check of face arrays that classifying and explaining
share. (Loading models is tested in test_predict.py and test_models.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from fer import inference, saliency
from fer.errors import FerError

from .conftest import one_hot


class UnusedModel:
    """A model that must never be called: bad faces are refused before any prediction."""

    def predict_on_batch(self, faces: np.ndarray) -> np.ndarray:
        raise AssertionError("the model was called")


def test_top_emotion() -> None:
    name, p = inference.top_emotion(one_hot("surprise", 0.873))
    assert name == "surprise" and p == pytest.approx(0.873)
    assert inference.top_emotion(one_hot("angry", 0.5))[0] == "angry"


def test_no_faces_give_no_rows_of_every_emotion() -> None:
    probabilities = inference.classify_faces(UnusedModel(), np.zeros((0, 48, 48), np.uint8))
    assert probabilities.shape == (0, 7) and probabilities.dtype == np.float32


@pytest.mark.parametrize(
    "faces", [np.zeros((2, 32, 32), np.uint8), np.zeros((2, 48, 48), np.float32), np.zeros((48, 48), np.uint8)]
)
def test_classifying_and_explaining_refuse_bad_faces_alike(faces: np.ndarray) -> None:
    expected = f"faces must be uint8 of shape \\(N, 48, 48\\), got {faces.dtype}"
    for call in (inference.check_faces, lambda faces: inference.classify_faces(UnusedModel(), faces),
                 lambda faces: saliency.occlusion_maps(UnusedModel(), faces)):
        with pytest.raises(FerError, match=expected):
            call(faces)
    good = np.zeros((3, 48, 48), np.uint8)
    assert inference.check_faces(list(good)).shape == (3, 48, 48)  # anything numpy takes, as an array


class MeanModel:
    """Probabilities that depend on every pixel: a face's mean brightness in its left half
    against its top half, so a view shifted or mirrored gets other probabilities."""

    def predict_on_batch(self, faces: np.ndarray) -> np.ndarray:
        faces = np.asarray(faces, np.float32)[..., 0] / 255
        logits = np.zeros((len(faces), 7), np.float32)
        logits[:, 0], logits[:, 1] = faces[:, :, :24].mean(axis=(1, 2)) * 5, faces[:, :24].mean(axis=(1, 2)) * 5
        return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)


def test_tta_views_mirror_and_shift_each_face_by_two_pixels() -> None:
    face = np.zeros((1, 48, 48), np.uint8)
    face[0, 10, 20] = 255  # one bright pixel, far from the edges
    assert [len(inference.tta_views(face, kind)) for kind in ("none", "flip", "shift")] == [1, 2, 10]
    bright = sorted(tuple(np.argwhere(view[0])[0]) for view in inference.tta_views(face, "shift"))
    here = [(10, 20), (10, 22), (10, 18), (12, 20), (8, 20)]
    mirrored = [(y, 47 - x) for y, x in here]
    assert bright == sorted(here + mirrored)
    # At the edge, the edge pixels are repeated: nothing black comes in from outside a white face.
    white = np.full((1, 48, 48), 255, np.uint8)
    assert all(view.min() == 255 and view.shape == (1, 48, 48) for view in inference.tta_views(white, "shift"))


def test_tta_averages_the_views_and_refuses_unknown_kinds() -> None:
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (3, 48, 48), dtype=np.uint8)
    model = MeanModel()
    for kind in ("none", "flip", "shift"):
        expected = np.mean([model.predict_on_batch(view[..., None]) for view in inference.tta_views(faces, kind)], axis=0)
        assert inference.classify_faces(model, faces, tta=kind) == pytest.approx(expected, abs=1e-6)
    assert np.abs(inference.classify_faces(model, faces, tta="flip") - inference.classify_faces(model, faces)).max() > 1e-3
    with pytest.raises(FerError, match="test-time augmentation must be one of none, flip, shift, not 'mirror'"):
        inference.classify_faces(UnusedModel(), faces, tta="mirror")
