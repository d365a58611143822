"""Importers, protocols, cache and bad input, on real FER2013 faces from the shipped sample."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from fer import data, sources
from fer.dataset import FaceDataset, protocol_splits
from fer.errors import FerError
from fer.paths import dataset_cache_path
from fer.vocab import CLASSES, USAGES

from .conftest import (
    FULL_FER2013,
    kaggle_entries,
    needs_full_fer2013,
    png,
    tiny,
    write_parquet,
    write_zip,
)

PUBLISHED_TRAIN = [3995, 436, 4097, 7215, 4965, 4830, 3171]
PUBLISHED_TEST = [958, 111, 1024, 1774, 1233, 1247, 831]



def same_faces(a: FaceDataset, b: FaceDataset) -> bool:
    """Same multiset of (pixels, label, usage): importers may order images differently."""

    def keys(d: FaceDataset) -> list[bytes]:
        return sorted(im.tobytes() + bytes([lab, use]) for im, lab, use in zip(d.images, d.labels, d.usage))

    return keys(a) == keys(b)


# ---------------------------------------------------------------------------------------------
# Importers on real faces


def test_sample_has_every_class_in_every_usage(sample: FaceDataset) -> None:
    assert sample.images.shape[1:] == (48, 48) and sample.images.dtype == np.uint8
    for usage in range(3):
        assert np.all(np.bincount(sample.labels[sample.usage == usage], minlength=7) >= 6)
    assert 500 <= len(sample) <= 2000
    assert data.SAMPLE_PATH.stat().st_size <= 2 * 1024 * 1024


def test_zip_import_round_trips_faces_labels_and_usage(sample: FaceDataset, tmp_path: Path) -> None:
    small = tiny(sample)
    imported = sources.read_source(write_zip(tmp_path / "fer.zip", kaggle_entries(small)))
    assert same_faces(imported, small)
    assert imported.usage_counts() == {"Training": 14, "PublicTest": 14, "PrivateTest": 14}


def test_zip_under_one_top_folder_and_extracted_folder(sample: FaceDataset, tmp_path: Path) -> None:
    small = tiny(sample)
    entries = kaggle_entries(small, prefix="FER2013/")
    assert same_faces(sources.read_source(write_zip(tmp_path / "fer.zip", entries)), small)
    for name, payload in entries.items():
        (tmp_path / "folder" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "folder" / name).write_bytes(payload)
    assert same_faces(sources.read_source(tmp_path / "folder"), small)


def test_same_file_name_in_two_class_folders_is_two_images(sample: FaceDataset, tmp_path: Path) -> None:
    small = tiny(sample, per_usage=1)
    entries = kaggle_entries(small)
    entries["train/angry/Training_dup.png"] = png(sample.images[0])
    entries["train/happy/Training_dup.png"] = png(sample.images[1])
    imported = sources.read_source(write_zip(tmp_path / "fer.zip", entries))
    assert len(imported) == len(small) + 2


def test_csv_maps_challenge_label_order(sample: FaceDataset, tmp_path: Path) -> None:
    small = tiny(sample)
    path = tmp_path / "fer2013.csv"
    sources.export_challenge_csv(small, path)
    raw = pd.read_csv(path)
    # Challenge order puts neutral last (6) and sad at 4: the file really uses that order.
    neutral = np.flatnonzero(small.labels == CLASSES.index("neutral"))[0]
    assert raw["emotion"][neutral] == 6
    imported = sources.read_source(path)
    assert np.array_equal(imported.images, small.images)
    assert np.array_equal(imported.labels, small.labels)
    assert np.array_equal(imported.usage, small.usage)


def test_the_challenge_csv_is_read_from_its_tar_gz_and_from_a_zip(sample: FaceDataset, tmp_path: Path) -> None:
    small = tiny(sample)
    csv = tmp_path / "fer2013.csv"
    sources.export_challenge_csv(small, csv)
    (tmp_path / "README").write_text("the challenge's notes")
    with tarfile.open(tmp_path / "fer2013.tar.gz", "w:gz") as archive:  # as the challenge ships it
        archive.add(tmp_path / "README", "fer2013/README")
        archive.add(csv, "fer2013/fer2013.csv")
    with zipfile.ZipFile(tmp_path / "zipped.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(csv, "fer2013/fer2013.csv")
        archive.writestr("__MACOSX/fer2013/._fer2013.csv", b"resource fork")  # ignored, as in folders
    for source in (tmp_path / "fer2013.tar.gz", tmp_path / "zipped.zip"):
        shown: list[float] = []
        imported = sources.read_source(source, progress=lambda fraction, message, shown=shown: shown.append(fraction))
        assert imported.source == f"{source}: fer2013/fer2013.csv"
        for got, expected in zip((imported.images, imported.labels, imported.usage), (small.images, small.labels, small.usage)):
            assert np.array_equal(got, expected)
        assert shown and shown[-1] == pytest.approx(1.0)
    uploaded = data.import_upload("fer2013.tar.gz", (tmp_path / "fer2013.tar.gz").read_bytes())
    assert len(uploaded) == len(small) and uploaded.source == "upload fer2013.tar.gz"


def test_parquet_uses_metadata_class_names_else_challenge_order(sample: FaceDataset, tmp_path: Path) -> None:
    small = tiny(sample)
    shuffled_names = ("surprise", "sad", "neutral", "happy", "fear", "disgust", "angry")
    with_names = sources.read_source(write_parquet(tmp_path / "named.parquet", small, names=shuffled_names))
    assert np.array_equal(with_names.labels, small.labels)
    plain = sources.read_source(write_parquet(tmp_path / "plain.parquet", small))
    assert np.array_equal(plain.labels, small.labels)
    # Hugging Face metadata whose label column records no class names (a plain integer feature).
    integer_label = {"info": {"features": {"label": {"dtype": "int64", "_type": "Value"}}}}
    table = pq.read_table(tmp_path / "plain.parquet")
    pq.write_table(table.replace_schema_metadata({"huggingface": json.dumps(integer_label)}), tmp_path / "unnamed.parquet")
    assert np.array_equal(sources.read_source(tmp_path / "unnamed.parquet").labels, small.labels)


def test_parquet_image_bytes_may_be_large_or_dictionary_binary(sample: FaceDataset, tmp_path: Path) -> None:
    small = tiny(sample)
    table = pq.read_table(write_parquet(tmp_path / "faces.parquet", small))
    blobs = pc.struct_field(table.column("image"), "bytes")
    for case, column in (("large", pc.cast(blobs, pa.large_binary())), ("dictionary", pc.dictionary_encode(blobs))):
        image = pa.StructArray.from_arrays([column.combine_chunks()], ["bytes"])
        pq.write_table(table.set_column(0, "image", image), tmp_path / f"{case}.parquet")
        assert same_faces(sources.read_source(tmp_path / f"{case}.parquet"), small), case


def test_parquet_folder_without_usage_takes_split_from_file_name(sample: FaceDataset, tmp_path: Path) -> None:
    small = tiny(sample)
    train = FaceDataset(*(a[small.usage == 0] for a in (small.images, small.labels, small.usage)), "t")
    test = FaceDataset(*(a[small.usage > 0] for a in (small.images, small.labels, small.usage)), "t")
    write_parquet(tmp_path / "train.parquet", train, with_usage=False)
    write_parquet(tmp_path / "test.parquet", test, with_usage=False)
    imported = sources.read_source(tmp_path)
    assert imported.usage_counts() == {"Training": 14, "Test": 28}
    assert len(protocol_splits(imported, "thesis")["test"]) == 28
    with pytest.raises(FerError, match="standard protocol needs"):
        protocol_splits(imported, "standard")


def test_sample_itself_reimports_identically(sample: FaceDataset) -> None:
    again = sources.read_source(data.SAMPLE_PATH)
    assert np.array_equal(again.images, sample.images) and np.array_equal(again.labels, sample.labels)


# ---------------------------------------------------------------------------------------------
# Protocols and cache


def test_protocols_split_by_usage(sample: FaceDataset) -> None:
    thesis = protocol_splits(sample, "thesis")
    standard = protocol_splits(sample, "standard")
    assert set(thesis) == {"train", "test"} and set(standard) == {"train", "validation", "test"}
    assert np.array_equal(thesis["train"], standard["train"])
    assert len(thesis["test"]) == len(standard["validation"]) + len(standard["test"])
    assert np.all(sample.usage[standard["validation"]] == USAGES.index("PublicTest"))
    assert np.all(sample.usage[standard["test"]] == USAGES.index("PrivateTest"))
    with pytest.raises(FerError, match="unknown protocol"):
        protocol_splits(sample, "kfold")


def test_test_usage_unknown_when_file_names_lack_prefix(sample: FaceDataset, tmp_path: Path) -> None:
    imported = sources.read_source(write_zip(tmp_path / "fer.zip", kaggle_entries(tiny(sample), usage_prefix=False)))
    assert imported.usage_counts() == {"Training": 14, "Test": 28}


def test_import_caches_and_becomes_active(sample: FaceDataset, tmp_path: Path) -> None:
    assert data.load_dataset("active").name == data.active_dataset_name() == "sample"
    with pytest.raises(FerError, match="no FER2013 import"):
        data.load_dataset("full")
    small = tiny(sample)
    data.import_dataset(write_zip(tmp_path / "fer.zip", kaggle_entries(small)))
    active = data.load_dataset("active")
    assert active.name == data.active_dataset_name() == "full" and same_faces(active, small)
    assert data.load_dataset("sample").name == "sample"


def test_crash_while_writing_cache_keeps_previous_cache(sample: FaceDataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data.import_dataset(write_zip(tmp_path / "a.zip", kaggle_entries(tiny(sample, 1))))
    before = dataset_cache_path().read_bytes()

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("fer.paths.os.replace", crash)
    with pytest.raises(OSError):
        data.import_dataset(write_zip(tmp_path / "b.zip", kaggle_entries(tiny(sample, 2))))
    assert dataset_cache_path().read_bytes() == before
    assert [p.name for p in dataset_cache_path().parent.iterdir()] == ["fer2013.npz"]


# ---------------------------------------------------------------------------------------------
# Bad input: one clear message, and the existing cache untouched


def _bad_sources(sample: FaceDataset, tmp_path: Path) -> dict[str, tuple[Path, str]]:
    small = tiny(sample, 1)
    good = kaggle_entries(small)
    no_disgust = {k: v for k, v in good.items() if "/disgust/" not in k or k.startswith("test/")}
    corrupt = {**good, "train/happy/Training_broken.jpg": b"\xff\xd8not really a jpeg"}
    unsafe = {**good, "../evil.png": good[next(iter(good))]}
    absolute = {**good, "/etc/evil.png": good[next(iter(good))]}
    csv_bad = tmp_path / "short.csv"
    csv_bad.write_text("emotion,pixels,Usage\n0," + " ".join(["1"] * 2304) + ",Training\n3,1 2 3,Training\n")
    csv_text = tmp_path / "text.csv"
    csv_text.write_text("emotion,pixels,Usage\n0," + " ".join(["x"] * 2304) + ",Training\n")
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    other_dir = tmp_path / "other"
    (other_dir / "photos").mkdir(parents=True)
    (other_dir / "photos" / "a.png").write_bytes(good[next(iter(good))])
    (tmp_path / "notes.txt").write_text("hello")
    return {
        "unknown layout": (other_dir, "no FER2013 layout"),
        "missing class": (write_zip(tmp_path / "m.zip", no_disgust), "the Training images have no disgust faces"),
        "corrupt image": (write_zip(tmp_path / "c.zip", corrupt), "Training_broken.jpg: not a readable image"),
        "dotdot entry": (write_zip(tmp_path / "u.zip", unsafe), "unsafe entry"),
        "absolute entry": (write_zip(tmp_path / "a.zip", absolute), "unsafe entry"),
        "not a zip": (tmp_path / "fake.zip", "not a readable zip"),
        "empty zip": (write_zip(tmp_path / "e.zip", {}), "empty"),
        "empty folder": (empty_dir, "empty"),
        "wrong pixel count": (csv_bad, "row 3 has 3 pixel values, expected 2304"),
        "non-numeric pixels": (csv_text, "whole numbers 0..255"),
        "unsupported file": (tmp_path / "notes.txt", "unsupported file type"),
        "missing path": (tmp_path / "nope.zip", "no such file"),
    }


def test_every_bad_source_gets_one_clear_error_and_keeps_the_cache(sample: FaceDataset, tmp_path: Path) -> None:
    (tmp_path / "fake.zip").write_bytes(b"PK but not a zip")
    data.import_dataset(write_zip(tmp_path / "good.zip", kaggle_entries(tiny(sample, 1))))
    cache = dataset_cache_path().read_bytes()
    for case, (source, message) in _bad_sources(sample, tmp_path).items():
        with pytest.raises(FerError, match=message) as error:
            data.import_dataset(source)
        assert "\n" not in str(error.value), case
        assert dataset_cache_path().read_bytes() == cache, case


def test_color_and_odd_sized_images_are_converted_and_counted(sample: FaceDataset, tmp_path: Path) -> None:
    small = tiny(sample, 1)
    entries = kaggle_entries(small)
    names = list(entries)[:3]
    colour = cv2.cvtColor(cv2.resize(small.images[0], (96, 96)), cv2.COLOR_GRAY2BGR)
    entries[names[0]] = png(colour)
    entries[names[1]] = png(cv2.resize(small.images[1], (30, 30)))
    entries[names[2]] = png(cv2.cvtColor(small.images[2], cv2.COLOR_GRAY2BGRA))
    imported = sources.read_source(write_zip(tmp_path / "odd.zip", entries))
    assert imported.converted == 3 and imported.images.shape[1:] == (48, 48)
    # The BGRA one is only a colour conversion of a 48x48 face: its pixels must come back exactly.
    assert any(np.array_equal(image, small.images[2]) for image in imported.images)


def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "fake.zip").write_bytes(b"nope")
    result = subprocess.run(
        [sys.executable, "-m", "fer", "data", "import", str(tmp_path / "fake.zip")], capture_output=True, text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr


def test_cli_import_and_summary_json(sample: FaceDataset, tmp_path: Path) -> None:
    archive = write_zip(tmp_path / "fer.zip", kaggle_entries(tiny(sample)))
    result = subprocess.run(
        [sys.executable, "-m", "fer", "data", "import", str(archive), "--json"], capture_output=True, text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["images"] == 42 and report["counts"]["train"] == dict.fromkeys(CLASSES, 2)
    summary = subprocess.run(
        [sys.executable, "-m", "fer", "data", "summary", "--balance", "oversample", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    document = json.loads(summary.stdout)
    assert document["dataset"] == "full" and document["after"]["test"] == dict.fromkeys(CLASSES, 4)


# ---------------------------------------------------------------------------------------------
# The full dataset, where this machine has it


@needs_full_fer2013
def test_full_zip_has_the_published_counts() -> None:
    full = sources.read_source(FULL_FER2013 / "fer2013.zip")
    splits = protocol_splits(full, "thesis")
    assert np.bincount(full.labels[splits["train"]]).tolist() == PUBLISHED_TRAIN
    assert np.bincount(full.labels[splits["test"]]).tolist() == PUBLISHED_TEST
    standard = protocol_splits(full, "standard")
    assert len(standard["validation"]) == len(standard["test"]) == 3589
    assert full.converted == 0

