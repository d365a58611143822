"""The Dataset page through the app's router: active data, imports from the UI, balance, faces."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from fer import balance, data
from fer.dataset import FaceDataset
from fer.paths import dataset_cache_path
from fer.vocab import CLASSES, DATASETS, USAGES

from .conftest import (
    chart,
    kaggle_entries,
    open_page,
    planted,
    rerun,
    texts,
    tiny,
    write_parquet,
    write_zip,
)


@pytest.fixture
def tiny_zip(sample: FaceDataset, tmp_path: Path) -> Path:
    """A Kaggle-layout zip of 42 real faces (2 per class and usage)."""
    return write_zip(tmp_path / "fer2013.zip", kaggle_entries(tiny(sample)))


def counts_shown(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value


def test_dataset_page_shows_the_sample_its_real_counts_and_faces(sample: FaceDataset) -> None:
    at = open_page("app_pages/dataset.py")
    assert [h.value for h in at.header] == [
        "Active dataset", "Class balance", "Faces that appear twice", "Example faces", "Augmentation preview"
    ]
    assert f"This is {DATASETS['sample']}" in texts(at)
    assert {m.label: m.value for m in at.metric} == {f"{u} images": f"{n:,}" for u, n in sample.usage_counts().items()}

    expected = balance.counts_table(balance.class_counts(sample, "thesis", "oversample"))
    pd.testing.assert_frame_equal(counts_shown(at), expected, check_names=False, check_dtype=False)
    assert set(counts_shown(at)["train (balanced)"].drop("total")) == {152}  # the sample's largest class
    after = [t for t in chart(at, "dataset_counts_chart")["data"] if t["name"] == "after oversample"]
    assert [list(t["y"]) for t in after] == [[152] * len(CLASSES)]

    rerun(at.selectbox(key="dataset_strategy").set_value("none"))
    table = counts_shown(at)
    assert table["train (balanced)"].tolist() == table["train"].tolist()
    rerun(at.selectbox(key="dataset_protocol").set_value("standard"))
    assert list(counts_shown(at).columns) == ["train", "train (balanced)", "validation", "test"]
    assert counts_shown(at).loc["total", "validation"] == sample.usage_counts()["PublicTest"]

    # One mosaic per class, then the chosen face and its augmented views.
    assert len(at.image) == len(CLASSES) + 2
    assert at.image[-1].captions == ["24 random views"]
    rerun(at.slider(key="augment_count").set_value(8))
    assert at.image[-1].captions == ["8 random views"]
    rerun(at.slider(key="augment_blur").set_value(1.0))  # the photo augmentation's blur and exposure, all views
    rerun(at.slider(key="augment_exposure").set_value(1.0))
    assert at.image[-1].captions == ["8 random views"] and not at.error


def test_copies_are_counted_and_faces_under_two_labels_shown(sample: FaceDataset, tmp_path: Path) -> None:
    dataset, _ = planted(sample)
    data.import_dataset(write_parquet(tmp_path / "planted.parquet", dataset))
    at = open_page("app_pages/dataset.py")
    table = at.dataframe[1].value
    assert table.loc["PrivateTest", "with a copy among the Training faces"] == 1
    assert table.loc["Training", "with a copy in the same split"] == 2
    assert table.loc["PrivateTest", "blank (one grey level)"] == 1
    assert table.loc["PrivateTest", "with a near copy among the Training faces"] == 1
    assert [h.value for h in at.subheader] == ["The same face under different labels", "Nearly the same picture"]
    assert "1 of the 1 groups of identical faces whose labels disagree" in texts(at)
    relabelled, near = [image for image in at.image if len(image.captions) == 2]  # pairs of faces
    assert relabelled.captions == ["Training: angry", "PublicTest: disgust"]
    assert near.captions == ["PrivateTest: fear", "Training: fear"]
    assert "(1 shown, evenly spread)" in texts(at) and re.search(r"^similarity 0\.9[3-9]\d$", texts(at), re.M)


def test_augmentation_face_number_stays_valid_across_classes(sample: FaceDataset) -> None:
    at = open_page("app_pages/dataset.py")
    happy = int((sample.labels == CLASSES.index("happy")).sum())
    rerun(at.number_input(key="augment_index").set_value(happy - 1))
    assert at.image[-2].captions == [f"happy #{happy - 1}, as stored"]
    rerun(at.selectbox(key="augment_class").set_value("disgust"))  # far fewer disgust faces
    assert at.image[-2].captions == ["disgust #0, as stored"]
    rerun(at.button(key="augment_random").click())
    index = at.number_input(key="augment_index").value
    assert 0 <= index < int((sample.labels == CLASSES.index("disgust")).sum())


def test_import_from_a_local_path_makes_it_active(tiny_zip: Path) -> None:
    at = open_page("app_pages/dataset.py")
    rerun(at.text_input(key="dataset_path").input(str(tiny_zip)))
    rerun(at.button(key="dataset_import_path").click())
    assert not at.error
    assert f"Imported 42 faces from {tiny_zip}" in texts(at)
    assert f"This is {DATASETS['full']}: 42 faces from `{tiny_zip}`" in texts(at)
    assert counts_shown(at).loc["total", "train"] == 14 and counts_shown(at).loc["total", "test"] == 28
    assert data.load_dataset("active").name == data.active_dataset_name() == "full"


def test_import_of_an_uploaded_zip(tiny_zip: Path) -> None:
    at = open_page("app_pages/dataset.py")
    rerun(at.file_uploader(key="dataset_upload").upload("fer2013.zip", tiny_zip.read_bytes(), "application/zip"))
    rerun(at.button(key="dataset_import_upload").click())
    assert not at.error
    assert "Imported 42 faces from" in texts(at) and "fer2013.zip" in texts(at)
    assert len(data.load_dataset("active")) == 42


def test_bad_sources_show_an_error_and_keep_the_previous_import(tiny_zip: Path, tmp_path: Path) -> None:
    data.import_dataset(tiny_zip)
    at = open_page("app_pages/dataset.py")
    rerun(at.text_input(key="dataset_path").input(str(tmp_path / "missing.zip")))
    rerun(at.button(key="dataset_import_path").click())
    assert len(at.error) == 1 and "no such file" in at.error[0].value
    (tmp_path / "notes.txt").write_text("not faces")
    rerun(at.text_input(key="dataset_path").input(str(tmp_path / "notes.txt")))
    rerun(at.button(key="dataset_import_path").click())
    assert len(at.error) == 1 and "unsupported file type" in at.error[0].value
    assert f"This is {DATASETS['full']}: 42 faces" in texts(at)
    assert len(data.load_dataset("active")) == 42


def test_standard_protocol_without_test_halves_is_a_readable_error(sample: FaceDataset, tmp_path: Path) -> None:
    zip_path = write_zip(tmp_path / "fer.zip", kaggle_entries(tiny(sample), usage_prefix=False))
    data.import_dataset(zip_path)
    at = open_page("app_pages/dataset.py")
    rerun(at.selectbox(key="dataset_protocol").set_value("standard"))
    assert len(at.error) == 1 and "standard protocol needs" in at.error[0].value
    # The rest of the page still renders: the copies table (the only one), the faces and the augmentation.
    assert len(at.dataframe) == 1 and "blank (one grey level)" in at.dataframe[0].value.columns
    assert len(at.image) == len(CLASSES) + 2


def test_a_bad_upload_shows_one_error_and_keeps_the_previous_import(
    tiny_zip: Path, sample: FaceDataset, tmp_path: Path
) -> None:
    data.import_dataset(tiny_zip)
    small = tiny(sample)
    private = small.usage == USAGES.index("PrivateTest")
    only_private = FaceDataset(small.images[private], small.labels[private], small.usage[private], "private")
    content = write_parquet(tmp_path / "private.parquet", only_private).read_bytes()
    at = open_page("app_pages/dataset.py")
    rerun(at.file_uploader(key="dataset_upload").upload("private.parquet", content, "application/octet-stream"))
    rerun(at.button(key="dataset_import_upload").click())
    assert [e.value for e in at.error] == [
        "private.parquet: no Training images: training and evaluation need both Training and test images"
    ]
    assert f"This is {DATASETS['full']}: 42 faces from `{tiny_zip}`" in texts(at)
    assert f"{DATASETS['full']}, 42 faces" in texts(at)  # the sidebar agrees
    assert data.load_dataset("active").source == str(tiny_zip)


def facets(figure: dict) -> list[str]:
    return [annotation["text"] for annotation in figure["layout"]["annotations"]]


def test_the_class_chart_shows_only_the_protocols_splits_with_readable_labels(sample: FaceDataset) -> None:
    at = open_page("app_pages/dataset.py")
    figure = chart(at, "dataset_counts_chart")
    assert facets(figure) == ["train", "test"]  # the thesis protocol has no validation split: no empty panel
    assert {trace["xaxis"] for trace in figure["data"]} == {"x", "x2"}
    tallest = {axis: max(max(t["y"]) for t in figure["data"] if t["xaxis"] == axis) for axis in ("x", "x2")}
    for trace in figure["data"]:
        assert trace["textangle"] == -90 and trace["texttemplate"] == "%{y:,}"  # side by side, turned: no overlap
        short = np.asarray(trace["y"]) < 0.15 * tallest[trace["xaxis"]]  # too short to hold a label: above it
        assert list(trace["textposition"]) == ["outside" if s else "inside" for s in short]
    disgust = CLASSES.index("disgust")
    (as_is_train,) = [t for t in figure["data"] if t["name"] == "as is" and t["xaxis"] == "x"]
    assert as_is_train["textposition"][disgust] == "outside"  # the sample's 15 training disgust faces: a short bar

    figure = chart(rerun(at.selectbox(key="dataset_protocol").set_value("standard")), "dataset_counts_chart")
    assert facets(figure) == ["train", "validation", "test"]


@pytest.mark.parametrize("damage", [b"", b"garbage", b"PK\x03\x04 cut short"])
def test_a_damaged_import_is_said_on_every_page_and_can_be_imported_again(damage: bytes, tiny_zip: Path) -> None:
    dataset_cache_path().parent.mkdir(parents=True, exist_ok=True)
    dataset_cache_path().write_bytes(damage)
    for page in ("overview", "train", "compare", "classify"):
        at = open_page(f"app_pages/{page}.py")
        assert not at.exception, page
        assert "**Data:** can't be read (see the Dataset page)" in at.sidebar.caption[0].value
    at = open_page("app_pages/dataset.py")
    assert not at.exception and len(at.error) == 1
    assert "the imported dataset's cache is damaged" in at.error[0].value and "import FER2013 again" in at.error[0].value
    assert "pickle" not in at.error[0].value  # numpy's guess for a file that is no archive
    assert [h.value for h in at.header] == ["Active dataset"]  # nothing that needs the faces
    rerun(at.text_input(key="dataset_path").input(str(tiny_zip)))
    rerun(at.button(key="dataset_import_path").click())
    assert not at.exception and not at.error
    assert f"Imported 42 faces from {tiny_zip}" in texts(at) and len(data.load_dataset("active")) == 42
