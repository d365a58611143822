"""Test-set metrics as the study reported them, and more: one function from probabilities.

The study's precision and recall are macro averages (its S2 recall 0.68 differs from its
accuracy 0.7074, which a weighted recall could not), so those are the headline numbers;
weighted averages, per-class scores, the confusion matrix and the calibration come along for
the dashboard.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from fer.priors import choose_strength, prior
from fer.temperature import PROBABILITY_FLOOR, Scaling, fit_temperature, tempered
from fer.vocab import CLASSES

CALIBRATION_BINS = 10
"""Equal-width bins of the top probability for :func:`calibration`, as in Guo et al. (2017): on
3,589 PrivateTest faces the default model fills 8 of them with 80-661 faces each."""


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Loss, accuracy, macro/weighted precision-recall-F1, per-class scores, confusion matrix.

    ``labels`` are class indices, ``probabilities`` the model's (N, 7) softmax outputs. The
    confusion matrix has true classes as rows and predictions as columns, in CLASSES order.
    """
    labels = np.asarray(labels, dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    classes = list(range(len(CLASSES)))
    result: dict[str, Any] = {
        "test_loss": log_loss(labels, probabilities),
        "test_accuracy": float((predicted == labels).mean()),
        "test_images": int(len(labels)),
    }
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            labels, predicted, labels=classes, average=average, zero_division=0
        )
        result |= {f"precision_{average}": float(precision), f"recall_{average}": float(recall), f"f1_{average}": float(f1)}
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0
    )
    result["per_class"] = {
        name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
        for name, p, r, f, s in zip(CLASSES, precision, recall, f1, support)
    }
    result["confusion_matrix"] = confusion_matrix(labels, predicted, labels=classes).tolist()
    return result | calibration(labels, probabilities)


def calibration(labels: np.ndarray, probabilities: np.ndarray, bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """How far the model's top probability can be taken at its word: per bin of that probability
    (``reliability``: its faces, their mean top probability and their accuracy, None for an empty
    bin), and the expected calibration error ``ece``, the faces' mean gap between the two.

    Why: a model that says 90% should be right 9 times in 10. Label smoothing makes a model
    under-confident and oversampling shifts its priors; the Classify page shows probabilities,
    and the Compare page draws these bins as reliability diagrams.
    """
    confidence = probabilities.max(axis=1).astype(np.float64)
    correct = probabilities.argmax(axis=1) == np.asarray(labels)
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)  # [k/bins, (k+1)/bins), the last one closed
    reliability, ece = [], 0.0
    for k in range(bins):
        members = which == k
        faces = int(members.sum())
        mean_confidence = float(confidence[members].mean()) if faces else None
        accuracy = float(correct[members].mean()) if faces else None
        reliability.append({"faces": faces, "confidence": mean_confidence, "accuracy": accuracy})
        if faces:
            ece += faces / len(labels) * abs(accuracy - mean_confidence)
    return {"ece": ece, "reliability": reliability}


def temperature_scaling(
    validation_labels: np.ndarray,
    validation_probabilities: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    fitted_on: str,
) -> dict[str, Any]:
    """The temperature fitted on the validation faces (:func:`fer.temperature.fit_temperature`),
    with the test faces' log-loss and :func:`calibration` once their probabilities are so scaled.

    Why: a run keeps this as ``temperature_scaling`` in ``metrics.json``, and the Classify page
    shows the scaled probabilities; the test-set numbers, measured on faces the fit never saw,
    say how far that can be trusted. The run's own ``ece`` and probabilities stay the network's.
    """
    temperature = fit_temperature(validation_labels, validation_probabilities)
    scaled = tempered(probabilities, temperature)
    return {
        "temperature": temperature,
        "fitted_on": fitted_on,
        "fitted_images": int(len(validation_labels)),
        "test_loss": log_loss(labels, scaled),
    } | calibration(labels, scaled)


def balanced_answers(
    validation_labels: np.ndarray,
    validation_probabilities: np.ndarray,
    labels: np.ndarray,
    probabilities: np.ndarray,
    shares: np.ndarray,
    fitted_on: str,
) -> dict[str, Any]:
    """The model's answers with the emotions' training ``shares`` taken out (:mod:`fer.priors`):
    the strength chosen on the validation faces, a temperature fitted there to the answers so
    balanced, and :func:`classification_metrics` of the test faces once balanced and tempered.

    Why: a run keeps this as ``balanced_answers`` in ``metrics.json``, and the Classify page
    offers the balanced answers with these test-set numbers beside its own, measured on faces
    neither choice saw. A run's own metrics and probabilities stay the network's.
    """
    strength = choose_strength(validation_labels, validation_probabilities, shares)
    divisor = prior(shares, strength)
    temperature = fit_temperature(validation_labels, tempered(validation_probabilities, 1.0, divisor))
    return {
        "shares": [float(share) for share in shares],
        "strength": strength,
        "temperature": temperature,
        "fitted_on": fitted_on,
        "fitted_images": int(len(validation_labels)),
    } | classification_metrics(labels, Scaling(temperature, divisor)(probabilities))


def log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Categorical cross-entropy of class indices under ``(N, 7)`` probabilities, clipped as Keras clips them."""
    true_probability = np.clip(probabilities[np.arange(len(labels)), np.asarray(labels)], PROBABILITY_FLOOR, 1.0)
    return float(-np.log(true_probability).mean())


def fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of 8-bit arrays (faces, labels, usages), in order: equal for equal data only.

    A run keeps its test faces' and labels' fingerprint (``test_set`` in ``metrics.json``): two
    runs can be compared face by face (paired tests on their predictions) only when theirs are
    equal, and the same faces in another order (another import of FER2013) are not."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, np.uint8).tobytes())
    return digest.hexdigest()[:16]
