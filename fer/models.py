"""The study's classifiers, built so that a saved model takes raw 48x48 uint8 faces.

Every model is: uint8 face ``(48, 48, 1)`` -> :class:`GrayToModelInput` (float, grayscale
replicated to the 3 channels ImageNet architectures expect, the architecture's own input
normalisation) -> resize to the chosen input size -> :class:`~fer.augment.FaceAugment`
(training only) -> base network without its top -> GlobalAveragePooling2D -> Dense(7, softmax),
with Dropout(0.3) before the Dense layer in the compact networks (the study's have none).

Keeping the preprocessing inside the model means inference cannot use a different
preprocessing from training: the Classify page hands the model the same uint8 crops.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import keras
from keras import layers, ops

from fer.augment import AUGMENT_RANGES, FaceAugment
from fer.errors import FerError
from fer.images import FACE_SIZE
from fer.scenarios import MIN_INPUT_SIZE, weights_path
from fer.vocab import ARCHITECTURE_NAMES, ARCHITECTURES, CLASSES, COMPACT_ARCHITECTURES, WEIGHTS

IMAGENET_FILES = {
    "resnet50": "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "vgg19": "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
}
"""The files ``keras.applications`` downloads for ``weights="imagenet"`` without the top."""

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)  # keras.applications' "caffe" preprocessing


@keras.saving.register_keras_serializable(package="fer")
class GrayToModelInput(layers.Layer):
    """uint8 grayscale faces to the float input an architecture was designed for.

    ``caffe`` is what ``keras.applications.{vgg19,resnet50}.preprocess_input`` does (BGR order,
    ImageNet mean subtracted; a gray face gives three equal channels, so the order is moot);
    ``unit`` scales to [0, 1] for the compact CNN.
    """

    def __init__(self, mode: str = "caffe", channels: int = 3, **kwargs: Any) -> None:
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if mode not in ("caffe", "unit"):
            raise ValueError(f"unknown input mode {mode!r}")
        self.mode = mode
        self.channels = channels

    def call(self, faces: Any) -> Any:
        x = ops.cast(faces, "float32")
        x = ops.repeat(x, self.channels, axis=-1) if self.channels > 1 else x
        if self.mode == "caffe":
            return x - ops.convert_to_tensor(_CAFFE_MEAN_BGR[: self.channels], dtype="float32")
        return x / 255.0

    def levels(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Black and white (grey levels 0 and 255) in this layer's output, per channel."""
        if self.mode == "caffe":
            means = _CAFFE_MEAN_BGR[: self.channels]
            return tuple(-mean for mean in means), tuple(255 - mean for mean in means)
        return (0.0,) * self.channels, (1.0,) * self.channels

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (*input_shape[:-1], self.channels)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mode": self.mode, "channels": self.channels}


