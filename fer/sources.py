"""FER2013 from whatever form a user has it in: each file form read into a :class:`FaceDataset`.

Forms (all give the same :class:`FaceDataset`):

* the Kaggle archive: ``train/<class>/*.jpg`` and ``test/<class>/*.jpg``, as the ``.zip``
  (read in place, never extracted) or an extracted folder, possibly under one top folder;
* the original challenge CSV ``fer2013.csv`` (``emotion``, ``pixels``, ``Usage``), also as the
  challenge's own download ``fer2013.tar.gz`` or inside a ``.zip`` (read as it is decompressed);
* Hugging Face image-dataset parquet (``image.bytes``, ``label``, optional ``usage``).

Sources come from users, uploads included, so every reader works within bounded memory and
refuses with one line naming the file, row or entry: the limits below (module constants, so
tests can lower them) are far above FER2013's own sizes, and each file is read with a cap
rather than by trusting what its header declares. Nothing here touches the cache: making a
dataset the active one is :func:`fer.data.import_dataset`'s job.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import stat
import struct
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from fer.arrays import ZIP_ERRORS
from fer.dataset import FaceDataset
from fer.errors import FerError
from fer.images import FACE_SIZE, decode_face
from fer.vocab import CHALLENGE_CLASSES, CLASSES, USAGES

MAX_IMAGES = 100_000
"""Most faces one import may hold: FER2013 has 35,887, and 100,000 faces are 230 MB of pixels."""
MAX_FILES = 250_000
"""Most files a zip or folder may list (FER2013's zip lists 35,903 entries, folders included):
each listed entry costs memory before any is read."""
MAX_IMAGE_FILE_BYTES = 20 * 2**20
"""Largest image file, zip entry or parquet blob read (FER2013's largest is 2.7 KB; a 2048 px
photo, the largest image accepted, is a few MB). Reads stop here, whatever a header declares."""
MAX_TOTAL_BYTES = 2**30
"""Most bytes of image files a zip or folder import unpacks in all (FER2013's: 66 MB), and of
the members a ``.tar.gz`` holds before its CSV."""
TAR_SUFFIXES = (".tar.gz", ".tgz")
TAR_MAX_BYTES_BEFORE_CSV = 16 * 2**20
"""Most bytes a ``.tar.gz`` may unpack before its CSV begins, headers included (the challenge's
holds a README and a .bib first, a few KB): tarfile reads a member's extended header whole."""
ZIP_MAX_DIRECTORY_BYTES = 32 * 2**20
"""Largest zip central directory, the entry list that Python's zipfile reads whole into memory
before anything else (FER2013's is about 3 MB)."""
ZIP_MAX_RATIO = 100
"""Highest uncompressed-to-stored ratio of a zip entry above ZIP_RATIO_MIN_BYTES: image files
are compressed already (FER2013's entries are stored at 1:1), while a run of zeros deflates
about 1000:1."""
ZIP_RATIO_MIN_BYTES = 2**20
CSV_BLOCK_BYTES = 8 * 2**20
"""The CSV is parsed this many bytes at a time (about 1,000 rows of FER2013), so memory does
not grow with the file; a single row longer than this is refused as unreadable."""
PARQUET_BATCH_ROWS = 1024
PARQUET_MAX_CHUNK_BYTES = 256 * 2**20
"""Largest uncompressed image column of one parquet row group (FER2013's are under 7 MB)."""

Progress = Callable[[float, str], None]
"""Callback for long work: fraction done in [0, 1] and a short message."""

def read_source(source: str | Path, progress: Progress | None = None) -> FaceDataset:
    """Read any supported source into a :class:`FaceDataset` without touching the cache."""
    path, is_file = _examined(source)
    if is_file:
        with _opened(path) as file:
            return read_file(file, str(path), progress)
    files = _walk(path)
    parquets = [file for file in files if file.suffix.lower() == ".parquet"]
    if parquets:
        return read_parquet(parquets, progress)
    csvs = [file for file in files if file.suffix.lower() == ".csv"]
    if csvs:
        if len(csvs) > 1:
            raise FerError(f"{path}: several CSV files ({', '.join(p.name for p in csvs[:3])}); give one")
        with _opened(csvs[0]) as file:
            return _read_csv(file, str(csvs[0]), progress)
    return _read_tree(_folder_files(path, files), str(path), progress)


def _examined(source: str | Path) -> tuple[Path, bool]:
    """The source's path and whether it is a file (else a folder), refusing early what no
    reader takes: an empty name (which Path would read as the current folder), a path the
    system refuses (too long, a NUL byte), or a device, FIFO or socket (reading one may never end)."""
    if not str(source).strip():
        raise FerError("no source given: name a FER2013 .zip, .csv, .parquet file or folder")
    try:
        path = Path(source).expanduser()
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError) as error:
        raise FerError(f"{source}: no such file or folder") from error
    except OSError as error:
        raise FerError(f"{source}: can't be read ({error.strerror or error})") from error
    except (ValueError, RuntimeError) as error:  # a NUL byte; ~user with no home folder
        raise FerError(f"{source}: can't be read ({error})") from error
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise FerError(f"{path}: not a regular file or folder: give a .zip, .csv or .parquet file or a folder")
    return path, stat.S_ISREG(mode)


def _walk(root: Path) -> list[Path]:
    """Every file under ``root``, sorted. The walk counts every entry, folders included, and
    stops after MAX_FILES: a home folder or ``/`` given by mistake is refused in seconds."""
    files = []
    try:
        for count, path in enumerate(root.rglob("*"), 1):
            if count > MAX_FILES:
                raise FerError(
                    f"{root}: more than {MAX_FILES:,} files and folders: not a FER2013 folder (it has 35,887 images)"
                )
            if path.is_file():
                files.append(path)
    except OSError as error:
        raise FerError(f"{error.filename or root}: can't be read ({error.strerror or error})") from error
    return sorted(files)


def _opened(path: Path) -> BinaryIO:
    try:
        return path.open("rb")
    except OSError as error:
        raise FerError(f"{path}: can't be read ({error.strerror or error})") from error


def read_file(file: BinaryIO, name: str, progress: Progress | None) -> FaceDataset:
    """One source file, by the suffix of its ``name`` (which also labels every error)."""
    suffix = PurePosixPath(name).suffix.lower()
    if name.lower().endswith(TAR_SUFFIXES):
        return _read_tar(file, name, progress)
    if suffix == ".zip":
        return _read_zip(file, name, progress)
    if suffix == ".csv":
        return _read_csv(file, name, progress)
    if suffix == ".parquet":
        return _parquet_part(file, name, MAX_IMAGES, progress)
    raise FerError(f"{name}: unsupported file type {suffix or '(none)'}: give a .zip, .tar.gz, .csv or .parquet")


@dataclass(frozen=True)
class ListedFile:
    """One file of a zip or folder, listed but not read yet."""

    path: str  # inside the zip or folder, with / separators
    size: int  # declared size in bytes, unpacked
    read: Callable[[], bytes]  # reads at most MAX_IMAGE_FILE_BYTES + 1 bytes
    packed: int = 0  # stored size inside a zip; 0 for a plain file


def _folder_files(root: Path, paths: list[Path]) -> list[ListedFile]:
    """The folder's files (from :func:`_walk`) as :class:`ListedFile` entries, paths relative to ``root``."""
    try:
        return [ListedFile(path.relative_to(root).as_posix(), path.stat().st_size, _file_reader(path)) for path in paths]
    except OSError as error:
        raise FerError(f"{root}: can't be read ({error.strerror or error})") from error


def _file_reader(path: Path) -> Callable[[], bytes]:
    def read() -> bytes:
        with _opened(path) as handle:
            return handle.read(MAX_IMAGE_FILE_BYTES + 1)

    return read


def _read_zip(file: BinaryIO, name: str, progress: Progress | None = None) -> FaceDataset:
    """Read the Kaggle archive in place: entries are decoded from memory, never extracted
    (:func:`zip_files`); a challenge CSV inside is parsed as it is decompressed."""
    with zip_files(file, name) as (archive, files):
        csvs = [listed for listed in files if _is_csv(listed.path)]
        if len(csvs) > 1:
            raise FerError(f"{name}: several CSV files ({', '.join(listed.path for listed in csvs[:3])}); give one")
        if csvs:  # the challenge CSV, zipped: parsed as it is decompressed, never past its declared size
            path = csvs[0].path
            _check_csv_size(csvs[0].size, f"{name}: {path}")
            try:
                with archive.open(path) as entry:
                    return _read_csv(entry, f"{name}: {path}", progress, size=csvs[0].size)
            except ZIP_ERRORS as error:
                raise FerError(f"{name}: {path}: can't be read from the zip ({error})") from error
        return _read_tree(files, name, progress)


@contextmanager
def zip_files(file: BinaryIO, name: str) -> Iterator[tuple[zipfile.ZipFile, list[ListedFile]]]:
    """The open archive and its files (folders left out), listed but not read, for as long as
    the context lasts. ``name`` labels every error.

    The entry list is checked for size before zipfile reads it (:data:`ZIP_MAX_DIRECTORY_BYTES`),
    then for its number of files, for entries that would land outside a folder (absolute or
    ``..``) and for names listed twice; each file's reader stops at :data:`MAX_IMAGE_FILE_BYTES`
    whatever its entry declares.
    """
    _check_zip_directory(file, name)
    try:
        archive = zipfile.ZipFile(file)
    except ZIP_ERRORS as error:
        raise FerError(f"{name}: not a readable zip archive ({error})") from error
    with archive:
        entries = [info for info in archive.infolist() if not info.is_dir()]
        if len(entries) > MAX_FILES:
            raise FerError(f"{name}: {len(entries):,} files, more than the {MAX_FILES:,} an import reads (FER2013 has 35,887)")
        names: set[str] = set()
        for info in entries:
            if info.filename in names:  # zipfile would open only the last of them, whatever was checked
                raise FerError(f"{name}: the entry {info.filename!r} is listed twice; refusing the archive")
            names.add(info.filename)
            pure = PurePosixPath(info.filename.replace("\\", "/"))
            if pure.is_absolute() or ".." in pure.parts or re.match(r"^[A-Za-z]:", info.filename):
                raise FerError(f"{name}: unsafe entry {info.filename!r} (absolute path or '..'); refusing the archive")
        yield archive, [
            ListedFile(info.filename, info.file_size, _zip_reader(archive, info, name), info.compress_size) for info in entries
        ]


@contextmanager
def listed_files(source: str | Path) -> Iterator[tuple[str, list[ListedFile]]]:
    """A folder's files (every file under it, however deep) or a ``.zip``'s, listed but not
    read, with the name that labels their errors; a zip stays open while the context lasts.
    The same checks as an import's (:func:`read_source`) bound what a listing may hold."""
    path, is_file = _examined(source)
    if not is_file:
        yield str(path), _folder_files(path, _walk(path))
        return
    if path.suffix.lower() != ".zip":
        raise FerError(f"{path}: give a folder or a .zip")
    with _opened(path) as file, zip_files(file, str(path)) as (_, files):
        yield str(path), files


def _read_tar(file: BinaryIO, name: str, progress: Progress | None = None) -> FaceDataset:
    """The challenge's own download, ``fer2013.tar.gz``: its first CSV, parsed as the archive is
    decompressed (a stream: nothing is extracted). What it unpacks is capped: at most
    :data:`TAR_MAX_BYTES_BEFORE_CSV` before the CSV, then the CSV's declared size."""
    csv = ""
    try:
        unpacked = _Capped(gzip.GzipFile(fileobj=file, mode="rb"), TAR_MAX_BYTES_BEFORE_CSV)
        with tarfile.open(fileobj=io.BufferedReader(unpacked), mode="r|") as archive:
            for member in archive:
                if member.isfile() and _is_csv(member.name):
                    csv = f"{name}: {member.name}"
                    _check_csv_size(member.size, csv)
                    unpacked.allow(member.size + tarfile.RECORDSIZE)  # the member, and a block of read-ahead
                    entry = archive.extractfile(member)
                    assert entry is not None  # a regular file always has one
                    return _read_csv(entry, csv, progress, size=member.size)
    except _Capped.Exceeded as error:
        raise FerError(
            f"{csv}: unpacks to more than the {error.limit:,} bytes it declares" if csv else
            f"{name}: no CSV within the first {error.limit:,} bytes it unpacks "
            "(the challenge's fer2013.tar.gz holds fer2013/fer2013.csv after a few KB)"
        ) from error
    except (tarfile.TarError, *ZIP_ERRORS) as error:  # gzip's, zlib's, EOFError: damaged or cut short
        raise FerError(f"{name}: not a readable .tar.gz archive ({_first_line(error)})") from error
    raise FerError(f"{name}: no CSV file in this archive (the challenge's fer2013.tar.gz holds fer2013/fer2013.csv)")


def _check_csv_size(size: int, name: str) -> None:
    """Refuse an archived CSV that declares more than :data:`MAX_TOTAL_BYTES` (FER2013's is 287 MB)."""
    if size > MAX_TOTAL_BYTES:
        raise FerError(f"{name}: {size:,} bytes, more than the {MAX_TOTAL_BYTES:,} an import unpacks (FER2013's CSV has 287 MB)")


class _Capped(io.RawIOBase):
    """A stream that reads ``source`` and raises :class:`Exceeded` past a limit the reader may
    raise as it learns what is coming: a compressed archive can unpack far more than it says."""

    class Exceeded(Exception):
        def __init__(self, limit: int) -> None:
            super().__init__(f"more than {limit:,} bytes unpacked")
            self.limit = limit

    def __init__(self, source: BinaryIO, limit: int) -> None:
        super().__init__()
        self._source, self._limit, self._read = source, limit, 0

    def allow(self, more: int) -> None:
        """Let ``more`` bytes be read beyond what was read so far."""
        self._limit = self._read + more

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._source.read(min(len(buffer), self._limit - self._read + 1))
        self._read += len(data)
        if self._read > self._limit:
            raise _Capped.Exceeded(self._limit)
        buffer[: len(data)] = data
        return len(data)


def _is_csv(path: str) -> bool:
    return path.lower().endswith(".csv") and not hidden(path)


def _check_zip_directory(file: BinaryIO, name: str) -> None:
    """Refuse an archive whose central directory is over ZIP_MAX_DIRECTORY_BYTES, reading its
    size where zipfile does (the end record, or the zip64 one it points to)."""
    end_of_file = file.seek(0, io.SEEK_END)
    file.seek(max(0, end_of_file - (2**16 + 22)))  # the end record, after a comment of up to 64 KB
    tail = file.read()
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or len(tail) < end + 22:
        raise FerError(f"{name}: not a readable zip archive (no end of central directory)")
    (size,) = struct.unpack_from("<I", tail, end + 12)
    if end >= 20 and tail[end - 20 : end - 16] == b"PK\x06\x07":  # a zip64 locator
        (offset,) = struct.unpack_from("<Q", tail, end - 12)
        file.seek(offset)
        record = file.read(56)
        if len(record) == 56 and record[:4] == b"PK\x06\x06":
            (size,) = struct.unpack_from("<Q", record, 40)
    file.seek(0)
    if size > ZIP_MAX_DIRECTORY_BYTES:
        raise FerError(
            f"{name}: its list of entries takes {size:,} bytes, more than the {ZIP_MAX_DIRECTORY_BYTES:,} "
            "an import reads (FER2013's takes about 3 MB); refusing the archive"
        )


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> Callable[[], bytes]:
    def read() -> bytes:
        try:
            with archive.open(info) as entry:
                return entry.read(MAX_IMAGE_FILE_BYTES + 1)
        except ZIP_ERRORS as error:
            raise FerError(f"{name}: {info.filename}: corrupt zip entry ({error})") from error

    return read


_SPLITS = ("train", "test")
_HIDDEN = re.compile(r"(^|/)(__MACOSX|\.[^/]*)(/|$)")


def hidden(path: str) -> bool:
    """Whether a listed file (a ``/``-separated path) is hidden or under a hidden folder, or one
    of the macOS resource forks a zip made on a Mac holds: files no reader takes."""
    return bool(_HIDDEN.search(path))


def _read_tree(files: list[ListedFile], source: str, progress: Progress | None) -> FaceDataset:
    """The Kaggle layout from a zip's or folder's files: ``[top/]split/class/file``."""
    wanted = _kaggle_layout(files, source)
    check_sizes([file for _, _, file in wanted], source)
    images = np.empty((len(wanted), FACE_SIZE, FACE_SIZE), np.uint8)
    labels = np.empty(len(wanted), np.uint8)
    usage = np.empty(len(wanted), np.uint8)
    converted = 0
    for i, (split, cls, file) in enumerate(wanted):
        content = file.read()
        if len(content) > MAX_IMAGE_FILE_BYTES:
            raise FerError(f"{source}: {file.path} holds more than {MAX_IMAGE_FILE_BYTES:,} bytes, too many for a face image")
        images[i], changed = decode_face(content, f"{source}: {file.path}")
        converted += changed
        labels[i] = CLASSES.index(cls)
        usage[i] = USAGES.index(_usage_of(split, PurePosixPath(file.path).name))
        if progress and i % 2000 == 0:
            progress(i / len(wanted), f"decoded {i:,} of {len(wanted):,} images")
    if progress:
        progress(1.0, f"decoded {len(wanted):,} images")
    return FaceDataset(images, labels, usage, source, converted)


def _kaggle_layout(files: list[ListedFile], source: str) -> list[tuple[str, str, ListedFile]]:
    """(split, class, file) of every image under ``[top/]train|test/<class>/``."""
    wanted: list[tuple[str, str, ListedFile]] = []
    roots: set[tuple[str, ...]] = set()
    for file in files:
        parts = PurePosixPath(file.path).parts
        if hidden(file.path) or len(parts) < 3 or parts[-3].lower() not in _SPLITS:
            continue
        roots.add(tuple(p.lower() for p in parts[:-3]))
        wanted.append((parts[-3].lower(), parts[-2].lower(), file))
    if not wanted:
        raise FerError(
            f"{source}: no FER2013 layout found: expected train/<class>/*.jpg and test/<class>/*.jpg "
            "(the Kaggle archive), a fer2013.csv or parquet files"
            if files
            else f"{source}: empty: no files in it"
        )
    if len(roots) > 1:
        raise FerError(f"{source}: train/ and test/ folders found in several places; keep one copy")
    unknown = {cls for _, cls, _ in wanted} - set(CLASSES)
    if unknown:
        raise FerError(f"{source}: class folders that are not FER2013 classes: {', '.join(sorted(unknown))}")
    if len(wanted) > MAX_IMAGES:
        raise FerError(f"{source}: {len(wanted):,} images, more than the {MAX_IMAGES:,} an import holds (FER2013 has 35,887)")
    return wanted


def check_sizes(files: list[ListedFile], source: str) -> None:
    """Refuse, before reading any, files whose declared sizes are not those of face images."""
    for file in files:
        if file.packed and file.size > ZIP_RATIO_MIN_BYTES and file.size > ZIP_MAX_RATIO * file.packed:
            raise FerError(
                f"{source}: {file.path} unpacks to {file.size / file.packed:,.0f} times its stored size "
                f"({file.size:,} bytes), which no image file does; refusing the archive"
            )
        if file.size > MAX_IMAGE_FILE_BYTES:
            raise FerError(
                f"{source}: {file.path} is {file.size:,} bytes, too large for a face image "
                f"(at most {MAX_IMAGE_FILE_BYTES:,}; FER2013's are under 3 KB)"
            )
    total = sum(file.size for file in files)
    if total > MAX_TOTAL_BYTES:
        raise FerError(
            f"{source}: its images take {total:,} bytes unpacked, more than the {MAX_TOTAL_BYTES:,} "
            "an import reads (FER2013's take 66 MB)"
        )


def _usage_of(split: str, filename: str) -> str:
    if split == "train":
        return "Training"
    for usage in ("PublicTest", "PrivateTest"):
        if filename.startswith(usage + "_"):
            return usage
    return "Test"


def _read_csv(file: BinaryIO, name: str, progress: Progress | None = None, size: int | None = None) -> FaceDataset:
    """The original challenge CSV, parsed CSV_BLOCK_BYTES at a time; its labels are in
    :data:`CHALLENGE_CLASSES` order. Rows are numbered as lines of the file (the header is 1).
    ``size`` (for progress) is taken from the file unless given: an archive's member can't seek."""
    if size is None:
        size = file.seek(0, io.SEEK_END)
        file.seek(0)
    size = max(1, size)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    row = 2
    for batch in _csv_batches(file, name):
        if row - 2 + batch.num_rows > MAX_IMAGES:
            raise FerError(f"{name}: more than {MAX_IMAGES:,} rows, more than an import holds (FER2013 has 35,887)")
        parts.append((
            _csv_pixels(batch.column("pixels"), name, row),
            _label_ids(batch.column("emotion"), CHALLENGE_CLASSES, name, row),
            _usage_ids(batch.column("Usage"), name, row),
        ))
        row += batch.num_rows
        if progress:
            progress(min(1.0, file.tell() / size), f"parsed {row - 2:,} faces")
    if row == 2:
        raise FerError(f"{name}: empty: no rows")
    images, labels, usage = (np.concatenate(column) for column in zip(*parts))
    return FaceDataset(images, labels, usage, name)


def _csv_batches(file: BinaryIO, name: str) -> Iterator[pa.RecordBatch]:
    columns = {"emotion": pa.string(), "pixels": pa.string(), "Usage": pa.string()}
    try:
        reader = pa_csv.open_csv(
            file,
            read_options=pa_csv.ReadOptions(block_size=CSV_BLOCK_BYTES),
            convert_options=pa_csv.ConvertOptions(column_types=columns),
        )
        _check_unique_columns(reader.schema.names, columns, name)
        missing = set(columns) - set(reader.schema.names)
        if missing:
            raise FerError(f"{name}: not the challenge format: missing column(s) {', '.join(sorted(missing))}")
        yield from reader
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise FerError(f"{name}: not a readable CSV ({_first_line(error)})") from error


def _check_unique_columns(columns: list[str], read: Iterable[str], name: str) -> None:
    """Refuse a table that names a column it is ``read`` from twice: which of the two holds the
    data is anyone's guess. Other repeated columns are never read, so they are let be."""
    repeated = [column for column in read if columns.count(column) > 1]
    if repeated:
        raise FerError(f"{name}: the column {repeated[0]!r} appears more than once; keep one")


def _csv_pixels(column: pa.Array, name: str, first_row: int) -> np.ndarray:
    """A batch's ``pixels`` strings as (N, 48, 48) uint8; rows from ``first_row``."""
    written = pc.utf8_trim_whitespace(pc.fill_null(column, ""))  # else a trailing space counts as a value
    tokens = pc.utf8_split_whitespace(written)
    counts = pc.list_value_length(tokens).to_numpy(zero_copy_only=False)
    wrong = np.flatnonzero(counts != FACE_SIZE * FACE_SIZE)
    if len(wrong):
        row = int(wrong[0])
        found = f"{counts[row]} pixel values" if written[row].as_py() else "an empty pixels cell"
        raise FerError(f"{name}: row {first_row + row} has {found}, expected {FACE_SIZE * FACE_SIZE} pixel values")
    flat = pc.list_flatten(tokens)
    try:
        values = pc.cast(flat, pa.int16()).to_numpy()
    except pa.ArrowInvalid as error:
        raise _bad_pixel(flat, name, first_row) from error
    if values.min() < 0 or values.max() > 255:
        raise _bad_pixel(flat, name, first_row)
    return values.astype(np.uint8).reshape(-1, FACE_SIZE, FACE_SIZE)


def _bad_pixel(flat: pa.Array, name: str, first_row: int) -> FerError:
    """The error naming the first pixel value that is not a whole number 0..255, and its row."""
    good = pc.match_substring_regex(flat, r"^0*(25[0-5]|2[0-4][0-9]|1?[0-9]{1,2})$").to_numpy(zero_copy_only=False)
    first = int(np.argmin(good))
    return FerError(
        f"{name}: row {first_row + first // (FACE_SIZE * FACE_SIZE)} has the pixel value {flat[first].as_py()!r}: "
        "pixel values must be whole numbers 0..255 separated by spaces"
    )


def read_parquet(paths: Sequence[Path], progress: Progress | None = None) -> FaceDataset:
    """Hugging Face image-dataset parquet file(s): ``image`` struct with ``bytes``, ``label``.

    Class names come from the ``huggingface`` schema metadata when present, else the
    challenge order. Usage comes from a ``usage`` column, else from the file name (``train…``
    files are Training, ``test…`` files are test images of unknown half).
    """
    parts: list[FaceDataset] = []
    for n, path in enumerate(paths):
        with _opened(path) as file:
            parts.append(_parquet_part(file, str(path), MAX_IMAGES - sum(len(part) for part in parts)))
        if progress:
            progress((n + 1) / len(paths), f"decoded {path.name}")
    if not parts:
        raise FerError("parquet: empty: no files")
    return FaceDataset(
        np.concatenate([p.images for p in parts]),
        np.concatenate([p.labels for p in parts]),
        np.concatenate([p.usage for p in parts]),
        str(paths[0]) if len(paths) == 1 else str(paths[0].parent),
        sum(p.converted for p in parts),
    )


_PARQUET_COLUMNS = ("image", "label", "usage")
"""The columns read from a parquet file (``usage`` is optional)."""


def _parquet_part(file: BinaryIO, name: str, room: int, progress: Progress | None = None) -> FaceDataset:
    """One parquet file, read PARQUET_BATCH_ROWS rows at a time, image bytes as a dictionary
    (a blob repeated a million times is held once); at most ``room`` rows. Rows count from 0."""
    parquet = _open_parquet(file, name, room)
    columns = [column for column in _PARQUET_COLUMNS if column in parquet.schema_arrow.names]
    names = _parquet_class_names(parquet.schema_arrow.metadata, name)
    rows = parquet.metadata.num_rows
    images = np.empty((rows, FACE_SIZE, FACE_SIZE), np.uint8)
    labels, usage = np.empty(rows, np.uint8), np.empty(rows, np.uint8)
    start = converted = 0
    for batch in _parquet_batches(parquet, columns, name):
        end = start + batch.num_rows
        if end > rows:
            raise FerError(f"{name}: damaged: more rows than the {rows:,} its footer lists")
        labels[start:end] = _label_ids(batch.column("label"), names, name, start)
        if "usage" in columns:
            usage[start:end] = _usage_ids(batch.column("usage"), name, start)
        else:
            usage[start:end] = USAGES.index(_usage_from_filename(name))
        blobs = pc.struct_field(batch.column("image"), "bytes")
        for i in range(batch.num_rows):
            images[start + i], changed = decode_face(_blob(blobs, i, name, start + i), f"{name} row {start + i}")
            converted += changed
        start = end
        if progress:
            progress(end / rows, f"decoded {end:,} of {rows:,} images")
    if start != rows:
        raise FerError(f"{name}: damaged: {start:,} rows where its footer lists {rows:,}")
    return FaceDataset(images, labels, usage, name, converted)


def _open_parquet(file: BinaryIO, name: str, room: int) -> pq.ParquetFile:
    """The parquet file with its image bytes read as a dictionary, once its schema and sizes
    (from the footer, before any data is read) are those of an image dataset."""
    try:
        schema = pq.read_schema(file)
        _check_unique_columns(schema.names, _PARQUET_COLUMNS, name)
        if not _has_image_columns(schema):
            raise FerError(
                f"{name}: not an image dataset: expected columns 'image' (with the image 'bytes' as binary data) and 'label'"
            )
        file.seek(0)
        parquet = pq.ParquetFile(file, read_dictionary=["image.bytes"])
    except (pa.ArrowException, OSError) as error:
        raise FerError(f"{name}: not a readable parquet file ({_first_line(error)})") from error
    rows = parquet.metadata.num_rows
    if rows == 0:
        raise FerError(f"{name}: empty: no images")
    if rows > room:
        raise FerError(f"{name}: {rows:,} rows, more than the {MAX_IMAGES:,} faces an import holds (FER2013 has 35,887)")
    for group in range(parquet.metadata.num_row_groups):
        meta = parquet.metadata.row_group(group)
        for column in range(meta.num_columns):
            chunk = meta.column(column)
            if chunk.path_in_schema == "image.bytes" and chunk.total_uncompressed_size > PARQUET_MAX_CHUNK_BYTES:
                raise FerError(
                    f"{name}: row group {group} holds {chunk.total_uncompressed_size:,} bytes of images unpacked, "
                    f"more than the {PARQUET_MAX_CHUNK_BYTES:,} an import reads at once"
                )
    return parquet


def _has_image_columns(schema: pa.Schema) -> bool:
    """Whether there is a ``label`` column and an ``image`` struct whose ``bytes`` are binary
    (plain, large or dictionary-encoded): the only layout :func:`_blob` can read images from."""
    if schema.get_field_index("label") < 0 or schema.get_field_index("image") < 0:
        return False
    image = schema.field("image").type
    if not pa.types.is_struct(image) or image.get_field_index("bytes") < 0:
        return False
    blobs = image.field("bytes").type
    if pa.types.is_dictionary(blobs):
        blobs = blobs.value_type
    return pa.types.is_binary(blobs) or pa.types.is_large_binary(blobs)


def _parquet_batches(parquet: pq.ParquetFile, columns: list[str], name: str) -> Iterator[pa.RecordBatch]:
    try:
        yield from parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns)
    except (pa.ArrowException, OSError) as error:
        raise FerError(f"{name}: not a readable parquet file ({_first_line(error)})") from error


