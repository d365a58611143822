"""The study's augmentation as one fused random affine per image, backend-neutral.

Keras' old ``ImageDataGenerator`` drew one rotation, shift, shear, zoom and flip per image and
applied them as a single affine warp. This does the same with ``keras.ops`` and
``keras.ops.image.affine_transform``, so it runs inside the jitted train step on TensorFlow and
JAX alike. The Random* layer chain (RandomRotation, RandomTranslation, ...) would warp five
times and was measured 13x slower than training VGG19 on the H200 (``shared/gpu/README.md``).

Ranges mean what they meant to ``ImageDataGenerator``: rotation and shear in degrees (so the
study's ``shear_range=0.15`` is a 0.15 degree shear, as it was for the study), shifts as
fractions of the side, zoom factors drawn per axis from ``[1 - zoom, 1 + zoom]``.

The ``photo`` augmentation adds what a camera does to a face that FER2013's faces rarely show:
after the warp, a share of the faces is blurred (out of focus or moving) and a share is exposed
another way (brighter, darker, flatter; clipped at white). The default model read blurred faces
badly without it (``benchmarks/README.md``, "Faces photographed worse").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
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
    blur: float = 0.0
    """Share of the faces blurred after the warp (:data:`BLUR_SIGMA`, :data:`MOTION_LENGTH`)."""
    exposure: float = 0.0
    """Share of the faces exposed another way after the warp (:data:`EXPOSURE_GAIN`, :data:`EXPOSURE_CONTRAST`)."""


STUDY_RANGES = AugmentRanges()
"""The study's augmentation: rotation 15, shifts 0.15, shear 0.15, zoom 0.15, horizontal flip."""

CROP_FLIP = AugmentRanges(rotation=0.0, width_shift=4 / 48, height_shift=4 / 48, shear=0.0, zoom=0.0)
"""Shifts of up to 4 pixels with edge pixels repeated: the random crops of an edge-padded face
that small FER2013 CNNs train with, through the same fused warp; and horizontal flips."""

AUGMENT_RANGES: dict[str, AugmentRanges] = {
    "study": STUDY_RANGES,
    "crop_flip": CROP_FLIP,
    "photo": replace(CROP_FLIP, blur=0.4, exposure=0.4),
}
"""The ranges behind each named augmentation of :data:`fer.vocab.AUGMENTATIONS` but ``none``."""

BLUR_KERNEL = 9
"""Side of the blur kernels, px: room for the widest Gaussian and the longest streak below."""
BLUR_SIGMA = (0.3, 1.3)
"""Gaussian blur's sigma on the 48-px face, px: up to a 192-px face blurred by about 5 px."""
MOTION_LENGTH = (2.0, 5.0)
"""Motion blur's streak on the 48-px face, px, at any angle: up to 20 px on a 192-px face."""
GAUSSIAN_SHARE = 0.6
"""Of the blurred faces, the share blurred out of focus; the others are streaked by motion."""
EXPOSURE_GAIN = (0.6, 1.5)
"""Factor on every grey level (darker to brighter, clipped at white)."""
EXPOSURE_CONTRAST = (0.6, 1.2)
"""Factor on the grey levels' spread about the face's mean (a flat light to a harder one)."""


def _uniform(shape: tuple[Any, ...], seed: Any) -> Callable[[float, float], Any]:
    """``uniform(low, high)``: a draw of ``shape`` (one value per image, broadcast as the caller
    needs) from the layer's seed generator."""
    return lambda low, high: keras.random.uniform(shape, low, high, seed=seed)


def random_transforms(
    batch: int, height: int, width: int, ranges: AugmentRanges, seed: Any
) -> Any:
    """Draw one affine per image as ``affine_transform``'s ``(batch, 8)`` output-to-input rows.

    Composed as ``ImageDataGenerator`` composed it: rotation @ shift @ shear @ zoom about the
    image centre, followed by the flip.
    """

    uniform = _uniform((batch,), seed)
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


def augment(images: Any, ranges: AugmentRanges, seed: Any, levels: tuple[Any, Any] = (0.0, 1.0)) -> Any:
    """Warp a float batch ``(N, H, W, C)`` by one random affine per image (edges: nearest), then
    blur and expose the shares of it that ``ranges`` asks for. ``levels`` are black and white in
    the batch's values (per channel, or one for all): exposure is changed in grey levels."""
    batch, height, width = ops.shape(images)[0], images.shape[1], images.shape[2]
    transforms = random_transforms(batch, height, width, ranges, seed)
    images = ops.image.affine_transform(
        images, transforms, interpolation="bilinear", fill_mode="nearest", data_format="channels_last"
    )
    if ranges.blur:
        images = blurred(images, ranges.blur, seed)
    if ranges.exposure:
        black, white = (ops.convert_to_tensor(level, dtype="float32") for level in levels)
        images = exposed((images - black) / (white - black), ranges.exposure, seed) * (white - black) + black
    return images


