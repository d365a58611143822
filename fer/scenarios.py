"""What a training run does: the study's four scenarios and custom ones, as one config type.

The study fixes the architecture, the balancing, the augmentation, Adam, categorical
cross-entropy and 100 epochs, but not the batch size or learning rate. The defaults here are
batch 128 and Adam at 1e-4: VGG19 has no batch normalisation and, trained from scratch at
Adam's default 1e-3, commonly collapses to predicting the majority class; 1e-4 is the usual
safe rate for both networks, and 128 keeps a GPU busy without hurting generalisation much.
The compact CNN (batch norm throughout) trains well at 1e-3.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from fer.balance import STRATEGIES
from fer.data import DATASETS, PROTOCOLS
from fer.errors import FerError
from fer.images import FACE_SIZE

ARCHITECTURES: dict[str, str] = {
    "resnet50": "ResNet50 (keras.applications) + GAP + Dense(7): the study's S1/S3",
    "vgg19": "VGG19 (keras.applications) + GAP + Dense(7): the study's S2/S4",
    "cnn": "compact 6-conv CNN with batch norm (289k parameters): fast on CPU, small enough to ship",
}


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to repeat a training run (written to the run's ``config.json``)."""

    scenario: str = "custom"
    arch: str = "vgg19"
    balance: str = "none"
    augment: bool = True
    epochs: int = 100
    batch_size: int = 128
    learning_rate: float = 1e-4
    input_size: int = FACE_SIZE
    weights: str = "none"
    protocol: str = "thesis"
    early_stopping: int = 0  # patience in epochs on validation accuracy (standard protocol); 0 = off
    data: str = "active"  # resolved to "sample" or "full" when the run is created
    seed: int = 42

    def __post_init__(self) -> None:
        checks = [
            (self.arch in ARCHITECTURES, f"architecture must be one of {', '.join(ARCHITECTURES)}"),
            (self.balance in STRATEGIES, f"balance must be one of {', '.join(STRATEGIES)}"),
            (self.protocol in PROTOCOLS, f"protocol must be one of {', '.join(PROTOCOLS)}"),
            (self.data in DATASETS, f"data must be one of {', '.join(DATASETS)}"),
            (1 <= self.epochs <= 10_000, "epochs must be between 1 and 10000"),
            (1 <= self.batch_size <= 65_536, "batch size must be between 1 and 65536"),
            (0 < self.learning_rate < 1, "learning rate must be between 0 and 1"),
            (32 <= self.input_size <= 512, "input size must be between 32 and 512 pixels"),
            (self.early_stopping >= 0, "early stopping patience must be 0 (off) or more epochs"),
            (
                not (self.early_stopping and self.protocol == "thesis"),
                "early stopping needs a validation split: use the standard protocol (under the thesis "
                "protocol the only held-out images are the test set, and stopping on them flatters the result)",
            ),
            (self.arch != "cnn" or self.weights == "none", "the compact CNN trains from scratch only (weights none)"),
        ]
        for ok, message in checks:
            if not ok:
                raise FerError(message)

    @property
    def label(self) -> str:
        """Short human name, e.g. ``S4 VGG19 + oversample``."""
        name = {"resnet50": "ResNet50", "vgg19": "VGG19", "cnn": "CNN"}[self.arch]
        extra = "" if self.balance == "none" else f" + {self.balance}"
        return f"{self.scenario} {name}{extra}" if self.scenario != "custom" else f"{name}{extra}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise FerError(f"unknown run setting(s): {', '.join(sorted(unknown))}")
        return cls(**values)


SCENARIOS: dict[str, RunConfig] = {
    "S1": RunConfig(scenario="S1", arch="resnet50", balance="none"),
    "S2": RunConfig(scenario="S2", arch="vgg19", balance="none"),
    "S3": RunConfig(scenario="S3", arch="resnet50", balance="oversample"),
    "S4": RunConfig(scenario="S4", arch="vgg19", balance="oversample"),
}
"""The study's scenarios with this project's defaults for what the study left open."""


def scenario(name: str, **overrides: Any) -> RunConfig:
    """A study scenario (``S1``..``S4``) or ``custom``, with any settings overridden.

    Overrides that are None are ignored (unset command-line options); a custom CNN run
    defaults to learning rate 1e-3 (see the module doc).
    """
    changed = {key: value for key, value in overrides.items() if value is not None}
    if name == "custom":
        if changed.get("arch") == "cnn":
            changed.setdefault("learning_rate", 1e-3)
        return RunConfig(**changed)
    if name not in SCENARIOS:
        raise FerError(f"unknown scenario {name!r}: choose S1, S2, S3, S4 or custom")
    if {"arch", "balance"} & set(changed):
        raise FerError(f"{name} fixes the architecture and balancing; use --scenario custom to change them")
    return replace(SCENARIOS[name], **changed)