def _blob(blobs: pa.Array, i: int, name: str, row: int) -> bytes:
    """Row ``i``'s image bytes, refused when missing or above MAX_IMAGE_FILE_BYTES before they are copied."""
    scalar = blobs[i]
    if not scalar.is_valid:
        raise FerError(f"{name}: row {row} has no image bytes")
    buffer = (scalar.value if isinstance(scalar, pa.DictionaryScalar) else scalar).as_buffer()
    if buffer.size > MAX_IMAGE_FILE_BYTES:
        raise FerError(f"{name}: row {row} holds {buffer.size:,} bytes, too many for a face image")
    return buffer.to_pybytes()


def _parquet_class_names(metadata: dict[bytes, bytes] | None, name: str) -> tuple[str, ...]:
    """The label order a Hugging Face export records in its schema metadata, else (no such
    metadata, or a label column without class names) the challenge order. Recorded names must
    be FER2013's seven emotions, and metadata that can't be read is refused rather than taken
    for absent: labels mapped through any other order would be silently wrong (exports often
    list the classes alphabetically, where label 4 is neutral, not sad)."""
    recorded = (metadata or {}).get(b"huggingface")
    if recorded is None:
        return CHALLENGE_CLASSES
    try:
        info = json.loads(recorded)
    except (ValueError, RecursionError) as error:  # not UTF-8 JSON, or nested past Python's limit
        raise FerError(
            f"{name}: its Hugging Face metadata can't be read ({_first_line(error)}), so the order of its labels is unknown"
        ) from error
    try:
        names = info["info"]["features"]["label"]["names"]
    except (TypeError, KeyError):  # no class names recorded (a plain integer label), or not Hugging Face's layout
        return CHALLENGE_CLASSES
    classes = tuple(str(label).lower() for label in names) if isinstance(names, list) else ()
    if sorted(classes) != sorted(CLASSES):
        raise FerError(f"{name}: class names {json.dumps(names)[:200]} are not FER2013's seven emotions")
    return classes


