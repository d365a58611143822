"""Faces a dataset holds twice (fer.copies): planted copies among real sample faces, and the full FER2013's own."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fer import copies, data
from fer.dataset import FaceDataset, protocol_splits
from fer.paths import artifacts_at

from .conftest import FULL_FER2013, needs_full_fer2013, planted


def test_copies_are_found_counted_per_split_and_grouped(sample: FaceDataset) -> None:
    dataset, at = planted(sample)
    train, public, private = at["train"], at["public"], at["private"]
    assert len(set(dataset.copy_groups)) == len(dataset) - 3  # three planted copies; the blank face is unique
    assert dataset.copy_groups[private[0]] == dataset.copy_groups[train[0]] != dataset.copy_groups[train[1]]

    table = copies.copies_table(dataset)
    expected = pd.DataFrame(
        {
            "faces": [14, 14, 14],
            "same_split": [2, 0, 0],
            "in_training": [np.nan, 1, 1],
            "relabelled": [1, 1, 0],
            "blank": [0, 0, 1],
        },
        index=pd.Index(["Training", "PublicTest", "PrivateTest"], name="usage"),
    )
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)
    assert list(copies.COLUMNS) == list(table.columns)

    test = protocol_splits(dataset, "thesis")["test"]
    assert set(test[copies.copied_among(dataset, test, train)]) == {private[0], public[2]}
    # A Training face is not its own copy: only the planted pair within Training counts.
    assert set(train[copies.copied_among(dataset, train, train)]) == {train[2], train[3]}

    # The faces a run trains on: all of Training, or without the two copies of held-out faces.
    for protocol in ("thesis", "standard"):
        splits = protocol_splits(dataset, protocol)
        assert copies.training_faces(dataset, splits, drop_copies=False) is splits["train"]
        kept = copies.training_faces(dataset, splits, drop_copies=True)
        assert set(train) - set(kept) == {train[0], train[1]} and len(kept) == len(train) - 2

    (group,) = copies.relabelled_groups(dataset)
    assert list(group) == [train[1], public[2]]


def test_the_shipped_sample_holds_no_copies(sample: FaceDataset) -> None:
    table = copies.copies_table(sample)
    assert table.drop(columns="faces").fillna(0).to_numpy().sum() == 0
    assert table["faces"].to_dict() == sample.usage_counts()
    assert copies.relabelled_groups(sample) == []


@needs_full_fer2013
def test_the_full_fer2013_copies_are_the_documented_ones(tmp_path: Path) -> None:
    with artifacts_at(tmp_path):
        full = data.import_dataset(FULL_FER2013)
    table = copies.copies_table(full)
    # The numbers the README, fer.copies and the pages state.
    assert table.loc["PrivateTest", "in_training"] == 288 and table.loc["PublicTest", "in_training"] == 280
    assert table["blank"].sum() == 12 and len(full) - len(set(full.copy_groups)) == 1853
    splits = protocol_splits(full, "thesis")
    assert copies.copied_among(full, splits["test"], splits["train"]).sum() == 568
    assert len(splits["train"]) - len(copies.training_faces(full, splits, drop_copies=True)) == 703
    assert len(copies.relabelled_groups(full)) == 57
