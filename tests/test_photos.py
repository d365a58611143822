"""The photo pipeline: one result per photo, each bad file reported on its own, all faces in one
model call, large photos in bounded memory, and the results table; with a real trained model
on photos built from real sample faces."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import pytest

from fer import images, photos, runs
from fer.annotate import DISPLAY_MAX_SIDE
from fer.faces import detect_faces, whole_image_face
from fer.images import decode_photo
from fer.inference import classify_faces, load_classifier
from fer.saliency import occlusion_maps
from fer.vocab import CLASSES

from .conftest import encoded, face, group_photo, with_png_size
from .conftest import photos as sample_photos


class Counting:
    """A model that counts the calls of its predict methods."""

    def __init__(self, model: Any) -> None:
        self.model, self.calls = model, 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.model, name)
        if not name.startswith("predict"):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture
def model(finished_run: str) -> Any:
    return load_classifier(runs.get_run(finished_run).model_path)


def test_each_photo_gets_its_result_and_a_bad_file_hides_nothing(model: Any) -> None:
    good = sample_photos()
    given = [
        ("empty.jpg", b""),
        ("crop.png", good["crop.png"]),
        ("notes.png", b"hello"),
        ("group.png", good["group.png"]),
        ("huge.png", with_png_size(good["crop.png"], 20_000, 20_000)),
        ("tiny.png", encoded(face(612)[:10, :10], ".png")),
        ("gray.jpg", good["gray.jpg"]),
    ]
    counting = Counting(model)
    results = photos.classify_photos(counting, given)
    assert counting.calls == 1  # every face of the batch in one model call
    assert [r.name for r in results] == [name for name, _ in given]
    errors = {r.name: r.error for r in results if r.error}
    assert errors["empty.jpg"] == "empty.jpg: empty file (0 bytes), not an image"
    assert errors["notes.png"].startswith("notes.png: not a readable image")
    assert errors["huge.png"].startswith("huge.png: 20000x20000 pixels (400 megapixels) is too large to open")
    assert errors["tiny.png"].startswith("tiny.png: ") and "too small" in errors["tiny.png"]
    for result in results:
        if result.error:
            assert result.image is None and not result.faces and len(result.probabilities) == 0
            continue
        content = dict(given)[result.name]
        faces = detect_faces(decode_photo(content, result.name)[0])
        assert [f.box for f in result.faces] == [f.box for f in faces]
        assert result.probabilities == pytest.approx(classify_faces(model, np.stack([f.crop for f in faces])), abs=1e-5)
        assert result.image.ndim == 3 and max(result.image.shape[:2]) <= DISPLAY_MAX_SIDE
    assert [len(r.faces) for r in results if not r.error] == [1, 3, 1]


def test_a_photo_without_faces_and_the_whole_image_option(model: Any) -> None:
    blank = np.full((300, 400, 3), 128, np.uint8)
    given = [("blank.png", encoded(blank, ".png")), ("crop.png", sample_photos()["crop.png"])]
    nothing, crop = photos.classify_photos(model, given)
    assert not nothing.error and not nothing.faces and nothing.image.shape == (300, 400, 3)
    assert len(crop.faces) == 1
    whole, _ = photos.classify_photos(model, given, whole_images={0})
    (only,) = whole.faces
    assert only.whole_image and only.box == (0, 0, 400, 300)
    assert whole.probabilities == pytest.approx(classify_faces(model, whole_image_face(blank).crop[None]), abs=1e-5)


def test_a_large_jpeg_is_read_shrunk_and_its_boxes_are_in_its_own_pixels(
    model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = cv2.resize(group_photo(), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)  # 1400x720
    content = encoded(photo, ".jpg")
    (full,) = photos.classify_photos(model, [("group.jpg", content)])
    monkeypatch.setattr(images, "PHOTO_MAX_PIXELS", 400_000)  # 1,008,000 pixels: read at half size
    (half,) = photos.classify_photos(model, [("group.jpg", content)])
    assert full.shrunk == 1 and half.shrunk == 2
    assert len(half.faces) == len(full.faces) == 3
    for small, big in zip(half.faces, full.faces):
        # The same place, in the photo's pixels: at most a detection scale step apart (Haar's is 1.1x).
        assert np.abs(np.subtract(small.box, big.box)).max() <= 0.15 * big.box[2]
    (whole,) = photos.classify_photos(model, [("group.jpg", content)], whole_images={0})
    assert whole.faces[0].box == (0, 0, 1400, 720) == (0, 0, photo.shape[1], photo.shape[0])


def test_what_is_kept_of_a_photo_is_small() -> None:
    photo = np.full((3000, 4000, 3), 90, np.uint8)
    analysis = photos.analyse_photo("big.png", encoded(photo, ".png"))
    assert analysis.display.shape == (960, 1280, 3) and analysis.scale == pytest.approx(0.32)
    assert analysis.whole.box == (0, 0, 4000, 3000) and analysis.faces == ()
    kept = analysis.display.nbytes + analysis.whole.crop.nbytes
    assert kept < photo.nbytes / 9


def test_results_table_has_one_row_per_face_and_keeps_its_columns_when_empty(model: Any) -> None:
    good = sample_photos()
    results = photos.classify_photos(
        model, [("group.png", good["group.png"]), ("broken.png", b"x"), ("crop.png", good["crop.png"])]
    )
    table = photos.results_table(results)
    assert list(table.columns) == list(photos.RESULT_COLUMNS)
    assert list(table["file"]) == ["group.png"] * 3 + ["crop.png"] and list(table["face"]) == [1, 2, 3, 1]
    group = results[0]
    assert [tuple(r) for r in table[["box_x", "box_y", "box_width", "box_height"]].to_numpy()[:3]] == [
        f.box for f in group.faces
    ]
    assert table[list(CLASSES)].to_numpy()[:3] == pytest.approx(group.probabilities)
    assert list(table["emotion"])[:3] == [CLASSES[i] for i in group.probabilities.argmax(axis=1)]
    assert table["probability"].to_numpy()[:3] == pytest.approx(group.probabilities.max(axis=1))
    assert list(table["whole_image"]) == [f.whole_image for r in (results[0], results[2]) for f in r.faces]
    csv = table.to_csv(index=False).splitlines()
    assert csv[0] == ",".join(photos.RESULT_COLUMNS) and len(csv) == 5
    assert list(photos.results_table([]).columns) == list(photos.RESULT_COLUMNS)


def test_a_crop_taken_whole_says_so_in_the_csv(model: Any) -> None:
    given = [("whole.png", encoded(face(684), ".png")), ("found.png", encoded(face(612), ".png"))]
    whole, found = photos.classify_photos(model, given)
    assert whole.faces[0].whole_image and whole.faces[0].box == (0, 0, 48, 48) and whole.faces[0].detector is None
    assert not found.faces[0].whole_image and found.faces[0].box != (0, 0, 48, 48)
    header, *rows = photos.results_table([whole, found]).to_csv(index=False).splitlines()
    column = header.split(",").index("whole_image")
    assert [row.split(",")[column] for row in rows] == ["True", "False"]


def test_saliency_maps_come_only_when_asked_one_per_face_with_the_shown_prediction(model: Any) -> None:
    good = sample_photos()
    given = [("group.png", good["group.png"]), ("broken.png", b"x"), ("crop.png", good["crop.png"])]
    assert all(result.saliency is None for result in photos.classify_photos(model, given))
    group, broken, crop = photos.classify_photos(model, given, saliency=True, flip_tta=True)
    assert broken.saliency is None
    crops = np.stack([f.crop for f in (*group.faces, *crop.faces)])
    maps = np.concatenate([group.saliency, crop.saliency])
    assert maps.shape == (4, 48, 48)
    assert maps == pytest.approx(occlusion_maps(model, crops, flip_tta=True), abs=1e-5)
    assert not np.allclose(maps, occlusion_maps(model, crops, flip_tta=False), atol=1e-4)  # the same TTA as shown
