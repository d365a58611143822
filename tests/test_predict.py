"""What the Classify page builds from faces and probabilities: models to choose, drawn photos,
the results table; and that listing or drawing never loads Keras."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer import predict, runs
from fer.charts import CLASS_COLORS
from fer.data import CLASSES
from fer.errors import FerError
from fer.faces import Face

ROOT = Path(__file__).resolve().parents[1]


def one_hot(name: str, p: float = 0.9) -> np.ndarray:
    row = np.full(len(CLASSES), (1 - p) / (len(CLASSES) - 1), np.float32)
    row[CLASSES.index(name)] = p
    return row


def face_at(box: tuple[int, int, int, int], whole_image: bool = False) -> Face:
    return Face(box, np.zeros((48, 48), np.uint8), whole_image)


def is_color(pixel: np.ndarray, name: str) -> bool:
    return tuple(int(v) for v in pixel) == predict.rgb(CLASS_COLORS[name])


def line_width(column: np.ndarray, name: str) -> int:
    """How many pixels of a row or column of the image have the colour of emotion ``name``."""
    return sum(is_color(pixel, name) for pixel in column)


# ---------------------------------------------------------------------------------------------
# Choosing a model


def test_importing_predict_does_not_import_keras() -> None:
    code = "import sys, fer.predict; print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_available_models_lists_completed_runs_with_a_model_best_first(finished_run: str) -> None:
    run = runs.get_run(finished_run)
    metrics = run.metrics()
    # A better copy of the run, and copies that must not be offered: no model, not completed.
    better = run.path.with_name(f"{finished_run}-better")
    shutil.copytree(run.path, better)
    (better / "metrics.json").write_text(json.dumps({**metrics, "test_accuracy": metrics["test_accuracy"] + 0.5}))
    no_model = run.path.with_name(f"{finished_run}-nomodel")
    shutil.copytree(run.path, no_model)
    (no_model / "model.keras").unlink()
    failed = run.path.with_name(f"{finished_run}-failed")
    shutil.copytree(run.path, failed)
    runs.write_status(failed, state="failed")

    choices = predict.available_models()
    assert [c.run_id for c in choices] == [better.name, finished_run]
    first, second = choices
    assert second.path == run.model_path and second.name == "CNN" and second.data == "sample"
    assert second.test_accuracy == pytest.approx(metrics["test_accuracy"])
    assert second.test_split == metrics["test_split"]
    assert second.label == f"CNN, sample data, test acc {metrics['test_accuracy']:.3f} ({finished_run})"
    assert first.test_accuracy == pytest.approx(metrics["test_accuracy"] + 0.5)
    assert not first.reference and not second.reference


def test_no_runs_no_models() -> None:
    assert predict.available_models() == []


def test_reference_runs_that_ship_a_model_are_offered(
    finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = tmp_path / "reference"
    monkeypatch.setattr(runs, "REFERENCE_DIR", reference)
    source = runs.get_run(finished_run).path
    shipped = reference / "20260101-000000-custom-cnn-0000"
    shutil.copytree(source, shipped)
    (shipped / "metrics.json").write_text(json.dumps({**runs.get_run(finished_run).metrics(), "test_accuracy": 0.9}))
    without_model = reference / "20260101-000000-s2-vgg19-0000"
    shutil.copytree(source, without_model)
    (without_model / "model.keras").unlink()
    shutil.rmtree(source)  # only the reference runs are left

    (choice,) = predict.available_models()
    assert choice.reference and choice.run_id == shipped.name and choice.path == shipped / "model.keras"
    assert choice.label == f"CNN, sample data, test acc 0.900 (reference run {shipped.name})"
    assert choice.test_accuracy == pytest.approx(0.9)


# ---------------------------------------------------------------------------------------------
# Labels and the results table


def test_top_emotion_and_face_label() -> None:
    row = one_hot("surprise", 0.873)
    name, p = predict.top_emotion(row)
    assert name == "surprise" and p == pytest.approx(0.873)
    assert predict.face_label(3, row) == "3 surprise 87%"
    assert predict.top_emotion(one_hot("angry", 0.5))[0] == "angry"


def test_result_rows_hold_every_face_with_its_box_and_all_probabilities() -> None:
    faces = [face_at((10, 20, 30, 40)), face_at((100, 5, 50, 50))]
    probabilities = np.stack([one_hot("happy", 0.7), one_hot("sad", 0.6)])
    rows = predict.result_rows("party.jpg", faces, probabilities)
    assert [r["face"] for r in rows] == [1, 2] and {r["file"] for r in rows} == {"party.jpg"}
    assert [(r["box_x"], r["box_y"], r["box_width"], r["box_height"]) for r in rows] == [(10, 20, 30, 40), (100, 5, 50, 50)]
    assert [r["emotion"] for r in rows] == ["happy", "sad"]
    assert [r["probability"] for r in rows] == pytest.approx([0.7, 0.6])
    assert np.array([[r[c] for c in CLASSES] for r in rows]) == pytest.approx(probabilities)
    assert [r["whole_image"] for r in rows] == [False, False]

    table = predict.results_table(rows + predict.result_rows("me.png", [face_at((0, 0, 48, 48), True)], one_hot("fear")[None]))
    assert list(table.columns) == list(predict.RESULT_COLUMNS)
    assert list(table["file"]) == ["party.jpg", "party.jpg", "me.png"] and list(table["face"]) == [1, 2, 1]
    assert list(table["whole_image"]) == [False, False, True]
    csv = table.to_csv(index=False).splitlines()
    assert csv[0] == ",".join(predict.RESULT_COLUMNS) and len(csv) == 4
    assert list(predict.results_table([]).columns) == list(predict.RESULT_COLUMNS)


def test_faces_and_probabilities_must_match() -> None:
    with pytest.raises(FerError, match="2 faces but 1"):
        predict.result_rows("x.png", [face_at((0, 0, 5, 5))] * 2, one_hot("sad")[None])
    with pytest.raises(FerError, match="1 faces but 0"):
        predict.annotate(np.zeros((50, 50, 3), np.uint8), [face_at((0, 0, 5, 5))], np.zeros((0, 7)))


def test_rgb_reads_plotly_colours() -> None:
    assert predict.rgb("rgb(136, 204, 238)") == (136, 204, 238)
    assert predict.rgb("#0a10FF") == (10, 16, 255)
    with pytest.raises(FerError):
        predict.rgb("teal")
    assert all(len(predict.rgb(color)) == 3 for color in CLASS_COLORS.values())


# ---------------------------------------------------------------------------------------------
# Drawing


def test_annotate_draws_each_box_in_its_emotions_colour_on_an_rgb_copy() -> None:
    photo = np.zeros((400, 600, 3), np.uint8)
    photo[...] = (10, 20, 30)  # BGR
    original = photo.copy()
    faces = [face_at((100, 150, 120, 120)), face_at((350, 100, 150, 150))]
    image = predict.annotate(photo, faces, np.stack([one_hot("happy"), one_hot("angry")]))
    assert np.array_equal(photo, original)  # drawn on a copy
    assert image.shape == (400, 600, 3) and image.dtype == np.uint8
    assert tuple(image[390, 5]) == (30, 20, 10)  # away from boxes: the photo, as RGB
    assert is_color(image[210, 100], "happy") and is_color(image[210, 219], "happy")  # left and right edges
    assert is_color(image[269, 160], "happy")  # bottom edge
    assert is_color(image[175, 350], "angry") and is_color(image[249, 499], "angry")
    assert tuple(image[210, 160]) == (30, 20, 10)  # inside the box: the face itself
    # The label sits on a band of the box's colour above it, with dark or light text on it.
    band = image[120:148, 100:220]
    assert line_width(band.reshape(-1, 3), "happy") > band.shape[0] * band.shape[1] // 3
    assert (band != predict.rgb(CLASS_COLORS["happy"])).any(axis=2).sum() > 50


def test_annotate_puts_the_label_inside_a_box_touching_the_top() -> None:
    photo = np.full((300, 300), 200, np.uint8)  # grayscale is fine too
    image = predict.annotate(photo, [face_at((50, 0, 200, 200))], one_hot("sad")[None])
    assert image.shape == (320, 320, 3)  # enlarged to the display minimum
    top_rows = image[3:25, 60:140].reshape(-1, 3)
    assert line_width(top_rows, "sad") > len(top_rows) // 3


def test_annotate_downscales_large_photos_and_scales_lines_with_them() -> None:
    large = np.full((3000, 4000, 3), 90, np.uint8)
    small = np.full((300, 400, 3), 90, np.uint8)
    row = one_hot("neutral")[None]
    big = predict.annotate(large, [face_at((1000, 1000, 1000, 1000))], row)
    little = predict.annotate(small, [face_at((100, 100, 100, 100))], row)
    assert big.shape == (960, 1280, 3) and little.shape == (300, 400, 3)
    assert is_color(big[400, 320], "neutral")  # the box's left edge, scaled with the photo
    assert line_width(big[400, 300:360], "neutral") > line_width(little[150, 90:130], "neutral") >= 2


def test_display_scale_and_enlarged_crops() -> None:
    assert predict.display_scale(48, 48) == pytest.approx(predict.DISPLAY_MIN_SIDE / 48)
    assert predict.display_scale(600, 800) == 1.0
    assert predict.display_scale(6000, 2000) == pytest.approx(predict.DISPLAY_MAX_SIDE / 6000)
    crop = np.arange(48 * 48, dtype=np.uint16).reshape(48, 48).astype(np.uint8)
    shown = predict.enlarged(crop, 3)
    assert shown.shape == (144, 144) and np.array_equal(shown[::3, ::3], crop) and np.array_equal(shown[2::3, 2::3], crop)
    image = predict.annotate(np.dstack([crop] * 3), [face_at((0, 0, 48, 48), True)], one_hot("fear")[None])
    assert image.shape == (320, 320, 3)
