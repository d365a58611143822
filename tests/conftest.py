"""Shared fixtures and helpers: every test writes under its own ``$FER_ARTIFACTS`` and reads the
shipped sample; helpers used by several test modules live here, so tests never import each other."""

from __future__ import annotations

import base64
import functools
import json
import os
import shutil
import struct
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fer import data, runs, store  # noqa: E402  (after the environment above)
from fer.data import load_sample  # noqa: E402
from fer.dataset import FaceDataset, protocol_splits  # noqa: E402
from fer.evaluate import classification_metrics  # noqa: E402
from fer.paths import artifacts_at, atomic_write_json, runs_dir  # noqa: E402
from fer.vocab import CHALLENGE_CLASSES, CLASSES, USAGES  # noqa: E402

FULL_FER2013 = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "fer2013"
"""The full FER2013 beside the repository, where development machines and CI have it."""
needs_full_fer2013 = pytest.mark.skipif(
    not (FULL_FER2013 / "fer2013.zip").exists(), reason=f"the full FER2013 is not at {FULL_FER2013}"
)


COMMITTED_REFERENCE_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "reference"
REFERENCE_ID = "20261207-012819-custom-fer_cnn-b659"
"""The committed reference run of the default model, fine-tuned from ``BASE_ID``'s, standard protocol."""
BASE_ID = "20261128-232501-custom-fer_cnn-1ae8"
"""The committed reference run the default model was fine-tuned from (its model file is no longer shipped)."""


@pytest.fixture(autouse=True)
def artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty artifacts folder for each test, so no test sees another's state.

    The committed reference runs are hidden too (an empty reference folder), so pages are
    tested as on a machine with nothing trained; tests about them use ``committed_references``.
    """
    from fer import face_model

    root = tmp_path / "artifacts"
    monkeypatch.setenv("FER_ARTIFACTS", str(root))
    monkeypatch.setenv("FER_REFERENCE", str(tmp_path / "no-reference-runs"))
    # No test reaches the internet: without ../shared/models the face model "download" fails at once.
    monkeypatch.setattr(face_model, "MODEL_URL", "http://127.0.0.1:9/face_detection_yunet_2023mar.onnx")
    return root


@pytest.fixture
def committed_references(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The reference runs committed in the repository, visible again."""
    monkeypatch.setenv("FER_REFERENCE", str(COMMITTED_REFERENCE_DIR))
    return COMMITTED_REFERENCE_DIR


@pytest.fixture
def few_conditions(monkeypatch: pytest.MonkeyPatch) -> None:
    """Measure four of the worse-photo conditions only (real ones): each costs a pass over the test
    faces with the run's 10-view TTA, and the mechanism is the same for all of them."""
    from fer import robustness

    few = (robustness.ROUND_TRIP, "JPEG quality 10", "Gaussian blur, sigma 4 px", "noise, sigma 25 grey levels")
    every = robustness.degradations
    monkeypatch.setattr(robustness, "degradations", lambda side=robustness.SIDE: {name: every(side)[name] for name in few})


@pytest.fixture(scope="session")
def sample() -> FaceDataset:
    return data.load_sample()


@pytest.fixture(scope="session")
def _trained_run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real, tiny training run (compact CNN, 1 epoch on the sample), trained once per session."""
    from fer import runs
    from fer.scenarios import scenario

    with artifacts_at(tmp_path_factory.mktemp("trained")):
        run = runs.start(scenario("custom", arch="cnn", epochs=1, batch_size=64, data="sample"), background=False)
    assert run.state == "completed", run.status
    return run.path


@pytest.fixture
def finished_run(_trained_run_folder: Path, artifacts: Path) -> str:
    """A completed run (with model, history and metrics) copied into this test's artifacts; its id."""
    import shutil

    target = artifacts / "runs" / _trained_run_folder.name
    shutil.copytree(_trained_run_folder, target)
    return target.name


# --------------------------------------------------------------------------------------------
# Helpers shared by the test modules (tests import them from here, never from each other)


GROUP = (609, 610, 611)
"""Sample faces (test split) that the detector finds one by one when pasted side by side."""
GROUP_SIZE, GROUP_GAP, GROUP_TOP = 160, 60, 100



