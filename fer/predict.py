"""Emotion probabilities for 48x48 faces from a trained run's model, and how the Classify page
shows them.

Models take raw uint8 faces: channel replication, normalisation and resizing are inside them
(:mod:`fer.models`), so the only preprocessing here is the one every training image had,
:func:`fer.images.to_face`, done by whoever produced the crops (:mod:`fer.faces`).

Keras is imported only when a model is loaded, so listing models, drawing results and building
the results table stay instant (the dashboard renders the Classify page without Keras when
there is no model to use).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pandas as pd

from fer import runs
from fer.charts import CLASS_COLORS
from fer.data import CLASSES
from fer.errors import FerError
from fer.images import FACE_SIZE

if TYPE_CHECKING:
    import keras

    from fer.faces import Face


@dataclass(frozen=True)
class ModelChoice:
    """A model the Classify page can use: a finished run of this machine, or a committed
    reference run that ships its model (the project's default model)."""

    label: str
    path: Path
    name: str = ""  # the run's short name, e.g. "S2 VGG19"
    data: str = ""  # "sample" or "full": what the model was trained on
    test_accuracy: float | None = None
    test_split: str = ""  # which images test_accuracy was measured on
    run_id: str = ""
    reference: bool = False  # committed with the project rather than trained here


def available_models() -> list[ModelChoice]:
    """Models of completed runs and of committed reference runs, best test accuracy first."""
    choices = []
    for run in [*runs.list_runs(), *runs.reference_runs()]:
        metrics = run.metrics()
        if run.state == "completed" and run.model_path.exists() and metrics:
            accuracy = metrics["test_accuracy"]
            origin = f"reference run {run.run_id}" if run.reference else run.run_id
            label = f"{run.config.label}, {run.config.data} data, test acc {accuracy:.3f} ({origin})"
            choice = ModelChoice(
                label, run.model_path, name=run.config.label, data=run.config.data, test_accuracy=float(accuracy),
                test_split=str(metrics.get("test_split", "")), run_id=run.run_id, reference=run.reference,
            )
            choices.append((accuracy, choice))
    return [choice for _, choice in sorted(choices, key=lambda pair: -pair[0])]


def load_classifier(path: Path) -> keras.Model:
    """Load a saved model safely (``safe_mode=True``: no arbitrary code from the file)."""
    import keras

    import fer.models  # noqa: F401  (registers the custom layers that saved models refer to)

    if not Path(path).is_file():
        raise FerError(f"{path}: no such model file")
    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as error:  # Keras raises many types for a damaged or foreign file
        raise FerError(f"{path}: not a model this project can load ({str(error).splitlines()[0]})") from None


def classify_faces(model: keras.Model, faces: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """Probabilities ``(N, 7)`` in :data:`fer.data.CLASSES` order for uint8 faces ``(N, 48, 48)``."""
    faces = np.asarray(faces)
    if faces.dtype != np.uint8 or faces.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise FerError(f"faces must be uint8 of shape (N, {FACE_SIZE}, {FACE_SIZE}), got {faces.dtype} {faces.shape}")
    if len(faces) == 0:
        return np.zeros((0, 7), np.float32)
    probabilities = model.predict(faces[..., None], batch_size=batch_size, verbose=0)
    return np.asarray(probabilities, dtype=np.float32)


# --------------------------------------------------------------------------------------------
# Showing the results


DISPLAY_MAX_SIDE = 1280
"""Photos whose longer side is above this are shrunk to it for display (boxes scale with them)."""
DISPLAY_MIN_SIDE = 320
"""Photos whose longer side is below this (a 48x48 FER crop) are enlarged to it for display, so
the label stays readable; pixels are repeated, not smoothed, so the face looks as it is."""
RESULT_COLUMNS = (
    "file", "face", "box_x", "box_y", "box_width", "box_height", "whole_image", "emotion", "probability", *CLASSES
)
"""The results table's columns: one row per face; the box in the photo's own pixels."""


def top_emotion(probabilities: np.ndarray) -> tuple[str, float]:
    """The most likely emotion of one face and its probability."""
    index = int(np.argmax(probabilities))
    return CLASSES[index], float(probabilities[index])


def face_label(number: int, probabilities: np.ndarray) -> str:
    """What is written on a face's box, e.g. ``1 happy 87%``."""
    emotion, probability = top_emotion(probabilities)
    return f"{number} {emotion} {probability:.0%}"


def display_scale(height: int, width: int) -> float:
    """Factor a photo is resized by for display: down to DISPLAY_MAX_SIDE, up to DISPLAY_MIN_SIDE."""
    longest = max(height, width)
    if longest > DISPLAY_MAX_SIDE:
        return DISPLAY_MAX_SIDE / longest
    if longest < DISPLAY_MIN_SIDE:
        return DISPLAY_MIN_SIDE / longest
    return 1.0


def annotate(photo: np.ndarray, faces: Sequence[Face], probabilities: np.ndarray) -> np.ndarray:
    """An RGB copy of a BGR (or grayscale) photo, resized for display (:func:`display_scale`),
    with each face's box and label (number, top emotion, its probability) in the emotion's colour.

    Line width and text size follow the displayed image's size; the photo is not modified.
    """
    if len(faces) != len(probabilities):
        raise FerError(f"{len(faces)} faces but {len(probabilities)} rows of probabilities")
    if photo.ndim == 2 or photo.shape[2] == 1:
        image = cv2.cvtColor(photo.reshape(photo.shape[:2]), cv2.COLOR_GRAY2RGB)
    else:
        image = cv2.cvtColor(photo, cv2.COLOR_BGRA2RGB if photo.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    height, width = image.shape[:2]
    scale = display_scale(height, width)
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_NEAREST)
    height, width = image.shape[:2]
    longest = max(height, width)
    thickness = max(2, round(longest / 320))
    font_scale = max(0.5, longest / 1100)
    text_thickness = max(1, round(longest / 600))
    for number, (face, row) in enumerate(zip(faces, probabilities), start=1):
        color = rgb(CLASS_COLORS[top_emotion(row)[0]])
        x, y, w, h = (round(v * scale) for v in face.box)
        x1, y1 = min(width - 1, x + w - 1), min(height - 1, y + h - 1)
        cv2.rectangle(image, (x, y), (x1, y1), color, thickness)
        text = face_label(number, row)
        (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, text_thickness)
        pad = max(2, text_h // 4)
        box_h = text_h + baseline + 2 * pad
        top = y - box_h if y - box_h >= 0 else min(y + thickness, max(0, height - box_h))  # above, else inside
        left = max(0, min(x, width - text_w - 2 * pad))
        cv2.rectangle(image, (left, top), (left + text_w + 2 * pad, top + box_h), color, cv2.FILLED)
        ink = (0, 0, 0) if sum(c * k for c, k in zip(color, (0.299, 0.587, 0.114))) > 140 else (255, 255, 255)
        cv2.putText(
            image, text, (left + pad, top + pad + text_h), cv2.FONT_HERSHEY_SIMPLEX, font_scale, ink,
            text_thickness, cv2.LINE_AA,
        )
    return image


def enlarged(crop: np.ndarray, factor: int = 4) -> np.ndarray:
    """A face crop shown bigger with its pixels repeated (no smoothing): what the model saw."""
    return cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)


def result_rows(file: str, faces: Sequence[Face], probabilities: np.ndarray) -> list[dict[str, Any]]:
    """One results-table row per face of a photo, faces numbered from 1 as in the picture."""
    if len(faces) != len(probabilities):
        raise FerError(f"{len(faces)} faces but {len(probabilities)} rows of probabilities")
    rows = []
    for number, (face, row) in enumerate(zip(faces, probabilities), start=1):
        emotion, probability = top_emotion(row)
        x, y, w, h = (int(v) for v in face.box)
        rows.append({
            "file": file, "face": number, "box_x": x, "box_y": y, "box_width": w, "box_height": h,
            "whole_image": bool(face.whole_image), "emotion": emotion, "probability": probability,
            **{name: float(p) for name, p in zip(CLASSES, row)},
        })
    return rows


def results_table(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """The rows of :func:`result_rows` as a table with :data:`RESULT_COLUMNS`, also when empty."""
    return pd.DataFrame(list(rows), columns=list(RESULT_COLUMNS))


def rgb(color: str) -> tuple[int, int, int]:
    """``"rgb(1, 2, 3)"`` or ``"#010203"`` (Plotly's colour strings) as an (r, g, b) tuple."""
    match = re.fullmatch(r"\s*rgb\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)\s*", color)
    if match:
        return tuple(int(v) for v in match.groups())  # type: ignore[return-value]
    match = re.fullmatch(r"\s*#([0-9a-fA-F]{6})\s*", color)
    if match:
        value = match.group(1)
        return tuple(int(value[i : i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]
    raise FerError(f"not a colour: {color!r}")
