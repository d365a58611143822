"""The study's augmentation as one fused random affine per image, backend-neutral.

Keras' old ``ImageDataGenerator`` drew one rotation, shift, shear, zoom and flip per image and
applied them as a single affine warp. This does the same with ``keras.ops`` and
``keras.ops.image.affine_transform``, so it runs inside the jitted train step on TensorFlow and
JAX alike. The Random* layer chain (RandomRotation, RandomTranslation, ...) would warp five
times and was measured 13x slower than training VGG19 on the H200 (``shared/gpu/README.md``).

Ranges mean what they meant to ``ImageDataGenerator``: rotation and shear in degrees (so the
study's ``shear_range=0.15`` is a 0.15 degree shear, as it was for the study), shifts as
fractions of the side, zoom factors drawn per axis from ``[1 - zoom, 1 + zoom]``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import keras
import numpy as np
from keras import ops


@dataclass(frozen=True)
class AugmentRanges:
    """Ranges of the random affine (``ImageDataGenerator`` semantics, see module doc)."""

    rotation: float = 15.0
    width_shift: float = 0.15
    height_shift: float = 0.15
    shear: float = 0.15
    zoom: float = 0.15
    horizontal_flip: bool = True


STUDY_RANGES = AugmentRanges()
"""The study's augmentation: rotation 15, shifts 0.15, shear 0.15, zoom 0.15, horizontal flip."""

AUGMENT_RANGES: dict[str, AugmentRanges] = {
    "study": STUDY_RANGES,
    # Shifts of up to 4 pixels with edge pixels repeated: the random crops of an edge-padded
    # face that small FER2013 CNNs train with, through the same fused warp.
    "crop_flip": AugmentRanges(rotation=0.0, width_shift=4 / 48, height_shift=4 / 48, shear=0.0, zoom=0.0),
}
"""The ranges behind each named augmentation of :data:`fer.vocab.AUGMENTATIONS` but ``none``."""


def random_transforms(
    batch: int, height: int, width: int, ranges: AugmentRanges, seed: Any
) -> Any:
    """Draw one affine per image as ``affine_transform``'s ``(batch, 8)`` output-to-input rows.

    Composed as ``ImageDataGenerator`` composed it: rotation @ shift @ shear @ zoom about the
    image centre, followed by the flip.
    """

    def uniform(low: float, high: float) -> Any:
        return keras.random.uniform((batch,), low, high, seed=seed)

    theta = uniform(-ranges.rotation, ranges.rotation) * (math.pi / 180)
    shear = uniform(-ranges.shear, ranges.shear) * (math.pi / 180)
    zoom_x = uniform(1 - ranges.zoom, 1 + ranges.zoom)
    zoom_y = uniform(1 - ranges.zoom, 1 + ranges.zoom)
    shift_x = uniform(-ranges.width_shift, ranges.width_shift) * width
    shift_y = uniform(-ranges.height_shift, ranges.height_shift) * height
    if ranges.horizontal_flip:
        flip = ops.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0)
    else:
        flip = ops.ones((batch,))

    cos, sin = ops.cos(theta), ops.sin(theta)
    # Linear part R(theta) @ Shear(shear) @ Zoom(zx, zy) @ Flip, in (x = column, y = row).
    a0 = cos * zoom_x * flip
    a1 = -zoom_y * ops.sin(theta + shear)
    b0 = sin * zoom_x * flip
    b1 = zoom_y * ops.cos(theta + shear)
    # Rotate the shift as ImageDataGenerator did, then keep the centre fixed.
    cx, cy = (width - 1) / 2, (height - 1) / 2
    a2 = cx - a0 * cx - a1 * cy + cos * shift_x - sin * shift_y
    b2 = cy - b0 * cx - b1 * cy + sin * shift_x + cos * shift_y
    zeros = ops.zeros((batch,))
    return ops.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)


def augment(images: Any, ranges: AugmentRanges, seed: Any) -> Any:
    """Warp a float batch ``(N, H, W, C)`` by one random affine per image (edges: nearest)."""
    batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
    transforms = random_transforms(batch, height, width, ranges, seed)
    return ops.image.affine_transform(
        images, transforms, interpolation="bilinear", fill_mode="nearest", data_format="channels_last"
    )


@keras.saving.register_keras_serializable(package="fer")
class FaceAugment(keras.layers.Layer):
    """The fused random affine as a layer: active only in training, identity at inference.

    Runs in float32 whatever the model's policy: with bfloat16 the sampling coordinates of a
    48-pixel image would be off by up to a quarter pixel.
    """

    def __init__(self, ranges: dict[str, Any] | None = None, seed: int | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.ranges = AugmentRanges(**(ranges or {}))
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images: Any, training: bool | None = None) -> Any:
        if not training:
            return images
        return augment(images, self.ranges, self.seed_generator)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ranges": asdict(self.ranges), "seed": self.seed}


def augmented_views(face: np.ndarray, count: int, ranges: AugmentRanges = STUDY_RANGES, seed: int = 0) -> np.ndarray:
    """``count`` random views of one 48x48 uint8 face, for the dashboard's augmentation preview."""
    batch = np.repeat(face[None, :, :, None].astype("float32"), count, axis=0)
    views = augment(ops.convert_to_tensor(batch), ranges, keras.random.SeedGenerator(seed))
    return np.clip(np.round(ops.convert_to_numpy(views)[..., 0]), 0, 255).astype(np.uint8)