def _usage_from_filename(name: str) -> str:
    stem = PurePosixPath(name).stem.lower()
    if stem.startswith("train"):
        return "Training"
    if stem.startswith("test"):
        return "Test"
    raise FerError(f"{name}: no 'usage' column and the file name does not say train or test")


def _label_ids(column: pa.Array, names: tuple[str, ...], name: str, first_row: int) -> np.ndarray:
    """Source label ids (in ``names`` order) as :data:`CLASSES` indices.

    Each label must be written as a whole number 0..6: ``2.5``, an empty cell or ``two`` is
    refused, naming its row (``first_row`` is the batch's first) and the label as written.
    """
    written = _written(column, name, "label")
    whole = pc.fill_null(pc.match_substring_regex(written, r"^[0-9]{1,6}$"), False)
    ids = pc.cast(pc.if_else(whole, written, "-1"), pa.int64()).to_numpy()
    bad = np.flatnonzero((ids < 0) | (ids >= len(names)))
    if len(bad):
        value = written[int(bad[0])].as_py()
        if not value:
            raise FerError(f"{name}: row {first_row + bad[0]} has no label")
        raise FerError(f"{name}: row {first_row + bad[0]} has the label {value!r}: labels are whole numbers 0..{len(names) - 1}")
    lookup = np.array([CLASSES.index(label) for label in names], np.uint8)
    return lookup[ids]


def _usage_ids(column: pa.Array, name: str, first_row: int) -> np.ndarray:
    """Usage strings as :data:`USAGES` indices, naming the row and value of an unknown one."""
    written = _written(column, name, "usage")
    ids = pc.fill_null(pc.index_in(written, value_set=pa.array(USAGES)), -1).to_numpy()
    bad = np.flatnonzero(ids < 0)
    if len(bad):
        raise FerError(
            f"{name}: row {first_row + bad[0]} has the usage {written[int(bad[0])].as_py()!r}: "
            "expected Training, PublicTest or PrivateTest"
        )
    return ids.astype(np.uint8)


def _written(column: pa.Array, name: str, what: str) -> pa.Array:
    """A column's values as the text they were written as, trimmed (numbers as their digits)."""
    try:
        return pc.utf8_trim_whitespace(pc.cast(column, pa.string()))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise FerError(f"{name}: the {what} column holds {column.type}, not numbers or text") from error


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


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
