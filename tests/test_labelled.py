"""A model scored on someone's own labelled photos: real FER2013 sample faces written as photo
files into emotion folders (named as other datasets name them), scored by the library, the
command line and the Classify page, and checked against the model's own answers on those faces."""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from fer import cli, data, labelled, predict
from fer.errors import FerError
from fer.faces import detect_faces
from fer.inference import classify_faces, load_classifier
from fer.vocab import CLASSES

from .conftest import COMMITTED_REFERENCE_DIR, encoded, open_page, rerun, texts

FOLDER_NAMES = {"angry": "Anger", "happy": "happiness", "surprise": "Surprised", "fear": "FEAR"}
"""Some emotions' folders named as other datasets name them; the rest by FER2013's class names."""


@pytest.fixture(scope="module")
def faces() -> tuple[np.ndarray, np.ndarray]:
    """The sample's PrivateTest faces and their labels: 148 real faces, every emotion among them."""
    sample = data.load_sample()
    private = sample.usage == 2
    return sample.images[private], sample.labels[private]


@pytest.fixture
def folder(tmp_path: Path, faces: tuple[np.ndarray, np.ndarray]) -> Path:
    """Each face as a PNG under its emotion's folder, below a top folder as datasets are zipped, with
    what such folders also hold: an emotion FER2013 lacks, notes, a macOS resource fork, a damaged photo."""
    top = tmp_path / "labelled" / "my-faces"
    for index, (image, label) in enumerate(zip(*faces)):
        path = top / FOLDER_NAMES.get(CLASSES[label], CLASSES[label]) / f"face{index:03}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encoded(image, ".png"))
    (top / "contempt").mkdir()
    for index in range(3):
        (top / "contempt" / f"c{index}.png").write_bytes(encoded(faces[0][index], ".png"))
    (top / "README.txt").write_text("faces of my lab")
    (top / "happiness" / "._face000.png").write_bytes(b"resource fork")
    (top / "sad" / "damaged.jpg").write_bytes(b"\xff\xd8\xff this is no JPEG")
    return top.parent


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> tuple[predict.ModelChoice, object]:
    """The reference model shipped with the project, as the Classify page offers it on a machine
    with no runs of its own, and loaded."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FER_ARTIFACTS", str(tmp_path_factory.mktemp("no-runs")))
        patch.setenv("FER_REFERENCE", str(COMMITTED_REFERENCE_DIR))
        choice = predict.choose_model(None)
    assert choice.reference
    return choice, load_classifier(choice.path)


def zipped(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def folder_entries(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def test_photos_are_labelled_by_their_folder_whatever_it_is_called(folder: Path, faces: tuple[np.ndarray, np.ndarray]) -> None:
    (folder / "my-faces" / "Surprised" / "session 2").mkdir()
    (folder / "my-faces" / "Surprised" / "session 2" / "a.png").write_bytes(b"surprise: the nearest emotion folder")
    with labelled.labelled_photos(folder) as found:
        assert found.left_out == {"contempt": 3}
        paths = [photo.file.path for photo in found.photos]
        counts = Counter(photo.label for photo in found.photos)
    expected = Counter(CLASSES[label] for label in faces[1]) + Counter(sad=1, surprise=1)  # damaged.jpg, session 2/a.png
    assert counts == expected and len(expected) == len(CLASSES)
    assert not any("README" in path or "/._" in path for path in paths)


def test_the_whole_faces_are_scored_as_the_model_answers_them(
    folder: Path, faces: tuple[np.ndarray, np.ndarray], shipped: tuple[predict.ModelChoice, object]
) -> None:
    """Classified whole, as the crops they are, the photos get the model's own answers on the
    faces (decoded from PNG, given FER2013's grey levels again), and the metrics are those answers'."""
    choice, model = shipped
    images, labels = faces
    with labelled.labelled_photos(folder) as found:
        score = labelled.score_labelled(model, found, whole=True, tta="none")
    table = score.table
    assert list(table.columns) == list(labelled.TABLE_COLUMNS)
    assert len(table) == len(images) + 1
    (damaged,) = table.index[table["problem"] != ""]
    assert table.loc[damaged, "file"] == "my-faces/sad/damaged.jpg" and "not a readable image" in table.loc[damaged, "problem"]
    assert pd.isna(table.loc[damaged, "correct"])
    scored = score.scored
    order = scored["file"].str.extract(r"face(\d+)\.png")[0].astype(int).to_numpy()
    assert sorted(order) == list(range(len(images)))
    own = classify_faces(model, images[order]).argmax(axis=1)
    answers = scored["emotion"].map(CLASSES.index).to_numpy()
    assert (answers == own).mean() > 0.95  # the same faces, bar a few near a tie
    assert list(scored["label"]) == [CLASSES[label] for label in labels[order]]
    metrics = score.metrics
    assert metrics["test_images"] == len(images)
    assert metrics["test_accuracy"] == pytest.approx(scored["correct"].astype(bool).mean())
    assert np.array(metrics["confusion_matrix"]).sum() == len(images)
    assert np.trace(metrics["confusion_matrix"]) == scored["correct"].astype(bool).sum()
    assert abs(metrics["test_accuracy"] - (own == labels[order]).mean()) <= 3 / len(images)
    low, high = score.interval()
    assert low < metrics["test_accuracy"] < high and high - low > 0.1  # 148 faces: a wide interval
    label, share = score.commonest()
    assert label == "happy" and share == pytest.approx((labels == CLASSES.index("happy")).mean())
    said = labelled.describe(score)
    assert f"Right on {scored['correct'].astype(bool).sum()} of {len(images)} photos" in said
    assert "1 photo could not be read" in said and "contempt 3" in said
    assert score.problems() == [table.loc[damaged, "problem"]]


def test_faces_found_in_photos_take_the_largest_and_a_photo_without_one_is_counted_apart(
    tmp_path: Path, shipped: tuple[predict.ModelChoice, object]
) -> None:
    """Without ``whole``, faces are found as on the Classify page: of two sample faces pasted on
    a grey photo, the larger is the one scored; a grey photo has no face and no answer."""
    _, model = shipped
    sample = data.load_sample()
    big, small = 610, 611  # test faces the detector finds side by side
    canvas = np.full((400, 640, 3), 128, np.uint8)
    canvas[150:310, 40:200] = cv2.resize(sample.images[small], (160, 160), interpolation=cv2.INTER_CUBIC)[..., None]
    canvas[60:300, 360:600] = cv2.resize(sample.images[big], (240, 240), interpolation=cv2.INTER_CUBIC)[..., None]
    emotion = CLASSES[sample.labels[big]]
    (tmp_path / "photos" / emotion).mkdir(parents=True)
    (tmp_path / "photos" / emotion / "two.png").write_bytes(encoded(canvas, ".png"))
    (tmp_path / "photos" / emotion / "grey.png").write_bytes(encoded(np.full((400, 640, 3), 128, np.uint8), ".png"))
    with labelled.labelled_photos(tmp_path / "photos") as found:
        score = labelled.score_labelled(model, found)
    rows = score.table.set_index("file")
    two, grey = rows.loc[f"{emotion}/two.png"], rows.loc[f"{emotion}/grey.png"]
    assert two["faces"] == 2 and two["problem"] == ""
    largest = max(detect_faces(canvas), key=lambda face: face.box[2] * face.box[3])
    assert largest.box[0] > 300  # the big face, on the right: faces are listed left to right, so not the first
    assert two[list(CLASSES)].to_numpy(float) == pytest.approx(classify_faces(model, largest.crop[None])[0], abs=1e-5)
    assert two["correct"] == (two["emotion"] == emotion)
    assert grey["faces"] == 0 and grey["problem"] == labelled.NO_FACE
    assert score.metrics["test_images"] == 1
    assert "No face found in 1 photo" in labelled.describe(score)
    assert score.problems() == [f"{emotion}/grey.png: no face found"]


def test_a_zip_scores_as_its_folder(folder: Path, shipped: tuple[predict.ModelChoice, object]) -> None:
    _, model = shipped
    archive = folder.parent / "labelled.zip"
    archive.write_bytes(zipped(folder_entries(folder)))
    with labelled.labelled_photos(folder) as found:
        from_folder = labelled.score_labelled(model, found, whole=True)
    with labelled.labelled_photos(archive) as found:
        from_path = labelled.score_labelled(model, found, whole=True)
    with labelled.labelled_upload(io.BytesIO(archive.read_bytes()), "upload.zip") as found:
        from_upload = labelled.score_labelled(model, found, whole=True)
    for score in (from_path, from_upload):
        assert score.metrics["confusion_matrix"] == from_folder.metrics["confusion_matrix"]
        assert score.table.drop(columns="problem").equals(from_folder.table.drop(columns="problem"))
        assert score.left_out == {"contempt": 3}


@pytest.mark.parametrize(
    ("entries", "said"),
    [
        ({}, "no photos in emotion folders"),
        ({"faces/contempt/a.png": b"x", "faces/b.png": b"x"}, "photos found under: contempt 1, faces 1"),
        ({"../happy/a.png": b"x"}, "unsafe entry"),
        ({"happy/big.png": bytes(3 * 2**20)}, "times its stored size"),
    ],
)
def test_what_is_no_labelled_photo_set_is_refused_with_one_line(entries: dict[str, bytes], said: str) -> None:
    content = zipped(entries)
    with pytest.raises(FerError, match=said), labelled.labelled_upload(io.BytesIO(content), "x.zip"):
        pass


def test_an_entry_listed_twice_is_refused() -> None:
    """zipfile opens only the last of two entries of one name: whatever was checked of the first
    would not be what is read."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("happy/a.png", b"x")
        archive.writestr("happy/a.png", b"y" * 100)
    with pytest.raises(FerError, match="listed twice"), labelled.labelled_upload(io.BytesIO(buffer.getvalue()), "x.zip"):
        pass


def test_too_many_photos_are_refused_before_any_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(labelled, "MAX_PHOTOS", 3)
    for index in range(4):
        (tmp_path / "happy").mkdir(exist_ok=True)
        (tmp_path / "happy" / f"{index}.png").write_bytes(b"never read")
    with pytest.raises(FerError, match="4 labelled photos, more than the 3"), labelled.labelled_photos(tmp_path):
        pass
    with pytest.raises(FerError, match="give a folder or a .zip"), labelled.labelled_photos(tmp_path / "happy" / "0.png"):
        pass


def test_the_cli_prints_the_score_and_writes_every_photos_answer(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FER_REFERENCE", str(COMMITTED_REFERENCE_DIR))
    table = tmp_path / "answers.csv"
    assert cli.main(["evaluate", str(folder), "--whole", "--tta", "none", "--csv", str(table)]) == 0
    out, err = capsys.readouterr()
    assert "damaged.jpg: not a readable image" in err
    lines = out.splitlines()
    assert lines[0].split() == ["emotion", "photos", "recall", "precision"]
    assert [line.split()[0] for line in lines[1:8]] == list(CLASSES)
    assert "Right on" in out and "Left out: 3 photos" in out and "On its own test faces, PrivateTest" in out
    written = pd.read_csv(table)
    assert len(written) == 149 and set(written["model"]) == {predict.choose_model(None).run_id}
    assert cli.main(["evaluate", str(folder), "--whole", "--tta", "none", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["metrics"]["test_images"] == 148 and document["left_out"] == {"contempt": 3}
    assert document["interval"][0] < document["metrics"]["test_accuracy"] < document["interval"][1]
    assert sum(row["correct"] is True for row in document["photos"]) == round(148 * document["metrics"]["test_accuracy"])


def test_the_cli_refuses_what_it_cant_score_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], committed_references: Path
) -> None:
    (tmp_path / "happy").mkdir()
    (tmp_path / "happy" / "a.png").write_bytes(b"no photo")
    assert cli.main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert cli.main(["evaluate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "a.png: not a readable image" in err and "none of its 1 labelled photos could be scored" in err


def test_the_classify_page_scores_labelled_photos_from_a_folder(
    folder: Path, committed_references: Path, shipped: tuple[predict.ModelChoice, object]
) -> None:
    at = open_page("app_pages/classify.py")
    at = rerun(at.radio(key="classify_input").set_value("Labelled photos: how right is it?"))
    at.toggle(key="labelled_whole").set_value(True)
    at = rerun(at.text_input(key="labelled_path").set_value(str(folder)))
    at = rerun(at.button(key="labelled_score_path").click())
    shown = texts(at)
    choice, model = shipped
    with labelled.labelled_photos(folder) as found:
        score = labelled.score_labelled(model, found, whole=True, tta=choice.tta, scaling=choice.scaling(True, False))
    assert labelled.describe(score, choice.test_accuracy, choice.scored_on) in shown
    assert f"On its own test faces, {choice.scored_on}, it scored {choice.test_accuracy:.1%}" in shown
    (table,) = (d.value for d in at.dataframe)
    assert table["emotion"].tolist() == score.table["emotion"].tolist()
    assert [e.label for e in at.expander if e.label.startswith("Not scored")] == ["Not scored: 1 photo"]
    # Kept for its settings: another rerun shows it again without a click; other settings ask for a new score.
    at = rerun(at.toggle(key="labelled_A_normalize").set_value(False))
    assert labelled.describe(score, choice.test_accuracy, choice.scored_on) in texts(at)
    at = rerun(at.toggle(key="labelled_whole").set_value(False))
    assert "made with other settings: score it again" in texts(at)


def test_an_unreadable_source_is_an_error_on_the_page(tmp_path: Path, committed_references: Path) -> None:
    at = open_page("app_pages/classify.py")
    at = rerun(at.radio(key="classify_input").set_value("Labelled photos: how right is it?"))
    at = rerun(at.text_input(key="labelled_path").set_value(str(tmp_path / "nowhere")))
    at = rerun(at.button(key="labelled_score_path").click())
    assert [e.value for e in at.error] == [f"{tmp_path / 'nowhere'}: no such file or folder"]


def test_two_models_are_paired_on_the_same_photos(
    folder: Path, tmp_path: Path, finished_run: str, committed_references: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The shipped model (A) against a one-epoch sample run (B) on the same photos: B's answers are
    its own, the pairing counts the photos only one got right, and the page says what the CLI says."""
    table = tmp_path / "both.csv"
    argv = ["evaluate", str(folder), "--whole", "--against", finished_run]
    assert cli.main([*argv, "--csv", str(table), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    a, b = document["photos"], document["against"]["photos"]
    assert document["against"]["model"]["run_id"] == finished_run and [r["file"] for r in a] == [r["file"] for r in b]
    paired = document["against"]["paired"]
    only_a = sum(x["correct"] is True and y["correct"] is False for x, y in zip(a, b))
    only_b = sum(x["correct"] is False and y["correct"] is True for x, y in zip(a, b))
    assert (paired["only_a"], paired["only_b"], paired["n"]) == (only_a, only_b, 148)
    assert paired["accuracy_b"] == pytest.approx(document["against"]["metrics"]["test_accuracy"])
    assert [row["emotion"] for row in document["against"]["by_emotion"]] == list(CLASSES)
    written = pd.read_csv(table)
    assert written["model"].value_counts().to_dict() == {document["model"]["run_id"]: 149, finished_run: 149}
    fewer = labelled.LabelledScore(pd.DataFrame(b[1:]), None, {})
    with pytest.raises(FerError, match="not of the same photos"):
        labelled.paired(labelled.LabelledScore(pd.DataFrame(a), None, {}), fewer)

    at = open_page("app_pages/classify.py")
    at = rerun(at.radio(key="classify_input").set_value("Labelled photos: how right is it?"))
    at.toggle(key="labelled_whole").set_value(True)
    at.selectbox(key="labelled_against").set_value(str(predict.choose_model(finished_run).path))
    at = rerun(at.text_input(key="labelled_path").set_value(str(folder)))
    at = rerun(at.button(key="labelled_score_path").click())
    shown = texts(at)
    sentence = labelled.paired(*[
        labelled.LabelledScore(pd.DataFrame(rows), None, {}) for rows in (a, b)
    ])[0].sentence()
    assert f"on the 148 photos both scored: {sentence}" in shown
    assert "**A: " in shown and "**B: " in shown
    assert len([d for d in at.dataframe]) == 2
