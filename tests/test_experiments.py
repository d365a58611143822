"""The experiments' own pieces (``experiments/``), on the shipped sample and the committed model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from experiments.distill import teacher_targets
from fer import store
from fer.dataset import FaceDataset, protocol_splits
from fer.inference import classify_faces, load_classifier


@pytest.fixture(scope="module")
def teacher() -> Path:
    return next(run.model_path for run in store.reference_runs() if run.model_path.exists())


def test_distillation_targets_are_the_teachers_on_training_faces_and_one_hot_elsewhere(
    teacher: Path, sample: FaceDataset
) -> None:
    train = protocol_splits(sample, "standard")["train"]
    others = np.setdiff1d(np.arange(len(sample.labels)), train)
    assert len(train) and len(others)

    # alpha 0, temperature 1: the targets are the teachers' flip-TTA probabilities, averaged.
    targets = teacher_targets(sample, [teacher, teacher], temperature=1.0, alpha=0.0)
    expected = classify_faces(load_classifier(teacher), sample.images[train], flip_tta=True)
    np.testing.assert_allclose(targets[train], expected, atol=1e-5)
    np.testing.assert_array_equal(targets[others], np.eye(7, dtype="float32")[sample.labels[others]])

    # A very high temperature flattens the teachers to 1/7: what is left is alpha on the true label.
    flat = teacher_targets(sample, [teacher], temperature=1e6, alpha=0.5)
    np.testing.assert_allclose(flat[train], 0.5 * np.eye(7)[sample.labels[train]] + 0.5 / 7, atol=1e-4)
    np.testing.assert_allclose(flat.sum(1), 1.0, atol=1e-5)