@functools.lru_cache(maxsize=1)
def sample_images() -> np.ndarray:
    return load_sample().images



def group_x(k: int) -> int:
    return GROUP_GAP // 3 * 2 + k * (GROUP_SIZE + GROUP_GAP)


def one_hot(name: str, p: float = 0.9) -> np.ndarray:
    row = np.full(len(CLASSES), (1 - p) / (len(CLASSES) - 1), np.float32)
    row[CLASSES.index(name)] = p
    return row


APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")


TIMEOUT = 120  # the first page that imports Keras takes seconds on a small CPU


def open_page(page: str) -> AppTest:
    """Render ``page`` through the router (sidebar included) and fail on any exception."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def rerun(widget: Any) -> AppTest:
    """Run the page again after changing ``widget``, still without exceptions."""
    at = widget.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart(at: AppTest, key: str) -> dict[str, Any]:
    """The plotly figure a page drew under ``key``, as JSON with typed arrays decoded to numpy."""
    (element,) = [c for c in at.get("plotly_chart") if c.key == key]
    return json.loads(element.proto.spec, object_hook=_typed_array)


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    """What the pages' download buttons offer, by file name, latest run last: AppTest keeps the
    files in a media store that is gone once a run ends, so their data is recorded as it is added."""
    offered: dict[str, bytes] = {}
    add = MediaFileManager.add

    def recording(self: MediaFileManager, path_or_data: bytes | str, mimetype: str, coordinates: str,
                  file_name: str | None = None, is_for_static_download: bool = False) -> str:
        if file_name:
            offered[file_name] = path_or_data if isinstance(path_or_data, bytes) else path_or_data.encode()
        return add(self, path_or_data, mimetype, coordinates, file_name, is_for_static_download)

    monkeypatch.setattr(MediaFileManager, "add", recording)
    return offered


def _typed_array(value: dict[str, Any]) -> Any:
    # Plotly ships numeric arrays as base64 with a dtype (and a shape for 2-D ones).
    if "bdata" not in value or "dtype" not in value:
        return value
    array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return array.reshape([int(n) for n in value["shape"].split(",")]) if "shape" in value else array


def texts(at: AppTest) -> str:
    """Everything a reader sees as text: markdown, captions, info and error boxes."""
    kinds = ("markdown", "caption", "info", "warning", "error", "success")
    return "\n".join(e.value for kind in kinds for e in getattr(at, kind))


def with_png_size(png: bytes, width: int, height: int) -> bytes:
    """A PNG whose IHDR declares another size (its CRC fixed), the pixel data left as it was."""
    ihdr = png[12:16] + struct.pack(">II", width, height) + png[24:29]
    return png[:8] + png[8:12] + ihdr + struct.pack(">I", zlib.crc32(ihdr)) + png[33:]


def as_study_scenario(run_folder: Path, destination: Path, scenario: str, like_the_study: bool = False) -> Path:
    """A copy of a real run's result files (as a reference run has them) under ``destination``,
    tagged as ``scenario``: its numbers stay real, only the study row it is set beside changes.

    ``like_the_study`` also labels it as scored like the study (full FER2013, thesis protocol,
    all 7,178 test images): only such a run of S1-S4 is set beside the study's numbers."""
    target = destination / run_folder.name
    target.mkdir(parents=True)
    for name in store.REFERENCE_FILES:
        shutil.copy2(run_folder / name, target / name)
    for name in ("config.json", "metrics.json"):
        values = json.loads((target / name).read_text())
        atomic_write_json(target / name, {**values, "scenario": scenario})
    if like_the_study:
        metrics = json.loads((target / "metrics.json").read_text())
        atomic_write_json(target / "metrics.json", {**metrics, "dataset": "full", "protocol": "thesis", "test_images": 7178})
    return target


