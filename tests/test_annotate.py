"""Drawing results: photos resized for display, boxes and labels in each emotion's colour,
enlarged crops and saliency overlays; and that drawing loads no charting or model library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer import annotate
from fer.errors import FerError
from fer.faces import Face
from fer.vocab import CLASS_COLORS

from .conftest import one_hot

ROOT = Path(__file__).resolve().parents[1]


def face_at(box: tuple[int, int, int, int], whole_image: bool = False, tilt: float | None = None) -> Face:
    return Face(box, np.zeros((48, 48), np.uint8), whole_image, tilt=tilt)


def is_color(pixel: np.ndarray, name: str) -> bool:
    return tuple(int(v) for v in pixel) == CLASS_COLORS[name]


def line_width(column: np.ndarray, name: str) -> int:
    """How many pixels of a row or column of the image have the colour of emotion ``name``."""
    return sum(is_color(pixel, name) for pixel in column)


def drawn(photo: np.ndarray, faces: list[Face], probabilities: np.ndarray) -> np.ndarray:
    image, scale = annotate.display_image(photo)
    return annotate.annotate(image, faces, probabilities, scale)


def test_face_label() -> None:
    assert annotate.face_label(3, one_hot("surprise", 0.873)) == "3 surprise 87%"


def test_drawing_loads_no_charting_or_model_library() -> None:
    """The Classify page draws every photo: importing the drawing must stay cheap (it once pulled
    in Plotly, pandas and the run store through the charts, for the colours)."""
    heavy = ("plotly", "pandas", "keras", "tensorflow", "fer.charts", "fer.predict", "fer.runs", "fer.study")
    probe = f"import sys, fer.annotate; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert loaded.stdout.strip() == "[]"


def test_faces_and_probabilities_must_match() -> None:
    with pytest.raises(FerError, match="1 faces but 0"):
        annotate.annotate(np.zeros((50, 50, 3), np.uint8), [face_at((0, 0, 5, 5))], np.zeros((0, 7)))


def test_annotate_draws_each_box_in_its_emotions_colour_on_a_copy() -> None:
    photo = np.zeros((400, 600, 3), np.uint8)
    photo[...] = (10, 20, 30)  # BGR
    display, scale = annotate.display_image(photo)
    assert scale == 1.0 and tuple(display[0, 0]) == (30, 20, 10)  # RGB
    original = display.copy()
    faces = [face_at((100, 150, 120, 120)), face_at((350, 100, 150, 150))]
    image = annotate.annotate(display, faces, np.stack([one_hot("happy"), one_hot("angry")]), scale)
    assert np.array_equal(display, original)  # drawn on a copy
    assert image.shape == (400, 600, 3) and image.dtype == np.uint8
    assert tuple(image[390, 5]) == (30, 20, 10)  # away from boxes: the photo, as RGB
    assert is_color(image[210, 100], "happy") and is_color(image[210, 219], "happy")  # left and right edges
    assert is_color(image[269, 160], "happy")  # bottom edge
    assert is_color(image[175, 350], "angry") and is_color(image[249, 499], "angry")
    assert tuple(image[210, 160]) == (30, 20, 10)  # inside the box: the face itself
    # The label sits on a band of the box's colour above it, with dark or light text on it.
    band = image[120:148, 100:220]
    assert line_width(band.reshape(-1, 3), "happy") > band.shape[0] * band.shape[1] // 3
    assert (band != CLASS_COLORS["happy"]).any(axis=2).sum() > 50


def test_a_leveled_face_is_boxed_turned_as_it_was_cut() -> None:
    photo = np.zeros((400, 400, 3), np.uint8)
    slight, leveled = (drawn(photo, [face_at((100, 100, 200, 200), tilt=tilt)], one_hot("fear")[None]) for tilt in (5, 30))
    # A tilt under LEVEL_MIN_TILT is cut, and drawn, upright: the box's left edge at x = 100.
    assert is_color(slight[200, 100], "fear") and is_color(slight[298, 200], "fear")
    # Tilted 30 degrees clockwise, the square turns about its centre (200, 200): its corners lie at
    # 200 ± 100 (cos 30 ± sin 30) = (63, 337) and its side's midpoints 100 px from the centre.
    assert not is_color(leveled[200, 100], "fear") and not is_color(leveled[298, 200], "fear")
    left_mid = (200 - 100 * np.cos(np.radians(30)), 200 - 100 * np.sin(np.radians(30)))  # turned clockwise
    x, y = (round(v) for v in left_mid)
    assert line_width(leveled[y - 2 : y + 3, x - 3 : x + 4].reshape(-1, 3), "fear") > 0
    assert leveled[63:338, 63:338].any() and not leveled[:, :55].any()
    # Its label sits on its top corner, (200 - 100 (cos 30 - sin 30), 200 - 100 (cos 30 + sin 30)) = (163, 63).
    band = leveled[45:61, 166:200].reshape(-1, 3)
    assert line_width(band, "fear") > len(band) // 2 and line_width(slight[45:61, 166:200].reshape(-1, 3), "fear") == 0


def test_annotate_puts_the_label_inside_a_box_touching_the_top() -> None:
    photo = np.full((300, 300), 200, np.uint8)  # grayscale is fine too
    image = drawn(photo, [face_at((50, 0, 200, 200))], one_hot("sad")[None])
    assert image.shape == (320, 320, 3)  # enlarged to the display minimum
    top_rows = image[3:25, 60:140].reshape(-1, 3)
    assert line_width(top_rows, "sad") > len(top_rows) // 3


def test_large_photos_are_shrunk_for_display_and_boxes_scale_with_them() -> None:
    large = np.full((3000, 4000, 3), 90, np.uint8)
    small = np.full((300, 400, 3), 90, np.uint8)
    row = one_hot("neutral")[None]
    big = drawn(large, [face_at((1000, 1000, 1000, 1000))], row)
    little = drawn(small, [face_at((100, 100, 100, 100))], row)
    assert big.shape == (960, 1280, 3) and little.shape == (300, 400, 3)
    assert is_color(big[400, 320], "neutral")  # the box's left edge, scaled with the photo
    assert line_width(big[400, 300:360], "neutral") > line_width(little[150, 90:130], "neutral") >= 2


def test_display_scale_and_enlarged_crops() -> None:
    assert annotate.display_scale(48, 48) == pytest.approx(annotate.DISPLAY_MIN_SIDE / 48)
    assert annotate.display_scale(600, 800) == 1.0
    assert annotate.display_scale(6000, 2000) == pytest.approx(annotate.DISPLAY_MAX_SIDE / 6000)
    crop = np.arange(48 * 48, dtype=np.uint16).reshape(48, 48).astype(np.uint8)
    shown = annotate.enlarged(crop, 3)
    assert shown.shape == (144, 144) and np.array_equal(shown[::3, ::3], crop) and np.array_equal(shown[2::3, 2::3], crop)
    image = drawn(np.dstack([crop] * 3), [face_at((0, 0, 48, 48), True)], one_hot("fear")[None])
    assert image.shape == (320, 320, 3)


def test_saliency_overlay_is_red_where_the_evidence_is_and_blue_elsewhere() -> None:
    crop = np.full((48, 48), 128, np.uint8)
    drove = np.zeros((48, 48), np.float32)
    drove[:16, :16] = 0.3  # top-left drove the prediction
    drove[32:, 32:] = -0.2  # bottom-right spoke against it: shown like regions that did nothing
    overlay = annotate.saliency_overlay(crop, drove, factor=3)
    assert overlay.shape == (144, 144, 3) and overlay.dtype == np.uint8
    red, green, blue = (int(v) for v in overlay[10, 10])
    assert red > blue + 60 and red > green + 60  # hottest: red over the grey face
    for y, x in ((130, 130), (130, 10)):
        red, green, blue = (int(v) for v in overlay[y, x])
        assert blue > red + 15 and red > 80  # cold: a blue tint, the face still showing through
    assert np.array_equal(overlay[130, 130], overlay[130, 10])
    flat = annotate.saliency_overlay(crop, np.zeros((48, 48), np.float32), factor=3)  # nothing mattered: no error
    assert np.all(flat == flat[0, 0])
    with pytest.raises(FerError, match="same shape"):
        annotate.saliency_overlay(crop, np.zeros((24, 24), np.float32))
