"""Hostile and broken imports: every one refused with one clear line naming the file, entry or
row, within bounded memory, and the previous dataset left exactly as it was.

The hostile inputs are built at run time from real sample faces and kept small: the limits
(module constants of :mod:`fer.sources` and :mod:`fer.images`) are lowered instead of building
real bombs.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import tarfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fer import data, sources
from fer.arrays import read_npz_array
from fer.dataset import FaceDataset, check_trainable, protocol_splits
from fer.errors import FerError
from fer.paths import MAX_STATE_FILE_BYTES, dataset_cache_path
from fer.vocab import CHALLENGE_CLASSES, CLASSES, USAGES

from .conftest import (
    FULL_FER2013,
    kaggle_entries,
    needs_full_fer2013,
    png,
    tiny,
    with_png_size,
    write_parquet,
    write_zip,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def previous(sample: FaceDataset, tmp_path: Path) -> bytes:
    """A good import made first: the cache every refused import must leave byte for byte."""
    data.import_dataset(write_zip(tmp_path / "good.zip", kaggle_entries(tiny(sample, 1))))
    return dataset_cache_path().read_bytes()


def refused(source: str | Path | tuple[str, bytes], message: str, previous: bytes) -> str:
    """Import ``source`` (a path as typed or as a Path, or an upload's name and bytes): it must
    fail with ``message`` in one line, and leave the previous dataset as it was."""
    with pytest.raises(FerError, match=message) as error:
        if isinstance(source, tuple):
            data.import_upload(*source)
        else:
            data.import_dataset(source)
    assert "\n" not in str(error.value)
    assert dataset_cache_path().read_bytes() == previous
    assert data.load_dataset("active").source.endswith("good.zip")
    return str(error.value)


def csv_text(rows: list[tuple[str, str, str]]) -> str:
    return "emotion,pixels,Usage\n" + "".join(f"{label},{pixels},{usage}\n" for label, pixels, usage in rows)


def csv_rows(dataset: FaceDataset) -> list[tuple[str, str, str]]:
    return [
        (str(CHALLENGE_CLASSES.index(CLASSES[label])), " ".join(map(str, image.ravel())), USAGES[usage])
        for image, label, usage in zip(dataset.images, dataset.labels, dataset.usage)
    ]


def set_declared_size(archive: bytes, entry: str, size: int) -> bytes:
    """A zip whose local and central headers declare ``size`` bytes unpacked for ``entry``."""
    name = entry.encode()
    patched = bytearray(archive)
    struct.pack_into("<I", patched, archive.index(name) - 30 + 22, size)  # local header: 30 bytes, then the name
    struct.pack_into("<I", patched, archive.rindex(name) - 46 + 24, size)  # central header: 46 bytes, then the name
    return bytes(patched)


def write_zip_deflated(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, payload in entries.items():
            archive.writestr(name, payload)
    return path


# ---------------------------------------------------------------------------------------------
# Zip archives: bounded whatever the headers say


def test_zip_entry_bombs_are_refused_before_reading(
    sample: FaceDataset, tmp_path: Path, previous: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = kaggle_entries(tiny(sample, 1))
    bomb = write_zip_deflated(tmp_path / "bomb.zip", {**entries, "train/happy/Training_zeros.jpg": bytes(300_000)})
    monkeypatch.setattr(sources, "ZIP_RATIO_MIN_BYTES", 100_000)
    refused(bomb, r"bomb.zip: train/happy/Training_zeros.jpg unpacks to [0-9,]+ times its stored size \(300,000 bytes\)", previous)
    monkeypatch.setattr(sources, "ZIP_RATIO_MIN_BYTES", 2**20)
    monkeypatch.setattr(sources, "MAX_IMAGE_FILE_BYTES", 200_000)
    refused(bomb, "bomb.zip: train/happy/Training_zeros.jpg is 300,000 bytes, too large for a face image", previous)
    # The same entry outside the FER2013 layout is never read, so it is no reason to refuse.
    ignored = write_zip_deflated(tmp_path / "extra.zip", {**entries, "notes/zeros.bin": bytes(300_000)})
    assert len(sources.read_source(ignored)) == len(entries)


def test_a_zip_entry_larger_than_its_header_says_is_never_read_whole(
    sample: FaceDataset, tmp_path: Path, previous: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = kaggle_entries(tiny(sample, 1))
    name = "train/happy/Training_liar.png"
    honest = write_zip_deflated(tmp_path / "honest.zip", {**entries, name: bytes(300_000)})
    liar = tmp_path / "liar.zip"
    liar.write_bytes(set_declared_size(honest.read_bytes(), name, 1_000))
    monkeypatch.setattr(sources, "MAX_IMAGE_FILE_BYTES", 10_000)
    reads: list[int] = []
    original = zipfile.ZipExtFile.read

    def counted(self: zipfile.ZipExtFile, n: int = -1) -> bytes:
        reads.append(n)
        return original(self, n)

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counted)
    with pytest.raises(FerError, match=f"liar.zip: {name}: corrupt zip entry"):
        data.import_dataset(liar)
    assert reads and set(reads) == {10_001}  # every entry was read with the cap, never whole
    monkeypatch.setattr(zipfile.ZipExtFile, "read", original)
    assert dataset_cache_path().read_bytes() == previous


def test_archives_listing_too_much_are_refused(
    sample: FaceDataset, tmp_path: Path, previous: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = write_zip(tmp_path / "many.zip", kaggle_entries(tiny(sample, 1)))  # 21 faces
    monkeypatch.setattr(sources, "ZIP_MAX_DIRECTORY_BYTES", 1_000)
    refused(archive, "many.zip: its list of entries takes [0-9,]+ bytes, more than the 1,000", previous)
    monkeypatch.setattr(sources, "ZIP_MAX_DIRECTORY_BYTES", 2**20)
    monkeypatch.setattr(sources, "MAX_FILES", 20)
    refused(archive, "many.zip: 21 files, more than the 20 an import reads", previous)
    monkeypatch.setattr(sources, "MAX_FILES", 1_000)
    monkeypatch.setattr(sources, "MAX_IMAGES", 20)
    refused(archive, "many.zip: 21 images, more than the 20 an import holds", previous)
    monkeypatch.setattr(sources, "MAX_IMAGES", 1_000)
    monkeypatch.setattr(sources, "MAX_TOTAL_BYTES", 5_000)
    refused(archive, "many.zip: its images take [0-9,]+ bytes unpacked, more than the 5,000", previous)


def test_a_folder_with_too_many_files_is_refused(
    sample: FaceDataset, tmp_path: Path, previous: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "folder"
    for name, payload in kaggle_entries(tiny(sample, 1)).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(payload)
    monkeypatch.setattr(sources, "MAX_FILES", 20)
    refused(folder, "folder: more than 20 files", previous)


def test_a_folder_walk_stops_at_the_limit_counting_folders_too(
    tmp_path: Path, previous: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A home folder or / given by mistake: no files counted yet, and still refused at once."""
    for i in range(30):
        (tmp_path / "home" / f"folder{i}").mkdir(parents=True)
    monkeypatch.setattr(sources, "MAX_FILES", 20)
    refused(tmp_path / "home", "home: more than 20 files and folders: not a FER2013 folder", previous)


def test_sources_that_are_no_file_or_folder_are_refused(tmp_path: Path, previous: bytes) -> None:
    for source in ("", "  "):  # Path("") would be the current folder
        refused(source, "^no source given: name a FER2013", previous)
    refused(tmp_path / ("a" * 300 + ".zip"), "aaaa.zip: can't be read \\(", previous)
    refused("fer\0.zip", "fer\0.zip: can't be read \\(embedded null byte\\)", previous)
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    refused(fifo, "fifo.csv: not a regular file or folder", previous)  # read, it would wait forever
    if Path("/dev/zero").exists():
        refused(Path("/dev/zero"), "^/dev/zero: not a regular file or folder", previous)


# ---------------------------------------------------------------------------------------------
# Images inside imports: empty, broken, too big


def test_empty_and_oversized_images_are_named_in_every_importer(
    sample: FaceDataset, tmp_path: Path, previous: bytes
) -> None:
    small = tiny(sample, 1)
    bomb = with_png_size(png(sample.images[0]), 20_000, 20_000)
    for label, payload, message in (("empty", b"", "empty file \\(0 bytes\\)"), ("bomb", bomb, "20000x20000 pixels, too large")):
        name = f"train/happy/Training_{label}.png"
        entries = {**kaggle_entries(small), name: payload}
        refused(write_zip(tmp_path / f"{label}.zip", entries), f"{label}.zip: {name}: {message}", previous)
        folder = tmp_path / label
        for entry, content in entries.items():
            (folder / entry).parent.mkdir(parents=True, exist_ok=True)
            (folder / entry).write_bytes(content)
        refused(folder, f"{name}: {message}", previous)
        table = pq.read_table(write_parquet(tmp_path / f"{label}.parquet", small))
        blobs = table.column("image").combine_chunks()
        rows = blobs.to_pylist()
        rows[3]["bytes"] = payload
        pq.write_table(table.set_column(0, "image", pa.array(rows, blobs.type)), tmp_path / f"{label}.parquet")
        refused(tmp_path / f"{label}.parquet", f"{label}.parquet row 3: {message}", previous)


def test_an_empty_image_exits_2_from_the_cli(sample: FaceDataset, tmp_path: Path) -> None:
    entries = {**kaggle_entries(tiny(sample, 1)), "train/sad/Training_empty.jpg": b""}
    archive = write_zip(tmp_path / "empty.zip", entries)
    done = subprocess.run(
        [sys.executable, "-m", "fer", "data", "import", str(archive)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert done.stderr.startswith("error:") and done.stderr.count("\n") == 1
    assert "train/sad/Training_empty.jpg: empty file (0 bytes)" in done.stderr


def test_parquet_limits(sample: FaceDataset, tmp_path: Path, previous: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    source = write_parquet(tmp_path / "faces.parquet", tiny(sample, 1))
    monkeypatch.setattr(sources, "MAX_IMAGE_FILE_BYTES", 500)
    refused(source, "faces.parquet: row 0 holds [0-9,]+ bytes, too many for a face image", previous)
    monkeypatch.setattr(sources, "MAX_IMAGE_FILE_BYTES", 2**20)
    monkeypatch.setattr(sources, "PARQUET_MAX_CHUNK_BYTES", 10_000)
    refused(source, "faces.parquet: row group 0 holds [0-9,]+ bytes of images unpacked", previous)
    monkeypatch.setattr(sources, "PARQUET_MAX_CHUNK_BYTES", 2**28)
    monkeypatch.setattr(sources, "MAX_IMAGES", 20)
    refused(source, "faces.parquet: 21 rows, more than the 20 faces", previous)


def test_a_parquet_blob_repeated_many_times_is_read_once(sample: FaceDataset, tmp_path: Path) -> None:
    """Dictionary-encoded, one image stands for every row: the file stays small and so does the read."""
    face = png(sample.images[0])
    rows = 7 * 300
    table = pa.table({
        "image": [{"bytes": face, "path": "same.png"}] * rows,
        "label": [i % 7 for i in range(rows)],
        "usage": ["Training", "PublicTest", "PrivateTest"] * (rows // 3),
    })
    pq.write_table(table, tmp_path / "same.parquet", row_group_size=rows)
    imported = sources.read_source(tmp_path / "same.parquet")
    assert len(imported) == rows and all(np.array_equal(image, sample.images[0]) for image in imported.images)


def test_parquet_without_binary_image_bytes_is_not_an_image_dataset(
    sample: FaceDataset, tmp_path: Path, previous: bytes
) -> None:
    table = pq.read_table(write_parquet(tmp_path / "faces.parquet", tiny(sample, 1)))
    rows = table.num_rows
    numbers = pa.StructArray.from_arrays([pa.array(range(rows)), pa.array(["x.png"] * rows)], ["bytes", "path"])
    for case, broken in (
        ("dropped", table.drop_columns(["image"])),
        ("renamed", table.rename_columns(["img", "label", "usage"])),
        ("flat", table.set_column(0, "image", pa.array([b"x"] * rows))),
        ("numbers", table.set_column(0, "image", numbers)),
    ):
        pq.write_table(broken, tmp_path / f"{case}.parquet")
        refused(tmp_path / f"{case}.parquet", f"{case}.parquet: not an image dataset: expected columns 'image'", previous)
    pq.write_table(table.append_column("label", table.column("label")), tmp_path / "twice.parquet")
    refused(tmp_path / "twice.parquet", "twice.parquet: the column 'label' appears more than once", previous)


@pytest.mark.parametrize(
    "names", [None, "angry", {"0": "angry"}, list(CHALLENGE_CLASSES[:6]), [*CHALLENGE_CLASSES[:6], "joy"]]
)
def test_parquet_class_names_must_be_the_seven_emotions(
    names: object, sample: FaceDataset, tmp_path: Path, previous: bytes
) -> None:
    table = pq.read_table(write_parquet(tmp_path / "faces.parquet", tiny(sample, 1)))
    features = {"label": {"names": names, "_type": "ClassLabel"}}
    metadata = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    pq.write_table(table.replace_schema_metadata(metadata), tmp_path / "named.parquet")
    refused(tmp_path / "named.parquet", "named.parquet: class names .* are not FER2013's seven emotions", previous)


@pytest.mark.parametrize(
    "recorded", [b'{"info": {"features": {"label": {"names": ["angry",', b"\xff\xfe not UTF-8", b"[" * 100_000]
)
def test_parquet_hugging_face_metadata_that_cant_be_read_is_refused_not_taken_for_absent(
    recorded: bytes, sample: FaceDataset, tmp_path: Path, previous: bytes
) -> None:
    """Cut short, not text, or nested past Python's limit: the label order it records is unknown,
    and guessing the challenge order would turn an alphabetical export's neutral faces into sad ones."""
    table = pq.read_table(write_parquet(tmp_path / "faces.parquet", tiny(sample, 1)))
    pq.write_table(table.replace_schema_metadata({b"huggingface": recorded}), tmp_path / "corrupt.parquet")
    message = refused(tmp_path / "corrupt.parquet", "corrupt.parquet: its Hugging Face metadata can't be read", previous)
    assert "order of its labels is unknown" in message


# ---------------------------------------------------------------------------------------------
# CSV: streamed, labels checked as written


def test_csv_labels_must_be_whole_class_numbers(sample: FaceDataset, tmp_path: Path, previous: bytes) -> None:
    rows = csv_rows(tiny(sample, 1))
    for label, message in (
        ("2.5", "row 4 has the label '2.5': labels are whole numbers 0..6"),
        ("", "row 4 has no label"),
        ("  ", "row 4 has no label"),
        ("7", "row 4 has the label '7'"),
        ("-1", "row 4 has the label '-1'"),
        ("two", "row 4 has the label 'two'"),
        ("99999999999999999999", "row 4 has the label '99999999999999999999'"),
    ):
        path = tmp_path / "labels.csv"
        path.write_text(csv_text([*rows[:2], (label, *rows[2][1:]), *rows[3:]]))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no numpy cast warning on the way
            refused(path, f"labels.csv: {message}", previous)


def test_csv_is_read_in_bounded_blocks(sample: FaceDataset, tmp_path: Path, previous: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "fer2013.csv"
    sources.export_challenge_csv(tiny(sample, 1), path)
    monkeypatch.setattr(sources, "CSV_BLOCK_BYTES", 4_000)  # shorter than one row of 2,304 pixels
    refused(path, "fer2013.csv: not a readable CSV", previous)
    monkeypatch.setattr(sources, "CSV_BLOCK_BYTES", 20_000)  # a few rows per block: still every face
    assert np.array_equal(sources.read_source(path).images, tiny(sample, 1).images)
    monkeypatch.setattr(sources, "MAX_IMAGES", 20)
    refused(path, "fer2013.csv: more than 20 rows", previous)


def test_csv_pixel_and_usage_errors_name_the_row(sample: FaceDataset, tmp_path: Path, previous: bytes) -> None:
    rows = csv_rows(tiny(sample, 1))
    label, pixels, _ = rows[5]
    path = tmp_path / "bad.csv"
    path.write_text(csv_text([*rows[:5], (label, pixels.replace(" ", " 256 ", 1)[:-4], "Training"), *rows[6:]]))
    refused(path, "bad.csv: row 7 has the pixel value '256': pixel values must be whole numbers 0..255", previous)
    path.write_text(csv_text([*rows[:5], (label, pixels, "Validation"), *rows[6:]]))
    refused(path, "bad.csv: row 7 has the usage 'Validation'", previous)


def test_csv_with_a_column_twice_or_an_empty_pixels_cell_is_refused(
    sample: FaceDataset, tmp_path: Path, previous: bytes
) -> None:
    rows = csv_rows(tiny(sample, 1))
    path = tmp_path / "twice.csv"
    path.write_text("emotion,emotion,pixels,Usage\n" + "".join(f"{a},{a},{b},{c}\n" for a, b, c in rows))
    refused(path, "twice.csv: the column 'emotion' appears more than once", previous)
    path = tmp_path / "empty.csv"
    path.write_text(csv_text([*rows[:3], (rows[3][0], "", rows[3][2]), *rows[4:]]))
    refused(path, "empty.csv: row 5 has an empty pixels cell, expected 2304 pixel values", previous)
    # Spaces around the values are not values: the faces import as written.
    path.write_text(csv_text([(label, f" {pixels} ", usage) for label, pixels, usage in rows]))
    assert np.array_equal(sources.read_source(path).images, tiny(sample, 1).images)


def test_parquet_labels_must_be_whole_class_numbers(sample: FaceDataset, tmp_path: Path, previous: bytes) -> None:
    small = tiny(sample, 1)
    table = pq.read_table(write_parquet(tmp_path / "faces.parquet", small))
    for labels, message in (
        ([*range(6), 2.5, *range(14)], "row 6 has the label '2.5'"),
        ([*range(6), None, *range(14)], "row 6 has no label"),
        ([*range(6), 9, *range(14)], "row 6 has the label '9'"),
    ):
        pq.write_table(table.set_column(1, "label", pa.array(labels)), tmp_path / "labels.parquet")
        refused(tmp_path / "labels.parquet", f"labels.parquet: {message}", previous)


# ---------------------------------------------------------------------------------------------
# What training and evaluation need, checked once for every importer


def test_imports_without_every_class_in_both_splits_are_refused(
    sample: FaceDataset, tmp_path: Path, previous: bytes
) -> None:
    small = tiny(sample, 2)
    only_private = FaceDataset(*(a[small.usage == 2] for a in (small.images, small.labels, small.usage)), "t")
    refused(write_parquet(tmp_path / "private.parquet", only_private), "private.parquet: no Training images", previous)
    train_only = FaceDataset(*(a[small.usage == 0] for a in (small.images, small.labels, small.usage)), "t")
    write_parquet(tmp_path / "train.parquet", train_only, with_usage=False)
    refused(tmp_path / "train.parquet", "train.parquet: no test images", previous)
    three = tmp_path / "three.csv"
    three.write_text(csv_text(csv_rows(small)[:1] + csv_rows(small)[14:16]))
    refused(three, "three.csv: the Training images have no disgust, fear, happy, neutral, sad, surprise faces", previous)
    no_test_disgust = {k: v for k, v in kaggle_entries(small).items() if not k.startswith("test/disgust/")}
    refused(write_zip(tmp_path / "z.zip", no_test_disgust), "z.zip: the test images have no disgust faces", previous)


def test_the_standard_protocol_needs_both_test_halves(sample: FaceDataset) -> None:
    small = tiny(sample, 2)
    keep = small.usage != USAGES.index("PrivateTest")
    no_private = FaceDataset(small.images[keep], small.labels[keep], small.usage[keep], "no-private")
    check_trainable(no_private)  # the thesis protocol works on it
    assert len(protocol_splits(no_private, "thesis")["test"]) == 14
    with pytest.raises(FerError, match="the standard protocol needs PrivateTest images, and no-private has none"):
        protocol_splits(no_private, "standard")


# ---------------------------------------------------------------------------------------------
# Uploads, the cache


def test_uploads_are_imported_from_memory_and_named_in_errors(sample: FaceDataset, tmp_path: Path, previous: bytes) -> None:
    small = tiny(sample, 1)
    entries = kaggle_entries(small)
    good = write_zip(tmp_path / "fer2013.zip", entries).read_bytes()
    refused(("C:\\Users\\me\\fer2013.zip", good[: len(good) // 2]), "^fer2013.zip: not a readable zip archive", previous)
    refused(("fer2013.zip", write_zip(tmp_path / "e.zip", {**entries, "test/sad/PublicTest_0.jpg": b""}).read_bytes()),
            "^fer2013.zip: test/sad/PublicTest_0.jpg: empty file", previous)
    refused(("faces.txt", b"hello"), "^faces.txt: unsupported file type .txt", previous)
    sources.export_challenge_csv(small, tmp_path / "fer2013.csv")
    imported = data.import_upload("fer2013.csv", (tmp_path / "fer2013.csv").read_bytes())
    assert imported.source == "upload fer2013.csv" and np.array_equal(imported.images, small.images)
    assert data.load_dataset("active").source == "upload fer2013.csv"
    imported = data.import_upload("fer.parquet", write_parquet(tmp_path / "p.parquet", small).read_bytes())
    assert imported.source == "upload fer.parquet" and np.array_equal(imported.labels, small.labels)


def test_a_tar_gz_without_a_readable_csv_is_refused(
    sample: FaceDataset, tmp_path: Path, previous: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    csv = tmp_path / "fer2013.csv"
    sources.export_challenge_csv(tiny(sample, 1), csv)
    whole = tmp_path / "whole.tar.gz"
    with tarfile.open(whole, "w:gz", format=tarfile.PAX_FORMAT) as archive:
        notes = tarfile.TarInfo("notes.txt")
        notes.pax_headers = {"comment": "x" * 100_000}  # tarfile reads such a header whole, in memory
        archive.addfile(notes)
        archive.add(csv, "fer2013/fer2013.csv")
    content = whole.read_bytes()
    (tmp_path / "cut.tgz").write_bytes(content[: len(content) // 2])
    (tmp_path / "junk.tar.gz").write_bytes(b"not an archive" * 50)
    with tarfile.open(tmp_path / "plain.tar.gz", "w") as archive:  # not gzipped, whatever its name says
        archive.add(csv, "fer2013.csv")
    refused(tmp_path / "cut.tgz", "cut.tgz: not a readable .tar.gz archive", previous)
    refused(tmp_path / "junk.tar.gz", "junk.tar.gz: not a readable .tar.gz archive", previous)
    refused(tmp_path / "plain.tar.gz", "plain.tar.gz: not a readable .tar.gz archive", previous)
    with tarfile.open(tmp_path / "images.tar.gz", "w:gz") as archive:
        archive.add(csv, "fer2013/fer2013.txt")
    refused(tmp_path / "images.tar.gz", "images.tar.gz: no CSV file in this archive", previous)
    assert len(sources.read_source(whole)) == 7 * 3  # one face of each class in each usage
    monkeypatch.setattr(sources, "TAR_MAX_BYTES_BEFORE_CSV", 50_000)  # the real limit, 16 MiB, lowered
    refused(whole, "whole.tar.gz: no CSV within the first 50,000 bytes it unpacks", previous)
    monkeypatch.setattr(sources, "MAX_TOTAL_BYTES", 1000)
    monkeypatch.setattr(sources, "TAR_MAX_BYTES_BEFORE_CSV", 2**20)
    refused(whole, "whole.tar.gz: fer2013/fer2013.csv: [0-9,]+ bytes, more than the 1,000 an import unpacks", previous)
    with zipfile.ZipFile(tmp_path / "zipped.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(csv, "fer2013.csv")
    refused(tmp_path / "zipped.zip", "zipped.zip: fer2013.csv: [0-9,]+ bytes, more than the 1,000", previous)


def test_a_zip_with_several_csv_files_is_refused(sample: FaceDataset, tmp_path: Path, previous: bytes) -> None:
    entries = {"a/fer2013.csv": b"emotion,pixels,Usage\n", "b/fer2013.csv": b"emotion,pixels,Usage\n"}
    refused(write_zip(tmp_path / "two.zip", entries), re.escape("two.zip: several CSV files (a/fer2013.csv, b/fer2013.csv); give one"), previous)


def test_a_damaged_cache_is_a_clear_error(previous: bytes) -> None:
    for damaged in (previous[: len(previous) // 2], b""):
        dataset_cache_path().write_bytes(damaged)
        with pytest.raises(FerError, match="the imported dataset's cache is damaged .*: import FER2013 again"):
            data.load_dataset("active")


def test_a_cache_header_declaring_a_huge_array_is_refused_before_allocating(previous: bytes) -> None:
    with zipfile.ZipFile(io.BytesIO(previous)) as cache:
        members = {name: cache.read(name) for name in cache.namelist()}
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": (10**12, 48, 48)})
    members["images.npy"] = header.getvalue() + members["images.npy"][len(header.getvalue()) :]
    edited = io.BytesIO()
    with zipfile.ZipFile(edited, "w") as cache:
        for name, content in members.items():
            cache.writestr(name, content)
    dataset_cache_path().write_bytes(edited.getvalue())
    # numpy itself would try to allocate 2 PiB for it and fail with a MemoryError.
    with pytest.raises(FerError, match=r"cache is damaged \(its images.npy declares \(1000000000000, 48, 48\)"):
        data.load_imported()


def test_a_run_results_file_declaring_more_than_it_holds_is_damage_not_an_allocation(tmp_path: Path) -> None:
    path = tmp_path / "probabilities.npz"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f2", "fortran_order": False, "shape": (10**12, 7)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("probabilities.npy", header.getvalue() + bytes(14))
    with pytest.raises(ValueError, match=r"probabilities.npz is damaged \(its probabilities.npy declares \(1000000000000, 7\)"):
        read_npz_array(path, "probabilities")


def test_a_run_results_file_that_would_unpack_past_the_limit_is_not_unpacked(tmp_path: Path) -> None:
    path = tmp_path / "test_labels.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:  # 64 MiB of zeros deflate to 65 KB
        archive.writestr("test_labels.npy", bytes(MAX_STATE_FILE_BYTES + 1))
    assert path.stat().st_size < 100_000
    with pytest.raises(ValueError, match=r"test_labels.npz is damaged \(its test_labels.npy unpacks to 67,108,865 bytes"):
        read_npz_array(path, "test_labels")


def edited_cache(previous: bytes, **changes: np.ndarray) -> None:
    """Rewrite the cache with some of its arrays changed (a cache edited, or written by an older version)."""
    with np.load(io.BytesIO(previous)) as cache:
        arrays = {**{key: cache[key] for key in cache.files}, **changes}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    dataset_cache_path().write_bytes(buffer.getvalue())


def test_a_cache_whose_parts_disagree_is_refused_not_miscounted(previous: bytes) -> None:
    good = data.load_imported()
    assert good is not None
    for changes, message in (
        ({"meta": np.array("[1, 2]")}, "its description is not a source name"),
        ({"meta": np.array('{"source": "x"}')}, "its description is not a source name"),
        ({"labels": good.labels + 7}, f"its labels are not {len(good)} whole numbers 0..6"),
        ({"labels": good.labels.astype(np.int64)}, "its labels are not"),
        ({"usage": good.usage[:-1]}, f"its usages are not {len(good)} whole numbers 0..3"),
        ({"images": good.images[:, :40]}, "its images are uint8 \\([0-9]+, 40, 48\\), not 8-bit 48x48 faces"),
        ({"images": good.images[:0], "labels": good.labels[:0], "usage": good.usage[:0]}, "its images are"),
    ):
        edited_cache(previous, **changes)
        with pytest.raises(FerError, match=f"cache is damaged \\({message}.*\\): import FER2013 again"):
            data.load_imported()
    edited_cache(previous)  # nothing changed: the helper itself keeps a good cache good
    restored = data.load_imported()
    assert restored is not None and np.array_equal(restored.labels, good.labels)


# ---------------------------------------------------------------------------------------------
# Peak memory of real imports, where this machine has the full FER2013

PEAK_SCRIPT = """
import os, re, sys, tempfile
os.environ["FER_ARTIFACTS"] = tempfile.mkdtemp()
from fer import data
data.import_dataset(sys.argv[1])
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024)
"""  # this process's own peak: ru_maxrss would carry over pytest's across fork and exec


@needs_full_fer2013
@pytest.mark.parametrize("source", ["fer2013.zip", "."])
def test_full_imports_stay_under_1_5_gb(source: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(FULL_FER2013 / source)], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.split()[-1]) < 1.5e9

