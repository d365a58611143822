"""Temperature scaling: the fit finds the temperature that undoes a known over- or
under-confidence, scaling never changes an answer, and damaged records are not believed."""

from __future__ import annotations

import numpy as np
import pytest

from fer import store
from fer.evaluate import calibration, temperature_scaling
from fer.temperature import TEMPERATURE_RANGE, fit_temperature, tempered


def true_and_drawn(faces: int = 20_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities of 7 classes, and labels drawn from them: probabilities calibrated by construction."""
    generator = np.random.default_rng(seed)
    logits = generator.normal(0, 2, (faces, 7))
    truth = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = (truth.cumsum(axis=1) < generator.random((faces, 1))).sum(axis=1)
    return truth, labels


@pytest.mark.parametrize("confidence", [0.5, 2.0])
def test_the_fit_undoes_a_known_miscalibration(confidence: float) -> None:
    truth, labels = true_and_drawn()
    model = tempered(truth, confidence)  # over-confident at 0.5, under-confident at 2
    assert calibration(labels, model)["ece"] > 0.05
    fitted = fit_temperature(labels, model)
    assert fitted == pytest.approx(1 / confidence, rel=0.05)
    assert calibration(labels, tempered(model, fitted))["ece"] < 0.015
    assert fit_temperature(labels, truth) == pytest.approx(1.0, abs=0.05)  # calibrated already: left alone


def test_scaling_keeps_every_answer_and_gives_probabilities() -> None:
    truth, _ = true_and_drawn(500)
    for temperature in (0.3, 0.9, 1.7):
        scaled = tempered(truth, temperature)
        assert scaled.dtype == np.float32 and np.allclose(scaled.sum(axis=1), 1, atol=1e-5)
        assert (scaled.argmax(axis=1) == truth.argmax(axis=1)).all()
    assert (tempered(truth, 2.0).max(axis=1) < truth.max(axis=1)).all()  # softer above 1
    assert np.array_equal(tempered(truth, 1.0), truth.astype(np.float32))  # 1 gives them back exactly
    one_hot = np.eye(7, dtype=np.float32)[[3]]
    assert np.isfinite(tempered(one_hot, 0.5)).all()  # zeros are no trouble


def test_the_fit_stays_in_its_range_and_refuses_no_faces() -> None:
    labels = np.arange(7)
    always_right = np.full((7, 7), 0.1 / 6) + np.eye(7) * (0.9 - 0.1 / 6)  # 90% sure and right every time
    assert fit_temperature(labels, always_right) == pytest.approx(TEMPERATURE_RANGE[0], rel=1e-3)  # sharpen all it can
    assert fit_temperature(labels, np.full((7, 7), 1 / 7)) <= TEMPERATURE_RANGE[1]  # no confidence to scale
    with pytest.raises(ValueError, match="no faces"):
        fit_temperature(np.zeros(0, int), np.zeros((0, 7)))


def test_a_runs_scaling_is_read_back_and_a_damaged_one_is_not() -> None:
    truth, labels = true_and_drawn(2_000)
    model = tempered(truth, 0.5)
    kept = temperature_scaling(labels[:1_000], model[:1_000], labels[1_000:], model[1_000:], fitted_on="PublicTest")
    assert kept["fitted_on"] == "PublicTest" and kept["fitted_images"] == 1_000
    temperature, ece, bins = store.temperature_scaling({"temperature_scaling": kept})
    assert temperature == kept["temperature"] and ece == kept["ece"] < calibration(labels[1_000:], model[1_000:])["ece"]
    assert sum(row["faces"] for row in bins) == 1_000
    for damage in ({"temperature": -1.0}, {"temperature": float("nan")}, {"temperature": "0.9"}, {"ece": 3}, {"reliability": []}):
        assert store.temperature_scaling({"temperature_scaling": kept | damage}) is None
    assert store.temperature_scaling({"temperature_scaling": [1.0]}) is None
    assert store.temperature_scaling(None) is None
