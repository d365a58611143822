"""FER2013 from whatever form a user has it in, into one canonical, cached dataset.

Sources (all give the same :class:`FaceDataset`):

* the Kaggle archive: ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``, as the ``.zip``
  (read in place, never extracted) or an extracted folder, possibly under one top folder;
* the original challenge CSV ``fer2013.csv`` (``emotion``, ``pixels``, ``Usage``);
* Hugging Face image-dataset parquet (``image.bytes``, ``label``, optional ``usage``).

The import is cached under ``$FER_ARTIFACTS`` (one uncompressed ``.npz``, replaced atomically)
so later loads of the full 35,887 faces take a fraction of a second.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from fer.errors import FerError
from fer.images import FACE_SIZE, decode_face
from fer.paths import atomic_write_bytes, dataset_cache_path

CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
"""The project's class order (alphabetical, as the Kaggle folders and the study's tables)."""

CHALLENGE_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""The label order of the original challenge CSV (0..6) and of FER2013 parquet exports."""

USAGES: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest", "Test")
"""Original challenge usage of each image; ``Test`` is a test image whose half is unknown."""

PROTOCOLS: dict[str, str] = {
    "thesis": "train = Training, test = all 7,178 test images (as the study)",
    "standard": "train = Training, validation = PublicTest, test = PrivateTest",
}

DATASETS: tuple[str, ...] = ("active", "sample", "full")
"""Which dataset to load: the imported one if any else the sample, the sample, or the imported one."""

SAMPLE_PATH = Path(__file__).parent / "sample" / "fer2013_sample.parquet"

Progress = Callable[[float, str], None]
"""Callback for long work: fraction done in [0, 1] and a short message."""


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
        return "sample" if self.source == SAMPLE_SOURCE else "imported"

    def usage_counts(self) -> dict[str, int]:
        counts = np.bincount(self.usage, minlength=len(USAGES))
        return {usage: int(n) for usage, n in zip(USAGES, counts) if n}


SAMPLE_SOURCE = "shipped sample"


def protocol_splits(dataset: FaceDataset, protocol: str) -> dict[str, np.ndarray]:
    """Indices of each split under an evaluation protocol (see :data:`PROTOCOLS`)."""
    training = np.flatnonzero(dataset.usage == USAGES.index("Training"))
    if protocol == "thesis":
        return {"train": training, "test": np.flatnonzero(dataset.usage != USAGES.index("Training"))}
    if protocol == "standard":
        if np.any(dataset.usage == USAGES.index("Test")):
            raise FerError(
                "the standard protocol needs each test image's PublicTest/PrivateTest usage, which "
                f"{dataset.source} does not record; use the thesis protocol"
            )
        return {
            "train": training,
            "validation": np.flatnonzero(dataset.usage == USAGES.index("PublicTest")),
            "test": np.flatnonzero(dataset.usage == USAGES.index("PrivateTest")),
        }
    raise FerError(f"unknown protocol {protocol!r}: choose one of {', '.join(PROTOCOLS)}")


# --------------------------------------------------------------------------------------------
# Loading: the cache, the shipped sample, the active dataset


def load_sample() -> FaceDataset:
    """The small stratified FER2013 subset committed with the project."""
    dataset = import_parquet([SAMPLE_PATH])
    return FaceDataset(dataset.images, dataset.labels, dataset.usage, SAMPLE_SOURCE)


def load_imported() -> FaceDataset | None:
    """The cached imported dataset, or None when nothing has been imported."""
    path = dataset_cache_path()
    if not path.exists():
        return None
    with np.load(path) as cache:
        meta = json.loads(str(cache["meta"]))
        return FaceDataset(cache["images"], cache["labels"], cache["usage"], meta["source"], meta["converted"])


def load_dataset(which: str = "active") -> FaceDataset:
    """``sample``, ``full`` (the imported dataset) or ``active`` (imported if any, else sample)."""
    if which == "sample":
        return load_sample()
    if which not in DATASETS:
        raise FerError(f"unknown dataset {which!r}: choose one of {', '.join(DATASETS)}")
    imported = load_imported()
    if imported is not None:
        return imported
    if which == "full":
        raise FerError("no FER2013 import found: run `python -m fer data import SOURCE` first")
    return load_sample()


