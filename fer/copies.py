"""Faces that a dataset holds more than once: how many test faces a model trained on.

FER2013's faces were gathered by image search, and some came in twice:

* **Copies**, pixel for pixel. In the full dataset, 1,853 of its 35,887 faces repeat another
  one exactly. Among them, 288 of the 3,589 PrivateTest faces, and 568 of the study's 7,178
  test faces, are copies of Training faces. Every model "tested" on those had already trained
  on them. The committed default model scores 91.7% on the 288.
* **Near copies**: the same photo cropped, toned or watermarked another way, found by
  :data:`fer.dataset.NEAR_COPY_SIMILARITY` (checked by eye). Another 298 PrivateTest faces, and
  580 of the 7,178, have a near copy among the Training faces and no exact one. The default
  model scores 77.9% on those 298, and 67.1% on the 3,003 PrivateTest faces that have neither.
  Only pairs with a held-out face are looked for, and pairs just under the threshold are often
  the same photo too, so the overlap is at least this large.

A run with ``drop_copies`` "exact" trains without the 703 Training faces that are exact copies
of PublicTest or PrivateTest faces (:func:`training_faces`), so that it is selected and scored
only on faces it has never seen pixel for pixel; with "near", without their near copies too.
Twelve faces are blank: one grey level, no face at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fer.dataset import FaceDataset, face_signatures
from fer.vocab import USAGES

COLUMNS: dict[str, str] = {
    "faces": "faces",
    "same_split": "with a copy in the same split",
    "in_training": "with a copy among the Training faces",
    "near_training": "with a near copy among the Training faces",
    "relabelled": "with a copy labelled otherwise",
    "blank": "blank (one grey level)",
}
"""The columns of :func:`copies_table`, by key, with their labels."""


def copied_among(dataset: FaceDataset, indices: np.ndarray, among: np.ndarray) -> np.ndarray:
    """For each face at ``indices``, whether another face at ``among`` has the same pixels."""
    chosen = np.zeros(len(dataset), bool)
    chosen[among] = True
    groups = dataset.copy_groups
    chosen_per_group = np.bincount(groups[chosen], minlength=groups.max() + 1)
    return chosen_per_group[groups[indices]] - chosen[indices] > 0


def near_copied_among(dataset: FaceDataset, indices: np.ndarray, among: np.ndarray) -> np.ndarray:
    """For each face at ``indices``, whether a face at ``among`` is nearly the same picture
    (:attr:`fer.dataset.FaceDataset.near_copy_pairs`) and none is an exact copy
    (:func:`copied_among`): the two never both hold. Only pairs with a held-out face are known,
    so a Training face's near copies among other Training faces are not found."""
    chosen = np.zeros(len(dataset), bool)
    chosen[among] = True
    pairs = dataset.near_copy_pairs
    near = np.zeros(len(dataset), bool)
    near[pairs[chosen[pairs[:, 1]], 0]] = True
    return near[indices] & ~copied_among(dataset, indices, among)


def seen_in_training(
    dataset: FaceDataset, test: np.ndarray, trained: np.ndarray, correct: np.ndarray
) -> dict[str, int | float | None]:
    """How much of a test score is memory: of the ``test`` faces (``correct``: whether the model
    got each right), how many are exact copies (:func:`copied_among`) and near copies
    (:func:`near_copied_among`) of the ``trained`` faces, and the accuracy on those and on the
    others (None for a group with no faces). A run keeps it in its ``metrics.json``
    (:data:`fer.store.SEEN_IN_TRAINING`), so that its score on faces it never saw can be quoted
    wherever the run goes, without FER2013 imported."""
    seen = copied_among(dataset, test, trained)
    near = near_copied_among(dataset, test, trained)
    others = ~(seen | near)
    correct = np.asarray(correct, bool)

    def accuracy(group: np.ndarray) -> float | None:
        return float(correct[group].mean()) if group.any() else None

    return {
        "test_images": len(test),
        "copies": int(seen.sum()),
        "near_copies": int(near.sum()),
        "accuracy_others": accuracy(others),
        "accuracy_copies": accuracy(seen),
        "accuracy_near": accuracy(near),
    }