def blur_kernels(batch: Any, share: float, seed: Any) -> Any:
    """One normalised ``BLUR_KERNEL``-square kernel per image ``(batch, K, K)``: a Gaussian, a
    motion streak, or (for the ``1 - share`` not blurred) the identity."""

    uniform = _uniform((batch, 1, 1), seed)
    offsets = ops.arange(BLUR_KERNEL, dtype="float32") - (BLUR_KERNEL - 1) / 2
    rows, cols = offsets[None, :, None], offsets[None, None, :]
    gaussian = ops.exp(-(rows**2 + cols**2) / (2 * uniform(*BLUR_SIGMA) ** 2))
    angle = uniform(0.0, math.pi)
    along = cols * ops.cos(angle) + rows * ops.sin(angle)
    across = rows * ops.cos(angle) - cols * ops.sin(angle)
    # A streak with a soft (0.4 px) profile across it, so that it is drawn at any angle.
    streak = ops.exp(-(across**2) / (2 * 0.4**2)) * ops.cast(ops.abs(along) <= uniform(*MOTION_LENGTH) / 2, "float32")
    identity = ops.cast((rows == 0) & (cols == 0), "float32")
    kernels = ops.where(uniform(0.0, 1.0) < GAUSSIAN_SHARE, gaussian, streak)
    kernels = ops.where(uniform(0.0, 1.0) < share, kernels, identity)
    return kernels / ops.sum(kernels, axis=(1, 2), keepdims=True)


def blurred(images: Any, share: float, seed: Any) -> Any:
    """``images`` ``(N, H, W, C)``, each convolved with its own kernel (:func:`blur_kernels`;
    edges mirrored): the batch goes through one depthwise convolution as channels."""
    batch, channels = ops.shape(images)[0], images.shape[-1]
    kernels = ops.repeat(blur_kernels(batch, share, seed), channels, axis=0)  # one per image and channel
    side = images.shape[1:3]
    pad = BLUR_KERNEL // 2
    # (N, H, W, C) -> (1, H, W, N*C): each image's channel is a channel of one image.
    x = ops.reshape(ops.transpose(images, (1, 2, 0, 3)), (1, *side, -1))
    x = ops.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="symmetric")
    x = ops.depthwise_conv(x, ops.transpose(kernels, (1, 2, 0))[..., None], padding="valid")
    return ops.transpose(ops.reshape(x, (*side, -1, channels)), (2, 0, 1, 3))


def exposed(images: Any, share: float, seed: Any) -> Any:
    """Of ``images`` in grey levels ``[0, 1]``, the ``share`` drawn exposed another way: the
    spread about each face's mean scaled by :data:`EXPOSURE_CONTRAST`, then every level by
    :data:`EXPOSURE_GAIN`, clipped to ``[0, 1]``."""
    batch = ops.shape(images)[0]

    uniform = _uniform((batch, 1, 1, 1), seed)
    mean = ops.mean(images, axis=(1, 2, 3), keepdims=True)
    changed = ops.clip(((images - mean) * uniform(*EXPOSURE_CONTRAST) + mean) * uniform(*EXPOSURE_GAIN), 0.0, 1.0)
    return ops.where(uniform(0.0, 1.0) < share, changed, images)


@keras.saving.register_keras_serializable(package="fer")
class FaceAugment(keras.layers.Layer):
    """The fused random affine as a layer: active only in training, identity at inference.

    Runs in float32 whatever the model's policy: with bfloat16 the sampling coordinates of a
    48-pixel image would be off by up to a quarter pixel.
    """

    def __init__(
        self,
        ranges: dict[str, Any] | None = None,
        seed: int | None = None,
        levels: tuple[Any, Any] = (0.0, 1.0),
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.ranges = AugmentRanges(**(ranges or {}))
        self.seed = seed
        self.levels = levels
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, images: Any, training: bool | None = None) -> Any:
        if not training:
            return images
        return augment(images, self.ranges, self.seed_generator, self.levels)

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ranges": asdict(self.ranges), "seed": self.seed, "levels": self.levels}


def augmented_views(face: np.ndarray, count: int, ranges: AugmentRanges = STUDY_RANGES, seed: int = 0) -> np.ndarray:
    """``count`` random views of one 48x48 uint8 face, for the dashboard's augmentation preview."""
    batch = np.repeat(face[None, :, :, None].astype("float32"), count, axis=0)
    views = augment(ops.convert_to_tensor(batch), ranges, keras.random.SeedGenerator(seed), levels=(0.0, 255.0))
    return np.clip(np.round(ops.convert_to_numpy(views)[..., 0]), 0, 255).astype(np.uint8)
