"""Balanced answers: the emotions' training shares taken out of a model's probabilities, the
strength chosen on validation faces, kept in a run's metrics and offered by the model choice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer import compare, predict, runs, store
from fer.balance import learnt_shares
from fer.errors import FerError
from fer.evaluate import balanced_answers, classification_metrics
from fer.priors import STRENGTHS, choose_strength, prior, recalls
from fer.temperature import Scaling, fit_temperature, tempered
from fer.vocab import BALANCING, CLASSES

from .conftest import REFERENCE_ID

SHARES = np.array([0.14, 0.015, 0.14, 0.25, 0.17, 0.175, 0.11])
"""Roughly FER2013's Training shares: a quarter happy, 1.5% disgust."""


def bayes_model(faces: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn in :data:`SHARES` and a model's posteriors for them: each face's evidence
    (noisy, favouring its own class) times the shares, as a model trained on such faces learns."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(CLASSES), size=faces, p=SHARES / SHARES.sum())
    evidence = rng.normal(0.0, 1.0, (faces, len(CLASSES)))
    evidence[np.arange(faces), labels] += 1.2
    posterior = np.exp(evidence) * SHARES
    return labels, posterior / posterior.sum(axis=1, keepdims=True)


def test_a_prior_divides_each_emotions_probability_before_the_temperature() -> None:
    probabilities = np.array([[0.5, 0.5], [0.8, 0.2]])
    shares = np.array([0.75, 0.25])
    np.testing.assert_allclose(tempered(probabilities, 1.0, prior(shares, 0.0)), probabilities, atol=1e-7)
    balanced = tempered(probabilities, 1.0, prior(shares, 1.0))  # as if both were equally common
    odds = (0.8 / 0.75) / (0.2 / 0.25)
    np.testing.assert_allclose(balanced, [[0.25, 0.75], [odds / (1 + odds), 1 / (1 + odds)]], atol=1e-6)
    assert list(balanced.argmax(axis=1)) == [1, 0] and list(probabilities.argmax(axis=1)) == [0, 0]
    # Dividing then tempering is the temperature applied to the renormalised division.
    halfway = probabilities / np.sqrt(shares)
    renormalised = halfway / halfway.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(Scaling(0.7, prior(shares, 0.5))(probabilities), tempered(renormalised, 0.7), atol=1e-6)
    assert np.array_equal(Scaling()(probabilities), probabilities.astype(np.float32))  # no scaling: exactly as given


def test_the_strength_is_chosen_for_macro_recall_and_even_shares_choose_none() -> None:
    labels, posterior = bayes_model(6_000, seed=1)
    strength = choose_strength(labels, posterior, SHARES)
    assert strength > 0
    own, balanced = (recalls(labels, tempered(posterior, 1.0, prior(SHARES, s)), len(CLASSES)) for s in (0, strength))
    assert balanced.mean() > own.mean() + 0.02
    assert balanced[CLASSES.index("disgust")] > own[CLASSES.index("disgust")] + 0.1  # the rare class gains most
    assert balanced[CLASSES.index("happy")] < own[CLASSES.index("happy")]  # the common one gives a little
    even = np.full(len(CLASSES), 1 / len(CLASSES))
    assert choose_strength(labels, posterior, even) == 0.0  # nothing to take out: the model as it is
    assert STRENGTHS[0] == 0.0 and STRENGTHS[-1] == 1.0


def test_a_runs_learnt_shares_are_its_training_faces_or_even_once_balanced() -> None:
    labels = np.array([0] * 6 + [2] * 3 + [3] * 1)  # classes 1, 4, 5 and 6 have no faces
    as_they_are = learnt_shares(labels, "none")
    assert as_they_are[0] / as_they_are[2] == pytest.approx(2.0) and as_they_are[3] / as_they_are[1] == pytest.approx(2.0)
    assert as_they_are.sum() == pytest.approx(1.0) and (as_they_are > 0).all()  # an absent class: half a face
    for strategy in set(BALANCING) - {"none"}:
        balanced = learnt_shares(labels, strategy)
        assert balanced[0] == balanced[2] == balanced[3] and balanced.sum() == pytest.approx(1.0)
        assert 0 < balanced[1] < balanced[0] / 10
    with pytest.raises(FerError, match="unknown balancing strategy"):
        learnt_shares(labels, "smote")


def test_balanced_answers_are_chosen_and_fitted_on_validation_and_scored_on_test_faces() -> None:
    (validation_labels, validation), (labels, test) = bayes_model(4_000, seed=2), bayes_model(4_000, seed=3)
    kept = balanced_answers(validation_labels, validation, labels, test, SHARES, fitted_on="PublicTest")
    strength = choose_strength(validation_labels, validation, SHARES)
    divisor = prior(SHARES, strength)
    assert (kept["strength"], kept["fitted_on"], kept["fitted_images"]) == (strength, "PublicTest", 4_000)
    assert kept["temperature"] == pytest.approx(fit_temperature(validation_labels, tempered(validation, 1.0, divisor)))
    scored = classification_metrics(labels, Scaling(kept["temperature"], divisor)(test))
    assert kept["test_accuracy"] == scored["test_accuracy"] and kept["per_class"] == scored["per_class"]
    assert kept["recall_macro"] > classification_metrics(labels, test)["recall_macro"]  # on faces the choice never saw
    # As a run keeps them, and read back; damaged ones are none.
    read = store.balanced_answers({"balanced_answers": kept})
    assert (read.strength, read.temperature, read.metrics) == (strength, kept["temperature"], kept)
    assert read.prior == pytest.approx(divisor)
    for damage in ({"shares": SHARES.tolist()[:6]}, {"shares": [0.0, *SHARES[1:]]}, {"strength": 2},
                   {"temperature": 0.0}, {"test_accuracy": 5}, {"per_class": {}}):
        assert store.balanced_answers({"balanced_answers": kept | damage}) is None
    assert store.balanced_answers({"balanced_answers": [1]}) is None and store.balanced_answers(None) is None


def test_a_run_without_balanced_answers_cannot_be_paired_with_them(finished_run: str) -> None:
    with pytest.raises(FerError, match="has no balanced answers: its run fitted none"):
        compare.balanced_against_own(runs.get_run(finished_run))


def test_a_model_choice_scales_by_the_temperature_fitted_to_the_answers_asked_for() -> None:
    fitted = store.BalancedAnswers(0.5, prior(SHARES, 0.5), 0.8, {})
    choice = predict.ModelChoice("label", Path("model.keras"), name="FER-CNN", run_id="run", temperature=0.9, balanced=fitted)
    assert choice.offers_balanced
    assert choice.scaling() == Scaling(0.9) and choice.scaling(calibrated=False) == Scaling(1.0)
    assert choice.scaling(balanced=True) == Scaling(0.8, fitted.prior)
    assert choice.scaling(calibrated=False, balanced=True) == Scaling(1.0, fitted.prior)
    hash(choice.scaling(balanced=True))  # a page caches results by it
    with pytest.raises(FerError, match="fitted none.*fer calibrate run"):
        predict.ModelChoice("label", Path("model.keras"), name="FER-CNN", run_id="run").scaling(balanced=True)
    even = predict.ModelChoice("label", Path("m"), name="S4", balanced=store.BalancedAnswers(0.0, (1.0,) * 7, 1.0, {}))
    assert not even.offers_balanced
    with pytest.raises(FerError, match="even proportions"):
        even.scaling(balanced=True)


def test_the_default_models_balanced_answers_are_what_its_kept_probabilities_give(committed_references: Path) -> None:
    run = store.reference_run(REFERENCE_ID)
    own, fitted = run.metrics(), store.balanced_answers(run.metrics())
    assert fitted.strength == 0.5 and fitted.metrics["fitted_on"] == "PublicTest"
    labels = run.test_labels()
    again = classification_metrics(labels, Scaling(fitted.temperature, fitted.prior)(run.probabilities()))
    # The kept probabilities are steps of 1/255: a few faces near a tie may answer otherwise.
    assert again["test_accuracy"] == pytest.approx(fitted.metrics["test_accuracy"], abs=4 / len(labels))
    assert again["recall_macro"] == pytest.approx(fitted.metrics["recall_macro"], abs=0.005)
    assert fitted.metrics["recall_macro"] > own["recall_macro"] + 0.01
    disgust = [metrics["per_class"]["disgust"]["recall"] for metrics in (own, fitted.metrics)]
    assert disgust[1] > disgust[0] + 0.1
    # Paired on the same faces: its own answers are exactly the metrics' (each kept row's top class is exact).
    overall, by_emotion = compare.balanced_against_own(run)
    assert overall.accuracy_a == own["test_accuracy"] and overall.n == len(labels)
    assert overall.accuracy_b == pytest.approx(fitted.metrics["test_accuracy"], abs=4 / len(labels))
    assert by_emotion["disgust"].significant and by_emotion["disgust"].difference > 0.1
    choice = predict.default_model(predict.available_models())
    assert choice.run_id == REFERENCE_ID and choice.offers_balanced
    effect = predict.balanced_effect(choice)
    assert effect.startswith("Balanced, on its PrivateTest (3,589 images): accuracy 70.1% → 69.7%")
    assert "found more often: disgust 58% → 71%" in effect
