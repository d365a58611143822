"""Balanced answers: a model's probabilities with the emotions' frequencies it learnt taken out.

A network learns how common each emotion was among its training faces along with the faces
themselves: FER2013's Training split is a quarter happy and 1.5% disgust, so a model trained on
it answers happy more readily and disgust rarely. Random oversampling, the study's remedy, trains
that out; Bayes' rule does it to a trained model's probabilities with no training at all:
``p(emotion | face) / share(emotion) ** strength``, renormalised. Strength 0 leaves the model as
it is, 1 answers as if every emotion were equally common. A run chooses the strength on its
validation faces, as the one under which it finds the emotions best on average (macro recall),
and :mod:`fer.evaluate` measures the result on its test faces.

On the committed default model, strength 0.5 (chosen on PublicTest) raised PrivateTest's macro
recall from 0.670 to 0.685 and disgust recall from 0.58 to 0.71, for 0.4 points of accuracy
(p = 0.2): two thirds of what oversampled fine-tuning bought (``experiments/README.md``).

NumPy only, like :mod:`fer.temperature`, whose :func:`~fer.temperature.tempered` divides by the prior.
"""

from __future__ import annotations

import numpy as np

from fer.temperature import tempered

STRENGTHS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""The strengths a run chooses among: a coarse grid, since 3,589 validation faces can't tell
finer steps apart (macro recall moved by under a point between neighbours on the default model)."""


def prior(shares: np.ndarray, strength: float) -> tuple[float, ...]:
    """Each emotion's divisor, ``share ** strength``, as :func:`fer.temperature.tempered` takes it."""
    return tuple(float(weight) for weight in np.asarray(shares, np.float64) ** strength)


def recalls(labels: np.ndarray, probabilities: np.ndarray, classes: int) -> np.ndarray:
    """Each class's recall: the share of its faces whose top class is it (NaN for a class with none)."""
    labels = np.asarray(labels)
    answers = np.asarray(probabilities).argmax(axis=1)
    return np.array([(answers[labels == index] == index).mean() if (labels == index).any() else np.nan
                     for index in range(classes)])


def choose_strength(labels: np.ndarray, probabilities: np.ndarray, shares: np.ndarray) -> float:
    """The :data:`STRENGTHS` value under which ``probabilities`` find ``labels``' classes best on
    average (macro recall over the classes present); the weakest of equals, so shares that are
    already even (an oversampled run's) choose 0, which changes nothing."""
    shares = np.asarray(shares, np.float64)
    scores = [np.nanmean(recalls(labels, tempered(probabilities, 1.0, prior(shares, strength)), len(shares)))
              for strength in STRENGTHS]
    return STRENGTHS[int(np.argmax(scores))]
