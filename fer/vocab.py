"""The project's names, in one light module: classes, splits, protocols, datasets, balancing,
architectures, initial weights, augmentations, optimizers, schedules and precisions.

Everything that lists these choices (the CLI's option lists, the Train page's select boxes, run
configs, importers) reads them from here, so a name is spelled once, and asking for the choices
loads neither pyarrow nor imbalanced-learn nor Keras. The scenarios and recipes, which are
settings rather than names, are :data:`fer.scenarios.SCENARIOS` and :data:`fer.scenarios.RECIPES`.
"""

from __future__ import annotations

CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
"""The project's class order (alphabetical, as the Kaggle folders and the study's tables)."""

CLASS_COLORS: dict[str, tuple[int, int, int]] = dict(
    zip(CLASSES, [(136, 204, 238), (204, 102, 119), (221, 204, 119), (17, 119, 51), (51, 34, 136), (170, 68, 153), (68, 170, 153)])
)
"""Each emotion's colour as RGB, the same in charts and on boxed photos: Plotly's colour-blind
safe qualitative palette (``px.colors.qualitative.Safe``), kept here so that drawing a box
needs neither Plotly nor the charts."""

CHALLENGE_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The label order of the original challenge CSV (0..6) and of FER2013 parquet exports."""

USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest", "Test")
"""Original challenge usage of each image; ``Test`` is a test image whose half is unknown."""

PROTOCOLS: dict[str, str] = {
    "thesis": "train = Training, test = all test images (7,178 on the full data), as the study",
    "standard": "train = Training, validation = PublicTest, test = PrivateTest",
}

DATASETS: dict[str, str] = {
    "sample": "the shipped sample of real FER2013 faces",
    "full": "the full FER2013 (imported)",
}
"""The two datasets a run can train on; ``active`` (below) chooses between them."""

DATA_CHOICES: tuple[str, ...] = ("active", *DATASETS)
"""What a user may ask for: ``active`` is the imported dataset if any, else the sample."""

BALANCING: dict[str, str] = {
    "none": "train on the data as it is",
    "oversample": "repeat random images of smaller classes up to the largest (RandomOverSampler)",
    "undersample": "drop random images of larger classes down to the smallest (RandomUnderSampler)",
    "class_weight": "keep the data, weight each class's loss by n_samples / (n_classes * n_class)",
}

COPY_DROPS: dict[str, str] = {
    "none": "train on every Training face, as the study",
    "exact": "leave out the Training faces that are pixel copies of validation or test faces",
    "near": "leave out their near copies too: the same photo cropped, toned or watermarked another way",
}
"""What a run's ``drop_copies`` leaves out of its training faces (:func:`fer.copies.training_faces`)."""

ARCHITECTURES: dict[str, str] = {
    "resnet50": "ResNet50 (keras.applications) + GAP + Dense(7): the study's S1/S3",
    "vgg19": "VGG19 (keras.applications) + GAP + Dense(7): the study's S2/S4",
    "fer_cnn": "FER-CNN: VGG-style, 4 blocks of 2 conv + batch norm (1.2M parameters), the default model",
    "cnn": "compact 6-conv CNN with batch norm (289k parameters): trains in minutes, for quick checks",
}
ARCHITECTURE_NAMES: dict[str, str] = {"resnet50": "ResNet50", "vgg19": "VGG19", "fer_cnn": "FER-CNN", "cnn": "CNN"}
COMPACT_ARCHITECTURES: tuple[str, ...] = ("fer_cnn", "cnn")
"""The project's own small networks: built here, never pretrained, saved as float16 model files."""

WEIGHTS: dict[str, str] = {
    "none": "trained from scratch",
    "imagenet": "ImageNet-pretrained base",
}
"""How a network's weights start; only ResNet50 and VGG19 have ImageNet weights."""

AUGMENTATIONS: dict[str, str] = {
    "study": "the study's random affine: rotation ±15°, shift/shear/zoom 0.15, flip",
    "crop_flip": "random 4-pixel shifts (crops of the edge-padded face) and horizontal flips",
    "photo": "crop_flip, then 40% of faces blurred (out of focus or moving) and 40% exposed another way",
    "none": "no augmentation",
}

OPTIMIZERS: dict[str, str] = {
    "adam": "Adam",
    "sgd": "SGD with Nesterov momentum 0.9",
}

SCHEDULES: dict[str, str] = {
    "constant": "the learning rate stays as set",
    "cosine": "cosine decay from the learning rate to 0 over all epochs",
}

TTA: dict[str, str] = {
    "none": "each face as it is",
    "flip": "each face and its mirror image, averaged (2 views)",
    "shift": "each face and its mirror image, each also moved 2 px left, right, up and down, averaged (10 views)",
}
"""Test-time augmentation: the views of a face whose predictions are averaged
(:func:`fer.inference.classify_faces`)."""

VIDEO_EVERY_S = 0.5
"""Seconds between the frames of a video that are classified, unless asked otherwise
(:func:`fer.video.analyse_video`): expressions change over about a second."""
VIDEO_EVERY_S_RANGE = (0.1, 10.0)
"""The sampling intervals a video may be given, in seconds."""

PRECISIONS: dict[str, str] = {
    "auto": "mixed bfloat16 on a GPU, or on a CPU with AMX or AVX512-BF16; float32 otherwise",
    "float32": "float32 throughout",
    "mixed_bfloat16": "bfloat16 compute, float32 weights",
}


def epochs_text(count: int) -> str:
    """``1 epoch``, ``3 epochs``: run summaries, progress lines and cancel messages alike."""
    return f"{count} epoch{'' if count == 1 else 's'}"