def near_copy_examples(dataset: FaceDataset, count: int) -> list[tuple[int, int, float]]:
    """Up to ``count`` held-out faces with a near copy among the Training faces, each as
    (held-out face, its most similar Training face, their similarity), spread evenly from the
    most to the least similar pair counted, so that a reader can judge the threshold."""
    training = dataset.usage == USAGES.index("Training")
    held_out = np.flatnonzero(~training)
    faces = held_out[near_copied_among(dataset, held_out, np.flatnonzero(training))]
    pairs = dataset.near_copy_pairs
    pairs = pairs[np.isin(pairs[:, 0], faces) & training[pairs[:, 1]]]
    signatures = [face_signatures(dataset.images[pairs[:, side]]) for side in (0, 1)]
    similarity = np.einsum("ij,ij->i", *signatures)
    # Each face's most similar Training face: the first of its pairs once sorted by similarity.
    order = np.argsort(-similarity, kind="stable")
    best = order[np.unique(pairs[order, 0], return_index=True)[1]]
    best = best[np.argsort(-similarity[best], kind="stable")]
    shown = best[np.linspace(0, len(best) - 1, min(count, len(best))).round().astype(int)]
    return [(int(pairs[k, 0]), int(pairs[k, 1]), float(similarity[k])) for k in shown]


def training_faces(dataset: FaceDataset, splits: dict[str, np.ndarray], drop_copies: str = "none") -> np.ndarray:
    """The faces a run trains on, before balancing: the ``train`` indices of
    :func:`fer.dataset.protocol_splits`' ``splits``, without those that are copies of held-out
    faces (validation and test) as ``drop_copies`` asks (:data:`fer.vocab.COPY_DROPS`): "exact"
    leaves out the pixel copies, so that the run never saw a face it is selected or scored on;
    "near" their near copies too."""
    if drop_copies == "none":
        return splits["train"]
    held_out = np.concatenate([indices for split, indices in splits.items() if split != "train"])
    copied = copied_among(dataset, splits["train"], held_out)
    if drop_copies == "near":
        copied |= near_copied_among(dataset, splits["train"], held_out)
    return splits["train"][~copied]


def copies_table(dataset: FaceDataset) -> pd.DataFrame:
    """Per original usage (Training, PublicTest, ...): its faces, and how many of them repeat
    another face (in the same usage, among the Training faces, under another label), have a near
    copy among the Training faces, or are blank.

    A face counts once per column, however many copies it has. The Training row's "among the
    Training faces" is its "same split" again, and its near copies among Training faces are not
    looked for, so both are left empty (NaN).
    """
    training = np.flatnonzero(dataset.usage == USAGES.index("Training"))
    relabelled = _relabelled(dataset)
    flat = dataset.images.reshape(len(dataset.images), -1)
    blank = flat.min(axis=1) == flat.max(axis=1)
    rows = []
    for usage in dataset.usage_counts():
        faces = np.flatnonzero(dataset.usage == USAGES.index(usage))
        rows.append({
            "usage": usage,
            "faces": len(faces),
            "same_split": int(copied_among(dataset, faces, faces).sum()),
            "in_training": np.nan if usage == "Training" else int(copied_among(dataset, faces, training).sum()),
            "near_training": np.nan if usage == "Training" else int(near_copied_among(dataset, faces, training).sum()),
            "relabelled": int(relabelled[faces].sum()),
            "blank": int(blank[faces].sum()),
        })
    return pd.DataFrame(rows, columns=["usage", *COLUMNS]).set_index("usage")


def relabelled_groups(dataset: FaceDataset) -> list[np.ndarray]:
    """For each group of identical faces that carries more than one label, the indices of its
    first face under each label, in dataset order: the same picture called, say, sad in Training
    and neutral in PrivateTest."""
    groups = dataset.copy_groups
    conflicting = np.flatnonzero(_relabelled(dataset))
    chosen = []
    for _, members in pd.Series(conflicting).groupby(groups[conflicting], sort=False):
        faces = members.to_numpy()
        first_of_each_label = np.unique(dataset.labels[faces], return_index=True)[1]
        chosen.append(np.sort(faces[first_of_each_label]))
    return chosen


def _relabelled(dataset: FaceDataset) -> np.ndarray:
    """Per face, whether a face with the same pixels carries another label."""
    labels_per_group = pd.Series(dataset.labels).groupby(dataset.copy_groups).nunique().to_numpy()
    return labels_per_group[dataset.copy_groups] > 1
