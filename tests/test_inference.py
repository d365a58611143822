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
