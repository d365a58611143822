"""Class balancing of the training split, on sample indices, with imbalanced-learn.

The samplers see a column of indices instead of 2,304 pixels per face: the result says which
training images to use (with repeats) and never copies an image. Only the training split is
ever resampled; test and validation stay as they are so numbers stay comparable.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fer.copies import training_faces
from fer.dataset import FaceDataset, protocol_splits
from fer.errors import FerError
from fer.vocab import BALANCING, CLASSES

STUDY_RANDOM_STATE = 42
"""The study's RandomOverSampler seed."""


@dataclass(frozen=True)
class Balanced:
    """Which training images to use, and the loss weight of each class (None = equal)."""

    indices: np.ndarray
    class_weight: dict[int, float] | None = None


def balance(labels: np.ndarray, strategy: str, random_state: int = STUDY_RANDOM_STATE) -> Balanced:
    """Resample positions ``0..len(labels)-1`` of a training split by ``strategy``.

    ``labels`` are the training labels; the returned indices point into them.
    """
    # Imported here: imbalanced-learn and scikit-learn take a second to load, and the Train
    # page's time estimate (training_images) needs neither.
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler
    from sklearn.utils.class_weight import compute_class_weight

    positions = np.arange(len(labels)).reshape(-1, 1)
    if strategy == "none":
        return Balanced(positions.ravel())
    if strategy == "class_weight":
        present = np.unique(labels)
        weights = compute_class_weight("balanced", classes=present, y=labels)
        return Balanced(positions.ravel(), {int(c): float(w) for c, w in zip(present, weights)})
    samplers = {"oversample": RandomOverSampler, "undersample": RandomUnderSampler}
    if strategy not in samplers:
        raise _unknown_strategy(strategy)
    resampled, _ = samplers[strategy](random_state=random_state).fit_resample(positions, labels)
    return Balanced(resampled.ravel())


def training_images(
    dataset: FaceDataset, protocol: str = "thesis", strategy: str = "none", drop_copies: str = "none"
) -> int:
    """How many images a run with this protocol, balancing and ``drop_copies`` trains on per
    epoch: the length of :func:`balance`'s indices for :func:`fer.copies.training_faces`.

    Counted from the class sizes instead of resampling, since time estimates ask on every render
    of the Train page: RandomOverSampler brings every class present up to the largest one,
    RandomUnderSampler down to the smallest; the other strategies keep every image.
    """
    if strategy not in BALANCING:
        raise _unknown_strategy(strategy)
    labels = dataset.labels[training_faces(dataset, protocol_splits(dataset, protocol), drop_copies)]
    sizes = np.bincount(labels)
    sizes = sizes[sizes > 0]
    if strategy == "oversample" and len(sizes):
        return int(sizes.max()) * len(sizes)
    if strategy == "undersample" and len(sizes):
        return int(sizes.min()) * len(sizes)
    return len(labels)  # none and class_weight keep every image


def learnt_shares(labels: np.ndarray, strategy: str) -> np.ndarray:
    """Each class's share of the training faces ``labels`` as a model trained with ``strategy``
    learnt them: as they are (``none``), or even among the classes present, which every other
    strategy makes them (resampled to equal counts, or weighted to equal loss).

    The balanced answers of :mod:`fer.priors` divide these back out. A class with no training
    faces counts as half a face: its model gives it almost nothing, and a share of 0 would divide by 0.
    """
    if strategy not in BALANCING:
        raise _unknown_strategy(strategy)
    counts = np.bincount(np.asarray(labels, np.int64), minlength=len(CLASSES)).astype(np.float64)
    if strategy != "none":
        counts = np.where(counts > 0, counts.max(), 0.0)
    counts = np.maximum(counts, 0.5)
    return counts / counts.sum()


def _unknown_strategy(strategy: str) -> FerError:
    """The one wording of a refused strategy, for :func:`balance` and :func:`training_images`."""
    return FerError(f"unknown balancing strategy {strategy!r}: choose one of {', '.join(BALANCING)}")


def class_counts(dataset: FaceDataset, protocol: str = "thesis", strategy: str = "none") -> pd.DataFrame:
    """Per-class image counts of every split, before and after balancing the training split.

    Long format (columns ``split``, ``stage``, ``class``, ``count``) so a chart can facet or
    colour by any of them. Only ``train`` has an ``after`` that can differ from ``before``;
    ``class_weight`` leaves counts unchanged (it changes the loss, not the data).
    """
    rows = []
    for split, indices in protocol_splits(dataset, protocol).items():
        labels = dataset.labels[indices]
        after = labels[balance(labels, strategy).indices] if split == "train" else labels
        for stage, values in (("before", labels), ("after", after)):
            counts = np.bincount(values, minlength=len(CLASSES))
            rows += [{"split": split, "stage": stage, "class": c, "count": int(n)} for c, n in zip(CLASSES, counts)]
    return pd.DataFrame(rows)


def counts_table(counts: pd.DataFrame) -> pd.DataFrame:
    """:func:`class_counts` as one row per class (plus a total) and one column per split."""
    columns: dict[str, pd.Series] = {}
    for (split, stage), group in counts.groupby(["split", "stage"], sort=False):
        if stage == "before" or split == "train":
            name = f"{split} (balanced)" if stage == "after" else split
            columns[name] = group.set_index("class")["count"]
    table = pd.DataFrame(columns).loc[list(CLASSES)]
    table.loc["total"] = table.sum()
    return table
