"""The Classify page through the app's router: real photos built from FER2013 sample faces,
classified with a real finished run's model, and checked against the library's own answers."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from fer import runs
from fer.data import CLASSES, load_sample
from fer.faces import detect_faces, whole_image_face
from fer.images import decode_photo
from fer.predict import classify_faces, load_classifier

from .test_app_overview import APP, chart, open_page, rerun, texts

GROUP = (609, 610, 611)
"""Sample faces (test split) that the detector finds one by one when pasted side by side."""
GROUP_SIZE, GROUP_GAP, GROUP_TOP = 160, 60, 100


def encoded(image: np.ndarray, extension: str) -> bytes:
    ok, buffer = cv2.imencode(extension, image)
    assert ok
    return buffer.tobytes()


@functools.lru_cache(maxsize=1)
def sample_images() -> np.ndarray:
    return load_sample().images


def face(index: int, size: int = 48) -> np.ndarray:
    image = sample_images()[index]
    return image if size == 48 else cv2.resize(image, (size, size), interpolation=cv2.INTER_CUBIC)


def group_photo() -> np.ndarray:
    """Three upscaled faces pasted left to right on a gray BGR canvas."""
    width = GROUP_GAP // 3 * 2 + len(GROUP) * (GROUP_SIZE + GROUP_GAP)
    canvas = np.full((360, width, 3), 128, np.uint8)
    for k, index in enumerate(GROUP):
        x = group_x(k)
        canvas[GROUP_TOP : GROUP_TOP + GROUP_SIZE, x : x + GROUP_SIZE] = face(index, GROUP_SIZE)[..., None]
    return canvas


def group_x(k: int) -> int:
    return GROUP_GAP // 3 * 2 + k * (GROUP_SIZE + GROUP_GAP)


def photos() -> dict[str, bytes]:
    """A FER crop as PNG, a group photo, an RGBA PNG and a grayscale JPEG, by file name."""
    rgba = cv2.cvtColor(face(620, 128), cv2.COLOR_GRAY2BGRA)
    rgba[..., 3] = 200
    return {
        "crop.png": encoded(face(612), ".png"),
        "group.png": encoded(group_photo(), ".png"),
        "transparent.png": encoded(rgba, ".png"),
        "gray.jpg": encoded(face(615, 120), ".jpg"),
    }


def expected(content: bytes, model: Any) -> tuple[list, np.ndarray]:
    """The faces the library finds in a photo and the probabilities it gives them."""
    faces = detect_faces(decode_photo(content, "photo"))
    return faces, classify_faces(model, np.stack([f.crop for f in faces]))


def upload(at: AppTest, files: dict[str, bytes]) -> AppTest:
    uploader = at.file_uploader(key="classify_uploads")
    uploader.set_value([(name, content, "application/octet-stream") for name, content in files.items()])
    return rerun(uploader)


def results(at: AppTest) -> pd.DataFrame:
    (table,) = (d.value for d in at.dataframe)
    return table


def bars(at: AppTest, key: str) -> dict[str, float]:
    (trace,) = chart(at, key)["data"]
    return dict(zip(trace["y"], np.asarray(trace["x"], dtype=float)))


@pytest.fixture
def model(finished_run: str) -> Any:
    return load_classifier(runs.get_run(finished_run).model_path)


# ---------------------------------------------------------------------------------------------


def test_classify_without_a_model_says_what_it_needs() -> None:
    at = open_page("app_pages/classify.py")
    shown = texts(at)
    assert "no trained model" in shown and "Train page" in shown
    assert "compact CNN" in shown and "barely better than chance" in shown
    assert [link.proto.page for link in at.get("page_link")] == ["train"]
    assert not at.file_uploader and not at.selectbox and not at.error


def test_a_fresh_clone_offers_the_shipped_model_without_loading_keras(
    artifacts: Path, committed_references: Path
) -> None:
    """In a process of its own, as a fresh clone sees it (no runs, the committed reference runs):
    the page lists the shipped model and, until a photo comes, never imports Keras."""
    script = (
        "import sys\nfrom streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({APP!r}, default_timeout=60)\n"
        "at.switch_page('app_pages/classify.py').run()\n"
        "assert not at.exception, [e.value for e in at.exception]\n"
        "print(at.selectbox(key='classify_model').options)\n"
        "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))\n"
    )
    env = {**os.environ, "FER_ARTIFACTS": str(artifacts), "PYTHONPATH": str(Path(APP).parent)}
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    *_, options, imported = done.stdout.strip().splitlines()
    assert imported == "[]"
    shipped = [run for run in runs.reference_runs() if run.model_path.exists()]
    assert shipped and all(f"(reference run {run.run_id})" in options for run in shipped)


def test_the_shipped_model_classifies_like_the_library(committed_references: Path) -> None:
    (shipped,) = [run for run in runs.reference_runs() if run.model_path.exists()]
    at = open_page("app_pages/classify.py")
    assert at.selectbox(key="classify_model").value.path == shipped.model_path
    shown = texts(at)
    assert "shipped with the project" in shown and f"{shipped.metrics()['test_accuracy']:.1%}" in shown
    assert "barely better than chance" not in shown
    crop = photos()["crop.png"]
    table = results(upload(at, {"crop.png": crop}))
    assert table[list(CLASSES)].to_numpy() == pytest.approx(
        expected(crop, load_classifier(shipped.model_path))[1], abs=1e-5
    )


def test_classify_names_the_model_and_classifies_uploaded_photos(finished_run: str, model: Any) -> None:
    metrics = runs.get_run(finished_run).metrics()
    at = open_page("app_pages/classify.py")
    (label,) = at.selectbox(key="classify_model").options
    assert "CNN" in label and "sample data" in label and finished_run in label
    shown = texts(at)
    assert f"test accuracy **{metrics['test_accuracy']:.1%}**" in shown and "shipped FER2013 sample" in shown
    assert "barely better than chance" in at.warning[0].value
    assert not at.get("camera_input")  # the camera starts only when asked

    files = photos()
    at = upload(at, files)
    table = results(at)
    assert table["file"].value_counts().to_dict() == {"crop.png": 1, "group.png": 3, "transparent.png": 1, "gray.jpg": 1}
    assert list(table["file"].unique()) == list(files)  # in upload order
    assert [h.value for h in at.subheader] == list(files)
    for index, (name, content) in enumerate(files.items()):
        faces, probabilities = expected(content, model)
        rows = table[table["file"] == name]
        assert list(rows["face"]) == list(range(1, len(faces) + 1))
        assert rows[list(CLASSES)].to_numpy() == pytest.approx(probabilities, abs=1e-5)
        assert list(rows["emotion"]) == [CLASSES[i] for i in probabilities.argmax(axis=1)]
        assert rows["probability"].to_numpy() == pytest.approx(probabilities.max(axis=1), abs=1e-5)
        assert [tuple(r) for r in rows[["box_x", "box_y", "box_width", "box_height"]].to_numpy()] == [
            f.box for f in faces
        ]
        for number, row in enumerate(probabilities, start=1):
            assert bars(at, f"classify_probabilities_{index}_{number}") == pytest.approx(
                dict(zip(CLASSES, row)), abs=1e-5
            )
    # The group's faces are found where they were pasted, numbered left to right.
    group = table[table["file"] == "group.png"]
    centres = group["box_x"] + group["box_width"] / 2
    assert [group_x(k) < c < group_x(k) + GROUP_SIZE for k, c in enumerate(centres)] == [True] * 3
    assert "group.png: 3 faces" in [caption for image in at.image for caption in image.captions]
    assert [b.key for b in at.download_button] == ["classify_csv"]
    assert not at.error


def test_a_file_that_is_no_image_is_reported_and_the_others_classified(finished_run: str, model: Any) -> None:
    crop = photos()["crop.png"]
    at = upload(open_page("app_pages/classify.py"), {"notes.png": b"hello", "crop.png": crop})
    (error,) = at.error
    assert "notes.png" in error.value and "not an image" in error.value
    table = results(at)
    assert list(table["file"]) == ["crop.png"] and [h.value for h in at.subheader] == ["crop.png"]
    assert table[list(CLASSES)].to_numpy() == pytest.approx(expected(crop, model)[1], abs=1e-5)


def test_a_photo_without_faces_is_said_so_and_can_be_classified_whole(finished_run: str, model: Any) -> None:
    blank = np.full((300, 400, 3), 128, np.uint8)
    assert detect_faces(blank) == []
    at = upload(open_page("app_pages/classify.py"), {"blank.png": encoded(blank, ".png")})
    assert "No face found in blank.png" in at.warning[-1].value
    assert not at.dataframe and not at.get("plotly_chart")

    at = rerun(at.button(key="classify_whole_0").click())
    (row,) = results(at).to_dict("records")
    assert row["file"] == "blank.png" and row["whole_image"]
    assert (row["box_x"], row["box_y"], row["box_width"], row["box_height"]) == (0, 0, 400, 300)
    (probabilities,) = classify_faces(model, whole_image_face(blank).crop[None])
    assert [row[c] for c in CLASSES] == pytest.approx(probabilities, abs=1e-5)
    assert not any("No face found" in w.value for w in at.warning)
    at = rerun(at.selectbox(key="classify_model").set_value(at.selectbox(key="classify_model").value))
    assert len(results(at)) == 1  # the choice stays on later reruns


def test_a_camera_photo_is_classified_once_the_camera_is_on(finished_run: str, model: Any) -> None:
    at = open_page("app_pages/classify.py")
    at = rerun(at.toggle(key="classify_camera_on").set_value(True))
    shot = encoded(cv2.cvtColor(face(613, 200), cv2.COLOR_GRAY2BGR), ".jpg")
    at = rerun(at.camera_input(key="classify_camera").set_value(("shot.jpg", shot, "image/jpeg")))
    table = results(at)
    assert list(table["file"]) == ["camera photo"]
    assert table[list(CLASSES)].to_numpy() == pytest.approx(expected(shot, model)[1], abs=1e-5)
