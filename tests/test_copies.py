"""Faces a dataset holds twice (fer.copies): planted copies among real sample faces, and the full FER2013's own."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from fer import copies, data
from fer.dataset import NEAR_COPY_SIMILARITY, FaceDataset, face_signatures, protocol_splits
from fer.paths import artifacts_at

from .conftest import FULL_FER2013, needs_full_fer2013, planted, tiny


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
            "near_training": [np.nan, 0, 1],
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

    # The faces a run trains on: all of Training, without the two copies of held-out faces, or
    # without the near copy too (the Training face a PrivateTest face is a retouched copy of).
    for protocol in ("thesis", "standard"):
        splits = protocol_splits(dataset, protocol)
        assert copies.training_faces(dataset, splits, drop_copies="none") is splits["train"]
        kept = copies.training_faces(dataset, splits, drop_copies="exact")
        assert set(train) - set(kept) == {train[0], train[1]} and len(kept) == len(train) - 2
        kept = copies.training_faces(dataset, splits, drop_copies="near")
        assert set(train) - set(kept) == {train[0], train[1], train[4]} and len(kept) == len(train) - 3

    (group,) = copies.relabelled_groups(dataset)
    assert list(group) == [train[1], public[2]]


def test_near_copies_are_the_same_photo_toned_or_watermarked_not_a_shifted_or_exact_one(sample: FaceDataset) -> None:
    dataset, at = planted(sample)
    train, public, private = at["train"], at["public"], at["private"]
    test = np.concatenate([public, private])
    # The retouched face only: the exact copies are not near copies, the face shifted by 3 px is too different.
    assert list(test[copies.near_copied_among(dataset, test, train)]) == [private[4]]
    assert not copies.near_copied_among(dataset, test, np.setdiff1d(train, [train[4]])).any()
    assert not copies.near_copied_among(dataset, train, train).any()  # pairs within Training are not looked for
    assert {tuple(pair) for pair in dataset.near_copy_pairs} >= {(private[4], train[4]), (train[4], private[4])}

    ((face, training_face, similarity),) = copies.near_copy_examples(dataset, 8)
    assert (face, training_face) == (private[4], train[4])
    assert NEAR_COPY_SIMILARITY <= similarity < 1

    # Brightness and contrast alone change nothing; a blank face is similar to nothing, itself included.
    faces = sample.images[:50]
    signatures = face_signatures(np.concatenate([faces, faces // 2 + 100, np.zeros_like(faces[:1])]))
    np.testing.assert_allclose((signatures[:50] * signatures[50:100]).sum(axis=1), 1.0, atol=2e-3)
    assert not signatures[-1].any()


def test_near_copy_examples_run_from_the_most_to_the_least_similar(sample: FaceDataset) -> None:
    base = tiny(sample)
    train, private = np.flatnonzero(base.usage == 0), np.flatnonzero(base.usage == 2)
    images = base.images.copy()
    for k, watermark in enumerate((2, 6, 10, 14)):  # wider watermarks, less similar
        images[private[k]] = np.clip(images[train[k]].astype(np.float32) * 0.8 + 30, 0, 255)
        images[private[k], 42:44, 4:4 + watermark] = 255
    examples = copies.near_copy_examples(replace(base, images=images), 3)
    similarities = [similarity for _, _, similarity in examples]
    assert len(examples) == 3 and similarities == sorted(similarities, reverse=True)
    found = [face for face, _, _ in copies.near_copy_examples(replace(base, images=images), 8)]
    assert found[0] == private[0] and found[-1] == examples[-1][0]


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
    assert copies.near_copied_among(full, splits["test"], splits["train"]).sum() == 580
    assert table.loc["PrivateTest", "near_training"] == 298 and table.loc["PublicTest", "near_training"] == 282
    assert len(splits["train"]) - len(copies.training_faces(full, splits, drop_copies="exact")) == 703
    assert len(splits["train"]) - len(copies.training_faces(full, splits, drop_copies="near")) == 1719
    assert len(copies.relabelled_groups(full)) == 57