def copy_run(run_id: str, suffix: str, config: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None) -> str:
    """A copy of run ``run_id`` named ``<run_id>-<suffix>``, its config and metrics updated; its id."""
    target = runs_dir() / f"{run_id}-{suffix}"
    shutil.copytree(runs_dir() / run_id, target)
    for name, changes in (("config.json", config), ("metrics.json", metrics)):
        atomic_write_json(target / name, {**json.loads((target / name).read_text()), **(changes or {})})
    return target.name


def like_the_study(run_id: str, scenario: str) -> str:
    """Label a run of this machine as a run of ``scenario`` scored like the study; its answers stay its own."""
    metrics = runs.get_run(run_id).metrics()
    atomic_write_json(
        runs_dir() / run_id / "metrics.json",
        {**metrics, "scenario": scenario, "dataset": "full", "protocol": "thesis", "test_images": 7178},
    )
    return run_id


def better_on_worse_photos(run_id: str, suffix: str, condition: str, gained: int) -> str:
    """A copy of a run measured on worse photos whose kept answers under ``condition`` get
    ``gained`` more faces right, its measurement kept again from them; its id."""
    from fer import robustness

    copied = runs.get_run(copy_run(run_id, suffix))
    right = robustness.kept_answers(copied)
    improved = right[condition].copy()
    improved[np.flatnonzero(~improved)[:gained]] = True
    robustness.keep(copied, {**right, condition: improved})
    return copied.run_id


def sample_test_labels() -> np.ndarray:
    sample = load_sample()
    return sample.labels[protocol_splits(sample, "thesis")["test"]]


def better_copy(run_id: str, suffix: str, gained: int, **config: Any) -> str:
    """A copy of the run that also gets right ``gained`` test images the run got wrong, its
    metrics recomputed from its new probabilities."""
    probabilities = runs.get_run(run_id).probabilities()
    labels = sample_test_labels()
    wrong = np.flatnonzero(probabilities.argmax(axis=1) != labels)[:gained]
    probabilities[wrong] = np.eye(probabilities.shape[1])[labels[wrong]]
    copied = copy_run(run_id, suffix, config, classification_metrics(labels, probabilities))
    store.write_probabilities(runs_dir() / copied, probabilities)
    return copied


def tiny(sample: FaceDataset, per_usage: int = 2) -> FaceDataset:
    """A few faces of every class in every usage: small enough for fast fixtures."""
    keep = np.concatenate(
        [
            np.flatnonzero((sample.labels == label) & (sample.usage == usage))[:per_usage]
            for usage in range(3)
            for label in range(len(CLASSES))
        ]
    )
    return FaceDataset(sample.images[keep], sample.labels[keep], sample.usage[keep], "tiny")


def retouched(face: np.ndarray) -> np.ndarray:
    """The same photo toned and watermarked another way: a near copy, not an exact one (its
    similarity to the original is 0.96 or more for every sample face)."""
    toned = np.clip(face.astype(np.float32) * 0.8 + 30, 0, 255).astype(np.uint8)
    toned[42:44, 4:12] = 255
    return toned


def planted(sample: FaceDataset) -> tuple[FaceDataset, dict[str, np.ndarray]]:
    """42 real faces (2 per class and usage, none repeated) with copies planted:

    * a PrivateTest angry face replaced by a Training angry face: seen in training, same label;
    * a PublicTest disgust face replaced by another Training angry face: seen, under another label;
    * a Training disgust face replaced by the other one: repeated within Training;
    * a PrivateTest surprise face made blank;
    * a PrivateTest fear face replaced by a Training fear face :func:`retouched`: a near copy;
    * a PublicTest fear face replaced by the other Training fear face shifted by 3 pixels: too
      different to count (at most 0.91 similar for any sample face).
    """
    base = tiny(sample)
    train, public, private = (np.flatnonzero(base.usage == usage) for usage in range(3))
    images = base.images.copy()
    images[private[0]] = images[train[0]]
    images[public[2]] = images[train[1]]
    images[train[3]] = images[train[2]]
    images[private[13]] = 0
    images[private[4]] = retouched(images[train[4]])
    images[public[5]] = np.roll(images[train[5]], 3, axis=1)
    return replace(base, images=images), {"train": train, "public": public, "private": private}


