"""What a FER2013 dataset is once imported, and how the evaluation protocols split it.

Every source (:mod:`fer.sources`) gives a :class:`FaceDataset`; :mod:`fer.data` keeps the
active one. Kept apart from both so that code that only trains on or splits a dataset needs
neither the importers nor the cache.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from fer.errors import FerError
from fer.vocab import CLASSES, PROTOCOLS, USAGES

SAMPLE_SOURCE = "shipped sample"
"""The source of :func:`fer.data.load_sample`'s dataset: its ``name`` is ``sample``."""


@dataclass(frozen=True)
class FaceDataset:
    """All faces of one source: images (N, 48, 48) uint8, labels and usage as small ints."""

    images: np.ndarray
    labels: np.ndarray  # index into CLASSES
    usage: np.ndarray  # index into USAGES
    source: str  # what it was imported from, or "shipped sample"
    converted: int = 0  # images that were not 48x48 grayscale and had to be converted

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def name(self) -> str:
        """``sample`` or ``full`` (see :data:`fer.vocab.DATASETS`)."""
        return "sample" if self.source == SAMPLE_SOURCE else "full"

    @cached_property
    def copy_groups(self) -> np.ndarray:
        """Per face, a group number shared by exactly the faces with identical pixels (see
        :mod:`fer.copies`). Kept on the dataset: hashing FER2013's 35,887 faces takes 0.2 s, and
        the dashboard asks on every rerun of a page, with the same loaded dataset."""
        digests = np.array([hashlib.blake2b(face.tobytes(), digest_size=16).digest() for face in self.images], "S16")
        return np.unique(digests, return_inverse=True)[1].ravel()

    @cached_property
    def near_copy_pairs(self) -> np.ndarray:
        """``(P, 2)`` indices ``(i, j)`` of faces that are nearly the same picture (see
        :mod:`fer.copies`), every pair in both orders, each with at least one held-out (not
        Training) face: the pairs that decide what a model has seen of its test faces. Kept on the
        dataset: comparing FER2013's 7,178 test faces with all 35,887 takes about 2 s."""
        signatures = face_signatures(self.images)
        held_out = np.flatnonzero(self.usage != USAGES.index("Training"))
        pairs = [np.empty((0, 2), np.int64)]
        for start in range(0, len(held_out), 512):  # 512 x 35,887 similarities at a time: 73 MB
            rows = held_out[start:start + 512]
            similar = signatures[rows] @ signatures.T >= NEAR_COPY_SIMILARITY
            similar[np.arange(len(rows)), rows] = False
            row, column = np.nonzero(similar)
            pairs.append(np.stack([rows[row], column], axis=1))
        found = np.concatenate(pairs)
        return np.unique(np.concatenate([found, found[:, ::-1]]), axis=0)

    def usage_counts(self) -> dict[str, int]:
        """Images per original usage, leaving out usages with none (the sample has no ``Test``)."""
        counts = np.bincount(self.usage, minlength=len(USAGES))
        return {usage: int(n) for usage, n in zip(USAGES, counts) if n}


NEAR_COPY_SIMILARITY = 0.93
"""Two faces at least this similar (:func:`face_signatures`) are taken for the same picture.
Chosen by eye on FER2013's test faces beside their most similar Training faces, enlarged: of 24
random pairs between 0.93 and 0.95, 23 were the same photo cropped, toned or watermarked another
way (the 24th, two different women); of 24 between 0.95 and 0.97, all 24; between 0.90 and 0.93,
about half. Above 0.93, a test face and its most similar Training face carry the same label
80-91% of the time, against 30% for faces under 0.85."""


def face_signatures(images: np.ndarray) -> np.ndarray:
    """``(N, 256)`` float32: each face shrunk to 16x16 (3x3 block means), its mean removed and
    scaled to length 1, so that the dot product of two is their similarity, from -1 to 1: blind
    to brightness and contrast, and a sample face shifted by one pixel stays 0.93-0.98 similar to
    itself (by two, 0.76-0.94). A blank face (one grey level) stays all zeros: similar to nothing."""
    count = len(images)
    small = images.reshape(count, 16, 3, 16, 3).mean(axis=(2, 4), dtype=np.float32).reshape(count, 16 * 16)
    small -= small.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(small, axis=1, keepdims=True)
    return small / np.where(norms > 1e-3, norms, np.inf)


def faces_of_class(dataset: FaceDataset, name: str) -> np.ndarray:
    """All faces of one class, ``(n, 48, 48)``, in dataset order (so an index picks a stable face)."""
    return dataset.images[dataset.labels == CLASSES.index(name)]


def class_examples(dataset: FaceDataset, per_class: int, seed: int) -> dict[str, np.ndarray]:
    """Up to ``per_class`` random faces of every class, drawn without repeats; another seed, other faces."""
    generator = np.random.default_rng(seed)
    examples = {}
    for name in CLASSES:
        faces = faces_of_class(dataset, name)
        examples[name] = faces[generator.choice(len(faces), size=min(per_class, len(faces)), replace=False)]
    return examples


STANDARD_USAGES = {"validation": "PublicTest", "test": "PrivateTest"}
"""Which of FER2013's usages each held-out split of the standard protocol is."""


def protocol_splits(dataset: FaceDataset, protocol: str) -> dict[str, np.ndarray]:
    """Indices of each split under an evaluation protocol (see :data:`PROTOCOLS`)."""
    training = np.flatnonzero(dataset.usage == USAGES.index("Training"))
    if protocol == "thesis":
        return {"train": training, "test": np.flatnonzero(dataset.usage != USAGES.index("Training"))}
    if protocol != "standard":
        raise FerError(f"unknown protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")
    if np.any(dataset.usage == USAGES.index("Test")):
        raise FerError(
            "the standard protocol needs each test image's PublicTest/PrivateTest usage, which "
            f"{dataset.source} does not record; use the thesis protocol"
        )
    splits = {"train": training}
    for split, usage in STANDARD_USAGES.items():
        splits[split] = np.flatnonzero(dataset.usage == USAGES.index(usage))
        if not len(splits[split]):
            raise FerError(f"the standard protocol needs {usage} images, and {dataset.source} has none; use the thesis protocol")
    return splits


def check_trainable(dataset: FaceDataset) -> None:
    """Refuse a dataset that training or evaluation would fail on: every class must have
    Training images and test images (PublicTest, PrivateTest or unknown half)."""
    training = dataset.usage == USAGES.index("Training")
    for split, chosen in (("Training", training), ("test", ~training)):
        if not chosen.any():
            raise FerError(f"{dataset.source}: no {split} images: training and evaluation need both Training and test images")
        counts = np.bincount(dataset.labels[chosen], minlength=len(CLASSES))
        missing = [name for name, count in zip(CLASSES, counts) if not count]
        if missing:
            raise FerError(
                f"{dataset.source}: the {split} images have no {', '.join(missing)} faces: "
                "training and evaluation need every class among both the Training and the test images"
            )
