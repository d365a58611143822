"""Faces that a dataset holds more than once, pixel for pixel: how many test faces a model trained on.

FER2013's faces were gathered by image search, and some came in twice. In the full dataset,
1,853 of its 35,887 faces repeat another one exactly. Among them, 288 of the 3,589 PrivateTest
faces, and 568 of the study's 7,178 test faces, are copies of Training faces. Every model
"tested" on those had already trained on them. The committed default model scores 91.3% on the
288, and 67.4% on the other 3,301 PrivateTest faces.

A run with ``drop_copies`` trains without the 703 Training faces that are copies of PublicTest
or PrivateTest faces (:func:`training_faces`), so that it is selected and scored only on faces
it has never seen.

Only exact copies count here. The same photo cropped or scaled another way is not found, so
the real overlap is at least this large. Twelve faces are blank: one grey level, no face at all.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fer.dataset import FaceDataset
from fer.vocab import USAGES

COLUMNS: dict[str, str] = {
    "faces": "faces",
    "same_split": "with a copy in the same split",
    "in_training": "with a copy among the Training faces",
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


def training_faces(dataset: FaceDataset, splits: dict[str, np.ndarray], drop_copies: bool) -> np.ndarray:
    """The faces a run trains on, before balancing: the ``train`` indices of
    :func:`fer.dataset.protocol_splits`' ``splits``, and with ``drop_copies`` only those with no
    pixel copy among the held-out faces (validation and test), so that the run has never seen a
    face it is selected or scored on."""
    if not drop_copies:
        return splits["train"]
    held_out = np.concatenate([indices for split, indices in splits.items() if split != "train"])
    return splits["train"][~copied_among(dataset, splits["train"], held_out)]


def copies_table(dataset: FaceDataset) -> pd.DataFrame:
    """Per original usage (Training, PublicTest, ...): its faces, and how many of them repeat
    another face (in the same usage, among the Training faces, under another label) or are blank.

    A face counts once per column, however many copies it has. The Training row's "among the
    Training faces" is its "same split" again, so it is left empty (NaN).
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
