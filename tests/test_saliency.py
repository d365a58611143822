"""Occlusion maps: where they point on real sample faces with the committed reference model, where
they point for a model whose evidence is known, one model call for all faces, and bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fer import saliency, store
from fer.data import load_sample
from fer.errors import FerError
from fer.inference import classify_faces, load_classifier

BLANK = 12
"""Side of the square blanked around a map's hottest or coldest pixel: bigger than the map's
patch, so the test does not just replay how the map was made."""


class CornerModel:
    """A stand-in classifier whose only evidence is the top-right 12x12 corner: class 0's
    probability is that corner's mean brightness, the rest share what is left."""

    def predict_on_batch(self, faces: np.ndarray) -> np.ndarray:
        first = faces[:, :12, 36:, 0].reshape(len(faces), -1).mean(axis=1) / 255
        return np.column_stack([first, *[(1 - first) / 6] * 6]).astype(np.float32)


@pytest.fixture
def reference_model(committed_references: Path) -> Any:
    (shipped,) = [run for run in store.reference_runs() if run.model_path.exists()]
    return load_classifier(shipped.model_path)


def blanked(face: np.ndarray, centre: tuple[int, int]) -> np.ndarray:
    """The face with a BLANK-pixel square around ``centre`` (kept inside the face) set to its mean grey."""
    y, x = (min(max(0, c - BLANK // 2), 48 - BLANK) for c in centre)
    copy = face.copy()
    copy[y : y + BLANK, x : x + BLANK] = round(float(face.mean()))
    return copy


def test_hiding_the_most_salient_region_costs_the_prediction_more_than_the_least_salient(reference_model: Any) -> None:
    sample = load_sample()
    faces = sample.images[np.flatnonzero(sample.usage != 0)[:8]]  # the first 8 test faces
    maps = saliency.occlusion_maps(reference_model, faces)
    before = classify_faces(reference_model, faces)
    drops = []
    for face, drove, probabilities in zip(faces, maps, before):
        predicted = int(probabilities.argmax())
        hottest = np.unravel_index(int(drove.argmax()), drove.shape)
        coldest = np.unravel_index(int(drove.argmin()), drove.shape)
        after = classify_faces(reference_model, np.stack([blanked(face, hottest), blanked(face, coldest)]))
        drops.append(probabilities[predicted] - after[:, predicted])
    hot, cold = np.array(drops).T
    # A face read from everywhere at once (no patch moves it) may have no hottest region: most faces do.
    assert (hot > cold).sum() >= 7 and hot.mean() > cold.mean() + 0.2, drops
    assert saliency.occlusion_maps(reference_model, faces[3:4])[0] == pytest.approx(maps[3], abs=1e-5)  # alone as in a batch


def test_the_map_lies_where_the_evidence_is() -> None:
    face = np.zeros((48, 48), np.uint8)
    face[:12, 36:] = 255  # class 0's evidence, bright
    (drove,) = saliency.occlusion_maps(CornerModel(), face[None])
    assert drove.shape == (48, 48) and drove.dtype == np.float32
    assert drove[:12, 36:].min() > 0  # every pixel of the corner: hiding it lowers class 0
    assert np.all(drove[20:, :] == 0) and np.all(drove[:, :28] == 0)  # no patch there touches the corner
    y, x = np.unravel_index(int(drove.argmax()), drove.shape)
    assert y < 12 and x >= 36
    # With flip TTA the mirror image's top-right corner, the face's dark top-left one, counts too:
    # lightening it with the mean grey raises class 0, so the map there is negative.
    (mirrored,) = saliency.occlusion_maps(CornerModel(), face[None], tta="flip")
    assert mirrored[:12, :12].max() < 0 and mirrored[:12, 36:].min() > 0


def test_all_faces_go_through_the_model_in_one_call(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def counted(model: Any, faces: np.ndarray, **options: Any) -> np.ndarray:
        calls.append(len(faces))
        return classify_faces(model, faces, **options)

    monkeypatch.setattr(saliency, "classify_faces", counted)
    faces = np.random.default_rng(0).integers(0, 256, (3, 48, 48), dtype=np.uint8)
    maps = saliency.occlusion_maps(CornerModel(), faces, patch=8, stride=4)
    assert maps.shape == (3, 48, 48) and calls == [3 + 3 * 11 * 11]  # the intact faces and 121 copies of each
    assert saliency.occlusion_maps(CornerModel(), faces[:0]).shape == (0, 48, 48)


def test_patches_cover_every_pixel() -> None:
    assert len(saliency.patch_corners(8, 4)) == 121
    corners = saliency.patch_corners(10, 4)  # 48 - 10 = 38 is not a multiple of 4: a last patch flush with the edge
    covered = np.zeros((48, 48), bool)
    for y, x in corners:
        covered[y : y + 10, x : x + 10] = True
    assert covered.all() and max(x for _, x in corners) == 38


@pytest.mark.parametrize(
    ("faces", "options"),
    [
        (np.zeros((1, 32, 32), np.uint8), {}),
        (np.zeros((1, 48, 48), np.float32), {}),
        (np.zeros((1, 48, 48), np.uint8), {"patch": 0}),
        (np.zeros((1, 48, 48), np.uint8), {"stride": 0}),
    ],
)
def test_bad_input_is_a_readable_error(faces: np.ndarray, options: dict[str, int]) -> None:
    with pytest.raises(FerError):
        saliency.occlusion_maps(CornerModel(), faces, **options)