def import_dataset(source: str | Path, progress: Progress | None = None, label: str | None = None) -> FaceDataset:
    """Import ``source`` (zip, folder, CSV or parquet) and make it the active dataset.

    ``label`` names the source in place of its path (an upload's temporary file is gone later).
    The cache is replaced only after the whole source was read and checked, so a bad source
    or a crash leaves the previous import untouched.
    """
    dataset = read_source(source, progress)
    if label:
        dataset = replace(dataset, source=label)
    save_cache(dataset)
    return dataset


def save_cache(dataset: FaceDataset) -> None:
    """Write the dataset cache atomically (uncompressed, so it loads in well under a second)."""
    buffer = io.BytesIO()
    meta = json.dumps({"source": dataset.source, "converted": dataset.converted})
    np.savez(buffer, images=dataset.images, labels=dataset.labels, usage=dataset.usage, meta=np.array(meta))
    atomic_write_bytes(dataset_cache_path(), buffer.getvalue())


# --------------------------------------------------------------------------------------------
# Importers


def read_source(source: str | Path, progress: Progress | None = None) -> FaceDataset:
    """Read any supported source into a :class:`FaceDataset` without touching the cache."""
    path = Path(source).expanduser()
    if not path.exists():
        raise FerError(f"{path}: no such file or folder")
    if path.is_file():
        suffix = path.suffix.lower()
        if suffix == ".zip":
            return import_zip(path, progress)
        if suffix == ".csv":
            return import_csv(path, progress)
        if suffix == ".parquet":
            return import_parquet([path], progress)
        raise FerError(f"{path}: unsupported file type {suffix or '(none)'}: give a .zip, .csv or .parquet")
    parquets = sorted(path.rglob("*.parquet"))
    if parquets:
        return import_parquet(parquets, progress)
    csvs = sorted(path.rglob("*.csv"))
    if csvs:
        if len(csvs) > 1:
            raise FerError(f"{path}: several CSV files ({', '.join(p.name for p in csvs[:3])}); give one")
        return import_csv(csvs[0], progress)
    files = [p for p in sorted(path.rglob("*")) if p.is_file()]
    return _import_tree(
        ((p.relative_to(path).as_posix(), p.read_bytes) for p in files), len(files), str(path), progress
    )


