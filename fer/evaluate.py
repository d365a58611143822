"""Test-set metrics as the study reported them, and more: one function from probabilities.

The study's precision and recall are macro averages (its S2 recall 0.68 differs from its
accuracy 0.7074, which a weighted recall could not), so those are the headline numbers;
weighted averages, per-class scores and the confusion matrix come along for the dashboard.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from fer.vocab import CLASSES

_EPSILON = 1e-7  # Keras' clipping of probabilities in categorical cross-entropy


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, Any]:
    """Loss, accuracy, macro/weighted precision-recall-F1, per-class scores, confusion matrix.

    ``labels`` are class indices, ``probabilities`` the model's (N, 7) softmax outputs. The
    confusion matrix has true classes as rows and predictions as columns, in CLASSES order.
    """
    labels = np.asarray(labels, dtype=np.int64)
    predicted = probabilities.argmax(axis=1)
    classes = list(range(len(CLASSES)))
    true_probability = np.clip(probabilities[np.arange(len(labels)), labels], _EPSILON, 1.0)
    result: dict[str, Any] = {
        "test_loss": float(-np.log(true_probability).mean()),
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
    return result


def fingerprint(*arrays: np.ndarray) -> str:
    """A short hash of 8-bit arrays (faces, labels, usages), in order: equal for equal data only.

    A run keeps its test faces' and labels' fingerprint (``test_set`` in ``metrics.json``): two
    runs can be compared face by face (paired tests on their predictions) only when theirs are
    equal, and the same faces in another order (another import of FER2013) are not."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array, np.uint8).tobytes())
    return digest.hexdigest()[:16]