def png(image: np.ndarray) -> bytes:
    # PNG keeps the pixels exact, so round trips can be compared bit for bit.
    ok, buffer = cv2.imencode(".png", image)
    assert ok
    return buffer.tobytes()


def kaggle_entries(dataset: FaceDataset, prefix: str = "", usage_prefix: bool = True) -> dict[str, bytes]:
    entries = {}
    for i, (image, label, usage) in enumerate(zip(dataset.images, dataset.labels, dataset.usage)):
        split = "train" if USAGES[usage] == "Training" else "test"
        stem = f"{USAGES[usage]}_{i}" if usage_prefix else f"img_{i}"
        entries[f"{prefix}{split}/{CLASSES[label]}/{stem}.png"] = png(image)
    return entries


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in entries.items():
            archive.writestr(name, payload)
    return path


def write_parquet(path: Path, dataset: FaceDataset, with_usage: bool = True, names: tuple[str, ...] | None = None) -> Path:
    """HF layout; ``names`` is the label order stored in the schema metadata (None: no metadata)."""
    order = names or CHALLENGE_CLASSES
    columns = {
        "image": [{"bytes": png(image), "path": f"{i}.png"} for i, image in enumerate(dataset.images)],
        "label": [order.index(CLASSES[label]) for label in dataset.labels],
    }
    if with_usage:
        columns["usage"] = [USAGES[u] for u in dataset.usage]
    table = pa.table(columns)
    if names:
        features = {"label": {"names": list(names), "_type": "ClassLabel"}}
        table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features}})})
    pq.write_table(table, path)
    return path


def encoded(image: np.ndarray, extension: str) -> bytes:
    ok, buffer = cv2.imencode(extension, image)
    assert ok
    return buffer.tobytes()


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


CLIP_FPS = 10
CLIP_SEGMENTS = ((347, 1.0), (None, 1.0), (187, 1.0))
"""A test clip: a neutral sample test face for a second, an empty grey frame for a second, then a
happy one (both faces the reference model gets right as photos, with over 90%)."""


def write_clip(
    path: Path, segments: tuple[tuple[int | None, float], ...] = CLIP_SEGMENTS, fps: int = CLIP_FPS,
    size: tuple[int, int] = (480, 360), codec: str = "mp4v",
) -> Path:
    """A real video file of upscaled sample faces (160 px, on grey), as OpenCV's FFmpeg writes it."""
    frames = []
    for index, seconds in segments:
        frame = np.full((size[1], size[0], 3), 128, np.uint8)
        if index is not None:
            top, left = (size[1] - 160) // 2, (size[0] - 160) // 2
            frame[top : top + 160, left : left + 160] = face(index, 160)[..., None]
        frames += [frame] * round(seconds * fps)
    return write_video(path, frames, fps, codec)


def write_video(path: Path, frames: list[np.ndarray], fps: int = CLIP_FPS, codec: str = "mp4v") -> Path:
    """A real video file of BGR ``frames``, all of one size, as OpenCV's FFmpeg writes it."""
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    assert writer.isOpened(), codec
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


def two_people(path: Path) -> Path:
    """A 2-second MJPG video at :data:`CLIP_FPS`: a small face (120 px, sample face 609) on the left
    throughout, and a larger one (200 px, 610) on the right for its first second only."""
    frames = []
    for right_too in (True, False):
        frame = np.full((360, 640, 3), 128, np.uint8)
        frame[120:240, 40:160] = face(609, 120)[..., None]
        if right_too:
            frame[80:280, 360:560] = face(610, 200)[..., None]
        frames += [frame] * CLIP_FPS
    return write_video(path, frames, codec="MJPG")


def clip_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a video as OpenCV decodes it, to check the library against."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while (read := capture.read())[0]:
        frames.append(read[1])
    capture.release()
    return frames


def markdown_rows(text: str) -> list[dict[str, str]]:
    """The rows of the first Markdown table in ``text``, by column name."""
    header, _, *rows = text.strip().split("\n\n")[0].splitlines()
    names = [cell.strip() for cell in header.strip("|").split("|")]
    return [dict(zip(names, (cell.strip() for cell in row.strip("|").split("|")))) for row in rows]
