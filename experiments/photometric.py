"""The default recipe with photometric jitter after its crops and flips: exposure and contrast.

    FER_ARTIFACTS=/some/folder python -m experiments.photometric   # full FER2013 imported there

Each face's grey levels are scaled by a gain from 0.6 to 1.4 and spread about the face's mean by
a contrast factor from 0.6 to 1.4 (uniform, one of each per face), then clipped to [0, 1], the
range the compact networks' augmentation works in. Why: on ``python -m benchmarks.robustness``
the default model loses about 10 points on faces exposed at half the light, where the crops and
flips it trained with change no grey level. Everything else as ``python -m
scripts.make_default_model train`` (FER-CNN, 40 epochs, seed 42, standard protocol). The jitter
replaces :func:`fer.augment.augment` while the run trains, so no option for it exists in the library.
"""

from typing import Any
from unittest import mock

import keras
from keras import ops

from fer import augment
from scripts.make_default_model import train

_warp = augment.augment
GAIN = (0.6, 1.4)
CONTRAST = (0.6, 1.4)


def warp_and_light(images: Any, ranges: augment.AugmentRanges, seed: Any) -> Any:
    """The usual warp, then each face's exposure and contrast changed at random."""
    images = _warp(images, ranges, seed)
    count = ops.shape(images)[0]
    gain = keras.random.uniform((count, 1, 1, 1), *GAIN, seed=seed)
    contrast = keras.random.uniform((count, 1, 1, 1), *CONTRAST, seed=seed)
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    return ops.clip(((images - mean) * contrast + mean) * gain, 0.0, 1.0)


if __name__ == "__main__":
    with mock.patch.object(augment, "augment", warp_and_light):  # while it trains only
        train(40, note="photometric jitter")
