"""The active FER2013 dataset: the shipped sample, or the user's import, cached.

An import (:func:`import_dataset`, :func:`import_upload`) reads the source with
:mod:`fer.sources`, checks that training and evaluation can use it, and only then replaces the
cache under ``$FER_ARTIFACTS`` (one uncompressed ``.npz``, written atomically): a bad source or
a crash leaves the previous import untouched, and later loads of the full 35,887 faces take a
fraction of a second.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import replace
from pathlib import Path, PurePosixPath

import numpy as np
from numpy.lib.npyio import NpzFile

from fer.arrays import ZIP_ERRORS, check_declared_size, npz_bytes
from fer.dataset import SAMPLE_SOURCE, FaceDataset, check_trainable
from fer.errors import FerError
from fer.images import FACE_SIZE
from fer.paths import active_dataset_name, atomic_write_bytes, dataset_cache_path
from fer.sources import Progress, read_file, read_parquet, read_source
from fer.vocab import CLASSES, DATA_CHOICES, USAGES

SAMPLE_PATH = Path(__file__).parent / "sample" / "fer2013_sample.parquet"


def load_sample() -> FaceDataset:
    """The small stratified FER2013 subset committed with the project."""
    dataset = read_parquet([SAMPLE_PATH])
    return FaceDataset(dataset.images, dataset.labels, dataset.usage, SAMPLE_SOURCE)


def load_imported() -> FaceDataset | None:
    """The cached imported dataset, or None when nothing has been imported."""
    path = dataset_cache_path()
    if not path.exists():
        return None
    if not zipfile.is_zipfile(path):  # numpy would take it for a pickle and say so
        raise FerError(f"{path}: the imported dataset's cache is damaged (not an .npz archive): import FER2013 again")
    try:
        with np.load(path) as cache:
            return _cached_dataset(cache)
    except (*ZIP_ERRORS, KeyError, TypeError) as error:  # KeyError: a part missing; TypeError: see _cached_dataset
        raise FerError(f"{path}: the imported dataset's cache is damaged ({error}): import FER2013 again") from error


def _cached_dataset(cache: NpzFile) -> FaceDataset:
    """The dataset in an opened cache once its parts agree with each other and with what
    :func:`save_cache` writes: a cache edited or damaged by hand must be refused, never give
    wrong counts. Raises TypeError or ValueError saying what is wrong."""
    for name in cache.files:
        check_declared_size(cache.zip, f"{name}.npy")
    meta = json.loads(str(cache["meta"]))
    if not isinstance(meta, dict) or not isinstance(meta.get("source"), str) or not isinstance(meta.get("converted"), int):
        raise TypeError("its description is not a source name and a count of converted images")
    images, labels, usage = cache["images"], cache["labels"], cache["usage"]
    if images.dtype != np.uint8 or images.shape[1:] != (FACE_SIZE, FACE_SIZE) or not len(images):
        raise ValueError(f"its images are {images.dtype} {images.shape}, not 8-bit {FACE_SIZE}x{FACE_SIZE} faces")
    for what, values, count in (("labels", labels, len(CLASSES)), ("usages", usage, len(USAGES))):
        if values.dtype != np.uint8 or values.shape != (len(images),) or values.max() >= count:
            raise ValueError(f"its {what} are not {len(images):,} whole numbers 0..{count - 1}")
    return FaceDataset(images, labels, usage, meta["source"], meta["converted"])


def load_dataset(which: str = "active") -> FaceDataset:
    """``sample``, ``full`` (the imported dataset) or ``active`` (:func:`active_dataset_name`)."""
    if which not in DATA_CHOICES:
        raise FerError(f"unknown dataset {which!r}: choose one of {', '.join(DATA_CHOICES)}")
    if which == "sample" or (which == "active" and active_dataset_name() == "sample"):
        return load_sample()
    imported = load_imported()
    if imported is None:
        raise FerError("no FER2013 import found: run `python -m fer data import SOURCE` first")
    return imported


def import_dataset(source: str | Path, progress: Progress | None = None) -> FaceDataset:
    """Import ``source`` (zip, folder, CSV or parquet on this machine) and make it the active
    dataset. The cache is replaced only after the whole source was read and checked, so a bad
    source or a crash leaves the previous import untouched."""
    return _activate(read_source(source, progress))


def import_upload(name: str, content: bytes, progress: Progress | None = None) -> FaceDataset:
    """Import an uploaded file (zip, CSV or parquet, by its ``name``) from memory, as
    :func:`import_dataset` does; the dataset's source reads ``upload NAME``."""
    filename = PurePosixPath(name.replace("\\", "/")).name
    return _activate(read_file(io.BytesIO(content), filename, progress), f"upload {filename}")


def _activate(dataset: FaceDataset, source: str = "") -> FaceDataset:
    """Check a dataset just read, then make it the active one, named ``source`` if given."""
    check_trainable(dataset)
    if source:
        dataset = replace(dataset, source=source)
    save_cache(dataset)
    return dataset


def save_cache(dataset: FaceDataset) -> None:
    """Write the dataset cache atomically (uncompressed, so it loads in well under a second)."""
    meta = json.dumps({"source": dataset.source, "converted": dataset.converted})
    arrays = {"images": dataset.images, "labels": dataset.labels, "usage": dataset.usage, "meta": np.array(meta)}
    atomic_write_bytes(dataset_cache_path(), npz_bytes(compress=False, **arrays))