def import_zip(path: Path, progress: Progress | None = None) -> FaceDataset:
    """Read the Kaggle archive in place: entries are decoded from memory, never extracted."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as error:
        raise FerError(f"{path}: not a readable zip archive ({error})") from None
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        for info in entries:
            pure = PurePosixPath(info.filename.replace("\\", "/"))
            if pure.is_absolute() or ".." in pure.parts or re.match(r"^[A-Za-z]:", info.filename):
                raise FerError(f"{path}: unsafe entry {info.filename!r} (absolute path or '..'); refusing the archive")
        readers = ((info.filename, _zip_reader(archive, info)) for info in entries)
        return _import_tree(readers, len(entries), str(path), progress)


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            return archive.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
            raise FerError(f"{info.filename}: corrupt zip entry ({error})") from None

    return read


_SPLITS = ("train", "test")
_IGNORED = re.compile(r"(^|/)(__MACOSX|\.[^/]*)(/|$)")  # macOS resource forks, hidden files


def _import_tree(
    entries: Iterator[tuple[str, Callable[[], bytes]]], total: int, source: str, progress: Progress | None
) -> FaceDataset:
    """The Kaggle layout from (relative path, read bytes) pairs: ``[top/]split/class/file``."""
    wanted: list[tuple[str, str, str, Callable[[], bytes]]] = []
    roots: set[tuple[str, ...]] = set()
    for name, read in entries:
        if _IGNORED.search(name):
            continue
        parts = PurePosixPath(name).parts
        if len(parts) < 3 or parts[-3].lower() not in _SPLITS:
            continue
        roots.add(tuple(p.lower() for p in parts[:-3]))
        wanted.append((parts[-3].lower(), parts[-2].lower(), parts[-1], read))
    if not wanted:
        raise FerError(
            f"{source}: no FER2013 layout found: expected train/<class>/*.jpg and test/<class>/*.jpg "
            "(the Kaggle archive), a fer2013.csv or parquet files"
            if total
            else f"{source}: empty: no files in it"
        )
    if len(roots) > 1:
        raise FerError(f"{source}: train/ and test/ folders found in several places; keep one copy")
    for split in _SPLITS:
        present = {cls for s, cls, _, _ in wanted if s == split}
        if not present:
            raise FerError(f"{source}: no {split}/ folder with class folders")
        unknown = present - set(CLASSES)
        if unknown:
            raise FerError(f"{source}: {split}/ has folders that are not FER2013 classes: {', '.join(sorted(unknown))}")
        missing = [cls for cls in CLASSES if cls not in present]
        if missing:
            raise FerError(f"{source}: {split}/ is missing the class folder(s): {', '.join(missing)}")

    images = np.empty((len(wanted), FACE_SIZE, FACE_SIZE), np.uint8)
    labels = np.empty(len(wanted), np.uint8)
    usage = np.empty(len(wanted), np.uint8)
    converted = 0
    for i, (split, cls, filename, read) in enumerate(wanted):
        images[i], changed = decode_face(read(), f"{split}/{cls}/{filename}")
        converted += changed
        labels[i] = CLASSES.index(cls)
        usage[i] = USAGES.index(_usage_of(split, filename))
        if progress and i % 2000 == 0:
            progress(i / len(wanted), f"decoded {i:,} of {len(wanted):,} images")
    if progress:
        progress(1.0, f"decoded {len(wanted):,} images")
    return FaceDataset(images, labels, usage, source, converted)


def _usage_of(split: str, filename: str) -> str:
    if split == "train":
        return "Training"
    for usage in ("PublicTest", "PrivateTest"):
        if filename.startswith(usage + "_"):
            return usage
    return "Test"


def import_csv(path: Path, progress: Progress | None = None) -> FaceDataset:
    """The original challenge CSV; its labels are in :data:`CHALLENGE_CLASSES` order."""
    try:
        types = {"pixels": pa.string(), "Usage": pa.string()}
        table = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(column_types=types))
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise FerError(f"{path}: not a readable CSV ({str(error).splitlines()[0]})") from None
    missing = {"emotion", "pixels", "Usage"} - set(table.column_names)
    if missing:
        raise FerError(f"{path}: not the challenge format: missing column(s) {', '.join(sorted(missing))}")
    if table.num_rows == 0:
        raise FerError(f"{path}: empty: no rows")
    if progress:
        progress(0.2, f"read {table.num_rows:,} rows")
    tokens = pc.utf8_split_whitespace(pc.fill_null(table.column("pixels"), ""))
    counts = pc.list_value_length(tokens).to_numpy()
    bad = np.flatnonzero(counts != FACE_SIZE * FACE_SIZE)
    if len(bad):
        raise FerError(
            f"{path}: row {bad[0] + 2} has {counts[bad[0]]} pixel values, expected {FACE_SIZE * FACE_SIZE} "
            f"({len(bad)} bad row(s) in all)"
        )
    try:
        values = pc.cast(pc.list_flatten(tokens), pa.int16()).to_numpy()
    except pa.ArrowInvalid:
        raise FerError(f"{path}: pixel values must be whole numbers 0..255 separated by spaces") from None
    if values.min() < 0 or values.max() > 255:
        raise FerError(f"{path}: pixel values outside 0..255")
    images = values.astype(np.uint8).reshape(-1, FACE_SIZE, FACE_SIZE)
    labels = _map_labels(table.column("emotion").to_numpy(zero_copy_only=False), CHALLENGE_CLASSES, path)
    usage = _map_usage(table.column("Usage").to_numpy(zero_copy_only=False), path)
    if progress:
        progress(1.0, f"parsed {table.num_rows:,} faces")
    return FaceDataset(images, labels, usage, str(path))


def import_parquet(paths: list[Path], progress: Progress | None = None) -> FaceDataset:
    """Hugging Face image-dataset parquet file(s): ``image`` struct with ``bytes``, ``label``.

    Class names come from the ``huggingface`` schema metadata when present, else the
    challenge order. Usage comes from a ``usage`` column, else from the file name (``train…``
    files are Training, ``test…`` files are test images of unknown half).
    """
    parts: list[FaceDataset] = []
    for n, path in enumerate(paths):
        try:
            table = pq.read_table(path)
        except Exception as error:  # pyarrow raises several unrelated types for bad files
            raise FerError(f"{path}: not a readable parquet file ({str(error).splitlines()[0]})") from None
        if "image" not in table.column_names or "label" not in table.column_names:
            raise FerError(f"{path}: not an image dataset: expected columns 'image' and 'label'")
        names = _parquet_class_names(table.schema.metadata) or CHALLENGE_CLASSES
        labels = _map_labels(table.column("label").to_numpy(zero_copy_only=False), names, path)
        if "usage" in table.column_names:
            usage = _map_usage(table.column("usage").to_numpy(zero_copy_only=False), path)
        else:
            usage = np.full(len(labels), USAGES.index(_usage_from_filename(path)), np.uint8)
        blobs = table.column("image").combine_chunks().field("bytes").to_pylist()
        images = np.empty((len(blobs), FACE_SIZE, FACE_SIZE), np.uint8)
        converted = 0
        for i, blob in enumerate(blobs):
            if blob is None:
                raise FerError(f"{path}: row {i} has no image bytes")
            images[i], changed = decode_face(blob, f"{path.name} row {i}")
            converted += changed
        parts.append(FaceDataset(images, labels, usage, str(path), converted))
        if progress:
            progress((n + 1) / len(paths), f"decoded {path.name}")
    if not parts or not sum(len(p) for p in parts):
        raise FerError(f"{paths[0] if paths else 'parquet'}: empty: no images")
    source = str(paths[0]) if len(paths) == 1 else str(paths[0].parent)
    return FaceDataset(
        np.concatenate([p.images for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.usage for p in parts]),
        source,
        sum(p.converted for p in parts),
    )


def _parquet_class_names(metadata: dict[bytes, bytes] | None) -> tuple[str, ...] | None:
    try:
        names = json.loads(metadata[b"huggingface"])["info"]["features"]["label"]["names"]
    except (TypeError, KeyError, ValueError):
        return None
    return tuple(str(name).lower() for name in names)


def _usage_from_filename(path: Path) -> str:
    stem = path.stem.lower()
    if stem.startswith("train"):
        return "Training"
    if stem.startswith("test"):
        return "Test"
    raise FerError(f"{path}: no 'usage' column and the file name does not say train or test")


def _map_labels(raw: np.ndarray, names: tuple[str, ...], path: Path) -> np.ndarray:
    """Source label ids (in ``names`` order) to the project's :data:`CLASSES` order."""
    if sorted(names) != sorted(CLASSES):
        raise FerError(f"{path}: class names {list(names)} are not FER2013's seven emotions")
    try:
        ids = np.asarray(raw, dtype=np.int64)
    except (TypeError, ValueError):
        raise FerError(f"{path}: labels must be integers 0..6") from None
    bad = ids[(ids < 0) | (ids >= len(names))]
    if bad.size:
        raise FerError(f"{path}: label {int(bad[0])} outside 0..{len(names) - 1}")
    lookup = np.array([CLASSES.index(name) for name in names], np.uint8)
    return lookup[ids]


def _map_usage(raw: np.ndarray, path: Path) -> np.ndarray:
    values = pd.Series(raw).fillna("").astype(str).str.strip()
    unknown = sorted(set(values) - set(USAGES))
    if unknown:
        raise FerError(f"{path}: unknown usage value(s) {unknown[:3]}: expected Training, PublicTest or PrivateTest")
    return values.map(USAGES.index).to_numpy(np.uint8)


def export_challenge_csv(dataset: FaceDataset, path: Path) -> None:
    """Write ``dataset`` in the original challenge CSV format (labels in challenge order)."""
    frame = pd.DataFrame(
        {
            "emotion": [CHALLENGE_CLASSES.index(CLASSES[label]) for label in dataset.labels],
            "pixels": [" ".join(map(str, image.ravel())) for image in dataset.images],
            "Usage": [USAGES[u] for u in dataset.usage],
        }
    )
    frame.to_csv(path, index=False)
