"""The committed default model and the test faces it is measured on, for the benchmarks that score it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fer import data, store
from fer.dataset import protocol_splits
from fer.inference import load_classifier

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class Scoring:
    """A model with the test-time augmentation its run was scored with, and the standard
    protocol's test faces (PrivateTest; the shipped sample's when the full FER2013 is not
    imported) with their labels."""

    path: Path
    model: keras.Model
    tta: str
    faces: np.ndarray
    labels: np.ndarray
    data: str

    def heading(self) -> str:
        return f"{self.path}: {len(self.labels)} PrivateTest faces ({self.data} data), {self.tta} TTA"


def default_model() -> Path:
    """The model file of the best committed reference run that has one."""
    with_models = [run for run in store.reference_runs() if run.model_path.exists()]
    if not with_models:
        raise SystemExit("no reference run with a model: give --model")
    return max(with_models, key=lambda run: run.metrics()["test_accuracy"]).model_path


def private_test(path: Path | None = None) -> Scoring:
    """The model at ``path`` (default :func:`default_model`) ready to score on the test faces."""
    path = path or default_model()
    tta = store.read_config(path.parent).tta if (path.parent / "config.json").exists() else "none"
    dataset = data.load_dataset("active")
    test = protocol_splits(dataset, "standard")["test"]
    return Scoring(path, load_classifier(path), tta, dataset.images[test], dataset.labels[test], dataset.name)
