"""The experiments' own pieces (``experiments/``), on the shipped sample and the committed model."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from experiments.distill import teacher_targets
from experiments.ema import averaging
from fer import store
from fer import train as training
from fer.dataset import FaceDataset, protocol_splits
from fer.inference import classify_faces, load_classifier
from fer.scenarios import scenario


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
    expected = classify_faces(load_classifier(teacher), sample.images[train], tta="flip")
    np.testing.assert_allclose(targets[train], expected, atol=1e-5)
    np.testing.assert_array_equal(targets[others], np.eye(7, dtype="float32")[sample.labels[others]])

    # A very high temperature flattens the teachers to 1/7: what is left is alpha on the true label.
    flat = teacher_targets(sample, [teacher], temperature=1e6, alpha=0.5)
    np.testing.assert_allclose(flat[train], 0.5 * np.eye(7)[sample.labels[train]] + 0.5 / 7, atol=1e-4)
    np.testing.assert_allclose(flat.sum(1), 1.0, atol=1e-5)


def test_weight_averaging_adds_the_average_to_the_recipes_optimizer_and_swaps_it_in_first(tmp_path: Path) -> None:
    config = scenario("custom", arch="cnn", protocol="standard")
    make_optimizer, keras_callbacks = averaging(momentum=0.99)

    optimizer = make_optimizer(config, steps_per_epoch=10)
    plain = training.make_optimizer(config, steps_per_epoch=10)
    assert (optimizer.use_ema, optimizer.ema_momentum) == (True, 0.99) and not plain.use_ema
    # Otherwise the recipe's own optimizer: SGD-Nesterov on the same cosine schedule.
    assert type(optimizer) is type(plain) and optimizer.nesterov
    assert optimizer.get_config()["learning_rate"] == plain.get_config()["learning_rate"]

    callbacks = keras_callbacks(config, tmp_path, [])
    assert isinstance(callbacks[0], keras.callbacks.SwapEMAWeights) and callbacks[0].swap_on_epoch
    # Then the library's own: the backup and the best-epoch checkpoint, as in any run.
    assert [type(c) for c in callbacks[1:]] == [type(c) for c in training._keras_callbacks(config, tmp_path, [])]
