"""Emotion probabilities for 48x48 faces from a trained run's model.

Models take raw uint8 faces: channel replication, normalisation and resizing are inside them
(:mod:`fer.models`), so the only preprocessing here is the one every training image had,
:func:`fer.images.to_face`, done by whoever produced the crops (:mod:`fer.faces`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np

import fer.models  # noqa: F401  (registers the custom layers that saved models refer to)
from fer import runs
from fer.errors import FerError
from fer.images import FACE_SIZE


@dataclass(frozen=True)
class ModelChoice:
    """A model the Classify page can use: a finished run of this machine."""

    label: str
    path: Path


def available_models() -> list[ModelChoice]:
    """Models of completed runs, best test accuracy first."""
    choices = []
    for run in runs.list_runs():
        metrics = run.metrics()
        if run.state == "completed" and run.model_path.exists() and metrics:
            accuracy = metrics["test_accuracy"]
            label = f"{run.config.label}, {run.config.data} data, test acc {accuracy:.3f} ({run.run_id})"
            choices.append((accuracy, ModelChoice(label, run.model_path)))
    return [choice for _, choice in sorted(choices, key=lambda pair: -pair[0])]


def load_classifier(path: Path) -> keras.Model:
    """Load a saved model safely (``safe_mode=True``: no arbitrary code from the file)."""
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
