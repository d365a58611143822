"""The default recipe with random erasing (Zhong et al. 2017) after its crops and flips.

    FER_ARTIFACTS=/some/folder python -m experiments.random_erasing   # full FER2013 imported there

Half the faces get one rectangle of 2-25% of the face, aspect 0.3-3.3, filled with uniform
noise; everything else as ``python -m scripts.make_default_model train`` (FER-CNN, 40 epochs,
seed 42, standard protocol). Result in the README ("The default model"): PrivateTest 0.6854,
under-fitting in 40 epochs. The erasing replaces :func:`fer.augment.augment` while the run
trains (the augmentation layer calls it per batch), so no option for it exists in the library.
"""

import math
from typing import Any
from unittest import mock

import keras
from keras import ops

from fer import augment
from scripts.make_default_model import train

_warp = augment.augment


def warp_and_erase(images: Any, ranges: augment.AugmentRanges, seed: Any, levels: tuple[Any, Any] = (0.0, 1.0)) -> Any:
    """The usual warp, then one noise rectangle on a random half of the faces."""
    images = _warp(images, ranges, seed, levels)
    count, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]

    def uniform(low: float, high: float) -> Any:
        return keras.random.uniform((count,), low, high, seed=seed)

    area = uniform(0.02, 0.25) * height * width
    aspect = ops.exp(uniform(math.log(0.3), math.log(3.3)))
    box_height = ops.minimum(ops.sqrt(area * aspect), height)
    box_width = ops.minimum(ops.sqrt(area / aspect), width)
    top, left = uniform(0.0, 1.0) * (height - box_height), uniform(0.0, 1.0) * (width - box_width)
    erased = ops.cast(uniform(0.0, 1.0) < 0.5, "float32")
    rows = ops.arange(height, dtype="float32")[None, :, None]
    cols = ops.arange(width, dtype="float32")[None, None, :]
    inside = (
        (rows >= top[:, None, None]) & (rows < (top + box_height)[:, None, None])
        & (cols >= left[:, None, None]) & (cols < (left + box_width)[:, None, None])
    )
    mask = (ops.cast(inside, "float32") * erased[:, None, None])[..., None]
    noise = keras.random.uniform(ops.shape(images), 0.0, 1.0, seed=seed)
    return images * (1 - mask) + noise * mask


if __name__ == "__main__":
    with mock.patch.object(augment, "augment", warp_and_erase):  # while it trains only
        train(40, note="random erasing")