def build_model(
    arch: str,
    input_size: int = FACE_SIZE,
    weights: str = "none",
    augment: str = "study",
    seed: int | None = None,
) -> keras.Model:
    """The full model for ``arch`` (see :data:`ARCHITECTURES`), taking uint8 ``(48, 48, 1)`` faces.

    ``weights``: one of :data:`fer.vocab.WEIGHTS` (``imagenet`` is downloaded by Keras: it needs
    the internet or the file in Keras' cache) or the path of a weights file for the base network;
    for a compact network, the path of a model file of the same network (a run's ``model.keras``)
    whose weights, its head's too, the model starts from: fine-tuning it.
    ``augment`` names the training-time augmentation (:data:`fer.vocab.AUGMENTATIONS`).
    """
    if arch not in ARCHITECTURES:
        raise FerError(f"unknown architecture {arch!r}: choose one of {', '.join(ARCHITECTURES)}")
    if input_size < MIN_INPUT_SIZE:
        raise FerError(
            f"input size {input_size} is too small: ResNet50 and VGG19 need at least {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE}"
        )
    faces = keras.Input((FACE_SIZE, FACE_SIZE, 1), dtype="uint8", name="face")
    compact = arch in COMPACT_ARCHITECTURES
    to_input = GrayToModelInput("unit" if compact else "caffe", channels=1 if compact else 3, name="to_model_input")
    x = to_input(faces)
    if input_size != FACE_SIZE:
        x = layers.Resizing(input_size, input_size, dtype="float32", name="resize")(x)
    if augment != "none":
        x = FaceAugment(asdict(AUGMENT_RANGES[augment]), seed=seed, levels=to_input.levels(), name="augment")(x)
    base = _base_network(arch, (input_size, input_size, x.shape[-1]), weights)
    x = base(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if compact:
        x = layers.Dropout(0.3, name="dropout")(x)
    outputs = layers.Dense(len(CLASSES), activation="softmax", dtype="float32", name="emotion")(x)
    model = keras.Model(faces, outputs, name=f"fer_{arch}")
    if compact and weights != "none":
        _start_from(model, arch, weights)
    return model


def _start_from(model: keras.Model, arch: str, path: str) -> None:
    """Give ``model`` (a compact ``arch``) the weights of the model file at ``path``: its base
    network's and its head's, which are all the weights it has (augmentation and dropout have none)."""
    checked = weights_path(path)  # a FerError for a missing file or one Keras can't read
    try:
        source = keras.saving.load_model(checked, compile=False)
        for name in (arch, "emotion"):
            layer, values = model.get_layer(name), source.get_layer(name).get_weights()
            layer.set_weights([value.astype(weight.dtype) for value, weight in zip(values, layer.weights, strict=True)])
    except Exception as error:  # noqa: BLE001  (Keras raises ValueError, TypeError or OSError for a file of another network)
        raise FerError(
            f"could not start the {ARCHITECTURE_NAMES[arch]} from {path}: it must be a model file of the same "
            f"network, as a {ARCHITECTURE_NAMES[arch]} run saves ({str(error).splitlines()[0]})"
        ) from error


def _base_network(arch: str, shape: tuple[int, int, int], weights: str) -> keras.Model:
    if arch in COMPACT_ARCHITECTURES:
        if weights == "imagenet":
            raise FerError(
                f"the {ARCHITECTURE_NAMES[arch]} has no ImageNet weights: it trains from scratch (weights=none) "
                "or starts from a model file of the same network"
            )
        return _compact_cnn(shape, COMPACT_WIDTHS[arch], name=arch)  # a model file's weights come later (_start_from)
    constructors: dict[str, Callable[..., keras.Model]] = {
        "resnet50": keras.applications.ResNet50,
        "vgg19": keras.applications.VGG19,
    }
    # keras.applications takes None (random weights), "imagenet" or a weights file's path.
    source = (None if weights == "none" else weights) if weights in WEIGHTS else str(weights_path(weights))
    try:
        return constructors[arch](include_top=False, weights=source, input_shape=shape)
    except Exception as error:  # keras' get_file raises a bare Exception when a download fails
        if source != "imagenet":
            raise FerError(f"could not load {arch} weights from {source}: {str(error).splitlines()[0]}") from error
        cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"  # where Keras looks
        raise FerError(
            # Keras downloads the file unless its cache has it, then loads it: either can fail.
            f"could not load or download the ImageNet weights for {arch} ({str(error).splitlines()[0]}); "
            f"on a machine without internet put {IMAGENET_FILES[arch]} into {cache}/ "
            "or train from scratch with weights=none"
        ) from error


COMPACT_WIDTHS: dict[str, tuple[int, ...]] = {"cnn": (32, 64, 128), "fer_cnn": (32, 64, 128, 256)}
"""Filters of each block of the compact networks; FER-CNN's fourth block takes the 6x6 maps to 3x3."""


def _compact_cnn(shape: tuple[int, int, int], widths: tuple[int, ...], name: str) -> keras.Model:
    """VGG-style blocks: two 3x3 convs with batch norm and ReLU, then 2x2 max-pooling."""
    inputs = keras.Input(shape)
    x = inputs
    for filters in widths:
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D()(x)
    return keras.Model(inputs, x, name=name)
