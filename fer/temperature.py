"""Temperature scaling (Guo et al., 2017): one number that makes a model's probabilities honest.

A network's softmax is often over- or under-confident (label smoothing makes the FER recipe's
under-confident). Dividing its log-probabilities by a temperature ``T`` before the softmax again
changes how sure each answer looks but never which emotion wins: accuracy stays as it is, and
the Classify page's "80%" comes to mean right 8 times in 10. ``T`` is fitted on faces the
model was not trained on and that are not its test faces, the validation split (PublicTest),
so the test faces still measure how well it worked.

NumPy only: :func:`tempered` runs wherever a model classifies, and this import stays cheap.
"""

from __future__ import annotations

import numpy as np

TEMPERATURE_RANGE = (0.05, 20.0)
"""The temperatures :func:`fit_temperature` searches: far beyond the default model's 0.92, so a
fit at an end says the probabilities carry almost no usable confidence, or are never wrong."""
PROBABILITY_FLOOR = 1e-7
"""Probabilities below it count as it, as Keras clips them in cross-entropy: log(0) is no number."""
_STEPS = 60  # bisection halvings of log T's range: far below float32's resolution


def tempered(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log(p) / T)`` of each row of ``probabilities`` ``(N, classes)``, in float32:
    ``T`` above 1 softens the answers, below 1 sharpens them, and 1 leaves them exactly as given."""
    probabilities = np.asarray(probabilities, np.float32)
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities.astype(np.float64), PROBABILITY_FLOOR, 1.0)) / temperature
    scaled = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


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
