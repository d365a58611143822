"""Temperature scaling (Guo et al., 2017): one number that makes a model's probabilities honest.

A network's softmax is often over- or under-confident (label smoothing makes the FER recipe's
under-confident). Dividing its log-probabilities by a temperature ``T`` before the softmax again
changes how sure each answer looks but never which emotion wins: accuracy stays as it is, and
the Classify page's "80%" comes to mean right 8 times in 10. ``T`` is fitted on faces the
model was not trained on and that are not its test faces, the validation split (PublicTest),
so the test faces still measure how well it worked.

The same softmax also divides each emotion's probability by a ``prior`` weight before the
temperature, for balanced answers (:mod:`fer.priors`): :class:`Scaling` is the pair, what turns a
model's probabilities into the ones shown.

NumPy only: :func:`tempered` runs wherever a model classifies, and this import stays cheap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TEMPERATURE_RANGE = (0.05, 20.0)
"""The temperatures :func:`fit_temperature` searches: far beyond the default model's 0.92, so a
fit at an end says the probabilities carry almost no usable confidence, or are never wrong."""
PROBABILITY_FLOOR = 1e-7
"""Probabilities below it count as it, as Keras clips them in cross-entropy: log(0) is no number."""
_STEPS = 60  # bisection halvings of log T's range: far below float32's resolution


def tempered(probabilities: np.ndarray, temperature: float, prior: Sequence[float] | None = None) -> np.ndarray:
    """``softmax((log(p) - log(prior)) / T)`` of each row of ``probabilities`` ``(N, classes)``,
    in float32: ``T`` above 1 softens the answers, below 1 sharpens them, and 1 with no ``prior``
    leaves them exactly as given. ``prior`` (one positive weight per class) divides each class's
    probability before the temperature, which is the same as renormalising ``p / prior`` and
    tempering that: Bayes' rule with the class frequencies the model learnt taken out."""
    probabilities = np.asarray(probabilities, np.float32)
    if temperature == 1.0 and prior is None:
        return probabilities
    logits = np.log(np.clip(probabilities.astype(np.float64), PROBABILITY_FLOOR, 1.0))
    if prior is not None:
        logits = logits - np.log(np.asarray(prior, np.float64))
    logits = logits / temperature
    scaled = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


@dataclass(frozen=True)
class Scaling:
    """What turns a model's probabilities (averaged over its test-time views) into the ones shown:
    :func:`tempered` by ``temperature`` after dividing by ``prior`` (None: no division).

    One value rather than two arguments, because a temperature belongs to the answers it was
    fitted on: a run fits one to its own answers and another to its balanced ones
    (:meth:`fer.predict.ModelChoice.scaling` picks the pair). Frozen and hashable, so a page can
    cache results by it.
    """

    temperature: float = 1.0
    prior: tuple[float, ...] | None = None

    def __call__(self, probabilities: np.ndarray) -> np.ndarray:
        return tempered(probabilities, self.temperature, self.prior)


def fit_temperature(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """The temperature whose :func:`tempered` probabilities give ``labels`` the least log-loss.

    The log-loss is convex in ``1/T`` (a log-sum-exp of functions linear in it, less one of
    them), so its slope rises with ``1/T`` and a bisection on the slope's sign finds the one
    minimum, with NumPy alone. Averaged test-time-augmentation views are fitted as the model
    gives them: ``log`` of the average stands for the logits.
    """
    labels = np.asarray(labels, np.int64)
    if len(labels) == 0:
        raise ValueError("a temperature can't be fitted on no faces")
    logits = np.log(np.clip(np.asarray(probabilities, np.float64), PROBABILITY_FLOOR, 1.0))
    beyond_true = logits - logits[np.arange(len(labels)), labels][:, None]  # each class's logit less the label's

    def slope(log_inverse: float) -> float:  # d log-loss / d(1/T) at 1/T = exp(log_inverse): E[logit] - true logit
        scaled = np.exp(log_inverse) * beyond_true
        weights = np.exp(scaled - scaled.max(axis=1, keepdims=True))
        return float(((weights * beyond_true).sum(axis=1) / weights.sum(axis=1)).mean())

    low, high = -np.log(TEMPERATURE_RANGE[1]), -np.log(TEMPERATURE_RANGE[0])  # log(1/T)
    for _ in range(_STEPS):
        middle = (low + high) / 2
        low, high = (middle, high) if slope(middle) < 0 else (low, middle)
    return float(np.exp(-(low + high) / 2))
