"""How many images a run trains on per epoch, counted without resampling."""

from __future__ import annotations

import pytest

from fer.balance import balance, training_images
from fer.copies import training_faces
from fer.dataset import FaceDataset, protocol_splits
from fer.errors import FerError
from fer.vocab import BALANCING, PROTOCOLS

from .conftest import planted


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("strategy", BALANCING)
def test_training_images_is_the_length_of_the_balanced_training_split(sample: FaceDataset, protocol: str, strategy: str) -> None:
    labels = sample.labels[protocol_splits(sample, protocol)["train"]]
    assert training_images(sample, protocol, strategy) == len(balance(labels, strategy).indices)


def test_dropped_copies_are_not_counted(sample: FaceDataset) -> None:
    dataset, _ = planted(sample)  # two Training faces are copies of held-out faces
    for protocol in PROTOCOLS:
        assert training_images(dataset, protocol) == 14
        assert training_images(dataset, protocol, drop_copies="exact") == 12
        assert training_images(dataset, protocol, drop_copies="near") == 11
        # Both angry Training faces were copies: six classes of two faces are left to oversample.
        kept = training_faces(dataset, protocol_splits(dataset, protocol), drop_copies="exact")
        oversampled = training_images(dataset, protocol, "oversample", drop_copies="exact")
        assert oversampled == len(balance(dataset.labels[kept], "oversample").indices) == 6 * 2


def test_balancing_changes_how_many_images_an_epoch_has(sample: FaceDataset) -> None:
    # The sample's 609 Training faces: 152 happy (the largest class) and 15 disgust (the smallest).
    counted = {strategy: training_images(sample, strategy=strategy) for strategy in BALANCING}
    assert counted == {"none": 609, "oversample": 7 * 152, "undersample": 7 * 15, "class_weight": 609}
    assert counted["oversample"] > counted["none"] > counted["undersample"]


def test_an_unknown_strategy_is_refused_as_balance_refuses_it(sample: FaceDataset) -> None:
    with pytest.raises(FerError, match="unknown balancing strategy 'smote'") as counted:
        training_images(sample, strategy="smote")
    with pytest.raises(FerError) as resampled:
        balance(sample.labels, "smote")
    assert str(counted.value) == str(resampled.value)
