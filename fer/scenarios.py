"""What a training run does: the study's four scenarios, the FER recipe and custom runs, as one
config type.

The study fixes the architecture, the balancing, the augmentation, Adam, categorical
cross-entropy and 100 epochs, but not the batch size or learning rate. The defaults here are
batch 128 and Adam at 1e-4: VGG19 has no batch normalisation and, trained from scratch at
Adam's default 1e-3, commonly collapses to predicting the majority class; 1e-4 is the usual
safe rate for both networks, and 128 keeps a GPU busy without hurting generalisation much.

The ``fer`` recipe is what small FER2013 CNNs trained from scratch report working at 48x48:
SGD with Nesterov momentum and a cosine schedule, label smoothing, weight decay, light
augmentation (4-pixel shifts and flips rather than the study's rotations and zooms) and
horizontal-flip test-time augmentation. It is the default model's recipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from fer.errors import FerError
from fer.images import FACE_SIZE
from fer.vocab import (
    ARCHITECTURE_NAMES,
    ARCHITECTURES,
    AUGMENTATIONS,
    BALANCING,
    COMPACT_ARCHITECTURES,
    COPY_DROPS,
    DATA_CHOICES,
    OPTIMIZERS,
    PRECISIONS,
    PROTOCOLS,
    SCHEDULES,
    TTA,
    WEIGHTS,
    epochs_text,
)

MAX_SEED = 2**32 - 1
"""The largest seed ``keras.utils.set_random_seed`` accepts (NumPy's legacy generator)."""

MAX_NOTE = 60
"""The longest :attr:`RunConfig.note`: it is part of the run's name in every list and legend, so a
few words ("random erasing", "EMA 0.999"). Two runs with different notes are never taken for seed
repeats of one experiment (:func:`fer.compare.group_runs`), though every other setting matches."""

COPIES_DROPPED = {
    "exact": "held-out copies dropped from training",
    "near": "held-out copies and near copies dropped from training",
}
"""How a run's summary says what its ``drop_copies`` left out."""

MIN_INPUT_SIZE, MAX_INPUT_SIZE = 32, 512
"""The sides, in pixels, a run may resize the 48x48 faces to before its network: ResNet50 and
VGG19 halve their maps five times and need at least 32. The Models page offers the same range."""


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to repeat a training run (written to the run's ``config.json``)."""

    scenario: str = "custom"
    arch: str = "vgg19"
    balance: str = "none"
    augment: str = "study"  # see fer.vocab.AUGMENTATIONS
    epochs: int = 100
    batch_size: int = 128
    learning_rate: float = 1e-4
    optimizer: str = "adam"
    schedule: str = "constant"
    weight_decay: float = 0.0
    label_smoothing: float = 0.0
    tta: str = "none"  # test-time augmentation: the views of each test face averaged (fer.vocab.TTA)
    precision: str = "auto"
    devices: str = "1"  # "1", "N" or "all": data-parallel training on that many devices (fer.distribute)
    input_size: int = FACE_SIZE
    weights: str = "none"
    protocol: str = "thesis"
    early_stopping: int = 0  # patience in epochs on validation accuracy (standard protocol); 0 = off
    drop_copies: str = "none"  # leave out Training faces that are copies of held-out faces (fer.vocab.COPY_DROPS)
    data: str = "active"  # resolved to "sample" or "full" when the run is created
    seed: int = 42
    note: str = ""  # a few words on what the run tries that no setting says (an experiment's change)

    def __post_init__(self) -> None:
        object.__setattr__(self, "devices", str(self.devices))  # 2 and "2" are one setting
        checks = [
            (self.arch in ARCHITECTURES, f"architecture must be one of {', '.join(ARCHITECTURES)}"),
            (self.balance in BALANCING, f"balance must be one of {', '.join(BALANCING)}"),
            (self.augment in AUGMENTATIONS, f"augment must be one of {', '.join(AUGMENTATIONS)}"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}"),
            (self.tta in TTA, f"test-time augmentation must be one of {', '.join(TTA)}"),
            (self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}"),
            (self.protocol in PROTOCOLS, f"protocol must be one of {', '.join(PROTOCOLS)}"),
            (self.drop_copies in COPY_DROPS, f"drop copies must be one of {', '.join(COPY_DROPS)}"),
            (self.data in DATA_CHOICES, f"data must be one of {', '.join(DATA_CHOICES)}"),
            (1 <= self.epochs <= 10_000, "epochs must be between 1 and 10000"),
            (1 <= self.batch_size <= 65_536, "batch size must be between 1 and 65536"),
            (
                # isascii: str.isdigit also takes "²" and other scripts' digits, which int() refuses or reads as 1
                self.devices == "all" or (self.devices.isascii() and self.devices.isdigit() and int(self.devices) >= 1),
                "devices must be 1 or more, or all",
            ),
            (0 <= self.seed <= MAX_SEED, f"seed must be between 0 and {MAX_SEED} (with several seeds, the last one too)"),
            (
                len(self.note) <= MAX_NOTE and self.note.isprintable(),
                f"the note must be one line of at most {MAX_NOTE} characters",
            ),
            (0 < self.learning_rate < 1, "learning rate must be between 0 and 1"),
            (0 <= self.weight_decay < 1, "weight decay must be between 0 and 1"),
            (0 <= self.label_smoothing < 1, "label smoothing must be between 0 and 1"),
            (
                MIN_INPUT_SIZE <= self.input_size <= MAX_INPUT_SIZE,
                f"input size must be between {MIN_INPUT_SIZE} and {MAX_INPUT_SIZE} pixels",
            ),
            (self.early_stopping >= 0, "early stopping patience must be 0 (off) or more epochs"),
            (
                not (self.early_stopping and self.protocol == "thesis"),
                ("early stopping needs a validation split: use the standard protocol (under the thesis "
                "protocol the only held-out images are the test set, and stopping on them flatters the result)"),
            ),
            (
                self.arch not in COMPACT_ARCHITECTURES or self.weights != "imagenet",
                f"the {ARCHITECTURE_NAMES.get(self.arch, self.arch)} has no ImageNet weights: it trains from scratch "
                "(weights none) or starts from a model file of the same network (a run's model.keras)",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise FerError(message)

    @property
    def label(self) -> str:
        """Short human name, e.g. ``S4 VGG19 + oversample``, or ``FER-CNN (random erasing)`` with a
        note; ``FER-CNN fine-tuned`` for a compact network started from a model file."""
        name = ARCHITECTURE_NAMES[self.arch]
        if self.arch in COMPACT_ARCHITECTURES and self.weights not in WEIGHTS:
            name += " fine-tuned"
        extra = "" if self.balance == "none" else f" + {self.balance}"
        extra += f" ({self.note})" if self.note else ""
        return f"{self.scenario} {name}{extra}" if self.scenario != "custom" else f"{name}{extra}"

    def device_count(self, available: int) -> int:
        """How many devices ``devices`` asks for, ``all`` being the ``available`` ones."""
        return available if self.devices == "all" else int(self.devices)

    @property
    def summary(self) -> str:
        """Every setting on one line, so runs can be told apart and repeated."""
        schedule = f", {self.schedule}" if self.schedule != "constant" else ""
        extras = [f"label smoothing {self.label_smoothing:g}"] if self.label_smoothing else []
        extras += [f"weight decay {self.weight_decay:g}"] if self.weight_decay else []
        extras += [f"{self.tta} TTA"] if self.tta != "none" else []
        extras += [COPIES_DROPPED[self.drop_copies]] if self.drop_copies != "none" else []
        return ", ".join(
            [
                ARCHITECTURE_NAMES[self.arch], f"balancing {self.balance}", f"augmentation {self.augment}",
                epochs_text(self.epochs), f"batch {self.batch_size}",
                f"{self.optimizer} {self.learning_rate:g}{schedule}", *extras, f"precision {self.precision}",
                f"devices {self.devices}",
                f"input {self.input_size} px", f"weights {self.weights}", f"protocol {self.protocol}",
                f"early stopping {self.early_stopping or 'off'}", f"data {self.data}", f"seed {self.seed}",
                *([f"note: {self.note}"] if self.note else []),
            ]
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        """Read a ``config.json``; runs written before ``augment`` and ``drop_copies`` named their
        kinds stored a bool (``drop_copies`` true was the exact copies), and runs written before
        ``tta`` had more than one kind stored ``flip_tta``, a bool."""
        if "flip_tta" in values and "tta" not in values:
            flip = values["flip_tta"]
            values = {key: value for key, value in values.items() if key != "flip_tta"}
            values["tta"] = ("flip" if flip else "none") if isinstance(flip, bool) else flip
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise FerError(f"unknown run setting(s): {', '.join(sorted(unknown))}")
        if isinstance(values.get("augment"), bool):
            values = {**values, "augment": "study" if values["augment"] else "none"}
        if isinstance(values.get("drop_copies"), bool):
            values = {**values, "drop_copies": "exact" if values["drop_copies"] else "none"}
        return cls(**values)


SCENARIOS: dict[str, RunConfig] = {
    "S1": RunConfig(scenario="S1", arch="resnet50", balance="none"),
    "S2": RunConfig(scenario="S2", arch="vgg19", balance="none"),
    "S3": RunConfig(scenario="S3", arch="resnet50", balance="oversample"),
    "S4": RunConfig(scenario="S4", arch="vgg19", balance="oversample"),
}
"""The study's scenarios with this project's defaults for what the study left open."""

RECIPES: dict[str, dict[str, Any]] = {
    "study": {"optimizer": "adam", "learning_rate": 1e-4, "schedule": "constant", "augment": "study"},
    "fer": {
        "optimizer": "sgd",
        "learning_rate": 0.05,
        "schedule": "cosine",
        "weight_decay": 5e-4,
        "label_smoothing": 0.1,
        "augment": "crop_flip",
        "tta": "shift",
        "batch_size": 128,
        "epochs": 40,
    },
}
"""Training recipes a custom run starts from (see the module doc); explicit settings win."""

DEFAULT_RECIPE = {"resnet50": "study", "vgg19": "study", "fer_cnn": "fer", "cnn": "fer"}


def scenario(name: str, recipe: str | None = None, **overrides: Any) -> RunConfig:
    """A study scenario (``S1``..``S4``) or ``custom``, with any settings overridden.

    Overrides that are None are ignored (unset command-line options). A custom run starts from
    ``recipe`` (by default the architecture's usual one: the study's for ResNet50 and VGG19,
    the FER recipe for the compact CNNs); the study's scenarios keep the study's recipe.
    """
    changed = {key: value for key, value in overrides.items() if value is not None}
    if name == "custom":
        recipe = recipe or DEFAULT_RECIPE[changed.get("arch", RunConfig.arch)]
        if recipe not in RECIPES:
            raise FerError(f"unknown recipe {recipe!r}: choose one of {', '.join(RECIPES)}")
        return RunConfig(**{**RECIPES[recipe], **changed})
    if name not in SCENARIOS:
        raise FerError(f"unknown scenario {name!r}: choose S1, S2, S3, S4 or custom")
    if {"arch", "balance"} & set(changed) or recipe not in (None, "study"):
        raise FerError(f"{name} fixes the architecture, balancing and recipe; use --scenario custom to change them")
    return replace(SCENARIOS[name], **changed)


WEIGHTS_SIGNATURES = {b"\x89HDF\r\n\x1a\n": "HDF5 (.h5, .weights.h5)", b"PK\x03\x04": "a .keras archive"}
"""The first bytes of the weights files Keras loads into a base network."""


def weights_path(weights: str) -> Path:
    """The weights file a run's ``weights`` setting names (neither ``none`` nor ``imagenet``),
    checked when the run is made rather than after it has loaded its data: it must exist and
    start as a file Keras can load weights from."""
    path = Path(weights).expanduser()
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except OSError as error:
        raise FerError(f"weights file {weights} not found: give none, imagenet or an existing file") from error
    if not any(head.startswith(signature) for signature in WEIGHTS_SIGNATURES):
        raise FerError(f"{weights} is not a weights file: Keras loads {' or '.join(WEIGHTS_SIGNATURES.values())}")
    return path


def with_seeds(config: RunConfig, repeats: int) -> list[RunConfig]:
    """``repeats`` copies of a run with seeds ``seed, seed + 1, ...``: how far a result moves
    with the seed alone is what a difference between two runs has to beat."""
    if not 1 <= repeats <= 20:
        raise FerError("repeats must be between 1 and 20 seeds")
    return [replace(config, seed=config.seed + offset) for offset in range(repeats)]


CPU_IMAGES_PER_SECOND = {"fer_cnn": 300.0, "cnn": 430.0, "vgg19": 74.0}
"""Training speed on a 2-core Xeon with AMX in mixed bfloat16, for rough time estimates: FER-CNN
from its full-data runs (220-276 img/s on average on a shared machine, 360-396 in quiet epochs),
the CNN from ``benchmarks.cpu_precision`` (374-417 with augmentation), VGG19 from a measurement of
74. In float32 or on CPUs without bf16 expect about 0.7x for the compact networks; ResNet50 was
not measured."""


def cpu_hours(configs: Sequence[RunConfig], train_images: Sequence[int]) -> float | None:
    """Rough hours these runs take one after another on a 2-core CPU; None when not measured.

    ``train_images`` holds each run's images per epoch (:func:`fer.balance.training_images`):
    balancing changes it (oversampling the study's S3 and S4 nearly doubles it).
    """
    rates = [CPU_IMAGES_PER_SECOND.get(config.arch) for config in configs]
    if None in rates:
        return None
    seconds = [config.epochs * images / rate for config, images, rate in zip(configs, train_images, rates, strict=True)]
    return sum(seconds) / 3600
