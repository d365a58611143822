"""The photo pipeline: one result per photo, each bad file reported on its own, all faces in one
model call, large photos in bounded memory, and the results table; with a real trained model
on photos built from real sample faces."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import pytest

from benchmarks.tilt import photo as tilted_photo
from fer import cli, images, photos, predict, runs, store
from fer.annotate import DISPLAY_MAX_SIDE
from fer.errors import FerError
from fer.faces import active_detector, detect_faces, smallest_face, whole_image_face
from fer.images import decode_photo
from fer.inference import classify_faces, load_classifier
from fer.paths import runs_dir
from fer.saliency import occlusion_maps
from fer.temperature import tempered
from fer.vocab import CLASSES

from .conftest import GROUP, encoded, face, group_photo, with_png_size
from .conftest import photos as sample_photos


class Counting:
    """A model that counts the calls of its predict methods."""

    def __init__(self, model: Any) -> None:
        self.model, self.calls = model, 0

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.model, name)
        if not name.startswith("predict"):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture
def model(finished_run: str) -> Any:
    return load_classifier(runs.get_run(finished_run).model_path)


def test_each_photo_gets_its_result_and_a_bad_file_hides_nothing(model: Any) -> None:
    good = sample_photos()
    given = [
        ("empty.jpg", b""),
        ("crop.png", good["crop.png"]),
        ("notes.png", b"hello"),
        ("group.png", good["group.png"]),
        ("huge.png", with_png_size(good["crop.png"], 20_000, 20_000)),
        ("tiny.png", encoded(face(612)[:10, :10], ".png")),
        ("gray.jpg", good["gray.jpg"]),
    ]
    counting = Counting(model)
    results = photos.classify_photos(counting, given)
    assert counting.calls == 1  # every face of the batch in one model call
    assert [r.name for r in results] == [name for name, _ in given]
    errors = {r.name: r.error for r in results if r.error}
    assert errors["empty.jpg"] == "empty.jpg: empty file (0 bytes), not an image"
    assert errors["notes.png"].startswith("notes.png: not a readable image")
    assert errors["huge.png"].startswith("huge.png: 20000x20000 pixels (400 megapixels) is too large to open")
    assert errors["tiny.png"].startswith("tiny.png: ") and "too small" in errors["tiny.png"]
    for result in results:
        if result.error:
            assert result.image is None and not result.faces and len(result.probabilities) == 0
            continue
        content = dict(given)[result.name]
        faces = detect_faces(decode_photo(content, result.name)[0])
        assert [f.box for f in result.faces] == [f.box for f in faces]
        assert result.probabilities == pytest.approx(classify_faces(model, np.stack([f.crop for f in faces])), abs=1e-5)
        assert result.image.ndim == 3 and max(result.image.shape[:2]) <= DISPLAY_MAX_SIDE
    assert [len(r.faces) for r in results if not r.error] == [1, 3, 1]


def test_a_photo_without_faces_and_the_whole_image_option(model: Any) -> None:
    blank = np.full((300, 400, 3), 128, np.uint8)
    given = [("blank.png", encoded(blank, ".png")), ("crop.png", sample_photos()["crop.png"])]
    nothing, crop = photos.classify_photos(model, given)
    assert not nothing.error and not nothing.faces and nothing.image.shape == (300, 400, 3)
    assert len(crop.faces) == 1
    whole, _ = photos.classify_photos(model, given, whole_images={0})
    (only,) = whole.faces
    assert only.whole_image and only.box == (50, 0, 300, 300)  # the centre square, not squashed
    assert whole.probabilities == pytest.approx(classify_faces(model, whole_image_face(blank).crop[None]), abs=1e-5)


def test_a_large_jpeg_is_read_shrunk_and_its_boxes_are_in_its_own_pixels(
    model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = cv2.resize(group_photo(), None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)  # 1400x720
    content = encoded(photo, ".jpg")
    (full,) = photos.classify_photos(model, [("group.jpg", content)])
    monkeypatch.setattr(images, "PHOTO_MAX_PIXELS", 400_000)  # 1,008,000 pixels: read at half size
    (half,) = photos.classify_photos(model, [("group.jpg", content)])
    assert full.shrunk == 1 and half.shrunk == 2
    assert len(half.faces) == len(full.faces) == 3
    for small, big in zip(half.faces, full.faces):
        # The same place, in the photo's pixels: at most a detection scale step apart (Haar's is 1.1x).
        assert np.abs(np.subtract(small.box, big.box)).max() <= 0.15 * big.box[2]
    (whole,) = photos.classify_photos(model, [("group.jpg", content)], whole_images={0})
    assert whole.faces[0].box == (340, 0, 720, 720)  # the centre square, in the photo's own pixels
    assert whole.size == half.size == full.size == (1400, 720) == (photo.shape[1], photo.shape[0])


def test_no_face_message_says_how_large_a_face_must_be_in_a_photo_that_large(model: Any) -> None:
    """A phone photo whose faces are below the detector's smallest: the message says so, with
    the size, and to crop closer, besides the pose and the whole-image option; a photo too small
    for the size to matter gets no size advice."""
    side = 60  # half the smallest face YuNet promises in a 4000x3000 photo: never found there
    photo = np.full((3000, 4000, 3), 128, np.uint8)
    for k, index in enumerate(GROUP):
        photo[1400 : 1400 + side, 1500 + 300 * k : 1500 + 300 * k + side] = face(index, side)[..., None]
    strip = np.full((30, 100, 3), 128, np.uint8)
    given = [("phone.jpg", encoded(photo, ".jpg")), ("strip.png", encoded(strip, ".png"))]
    phone, cut = photos.classify_photos(model, given)
    assert not phone.faces and phone.size == (4000, 3000) and not cut.faces and cut.size == (100, 30)
    message = photos.no_face_message(phone)
    assert message.startswith("No face found in phone.jpg.") and "turned mostly towards the camera" in message
    smallest = smallest_face(3000, 4000)
    assert side < smallest and f"under about {smallest} pixels across" in message and "crop the photo closer" in message
    assert "classify the whole image as one face" in message
    assert "pixels across" not in photos.no_face_message(cut) and "whole image" in photos.no_face_message(cut)


def test_what_is_kept_of_a_photo_is_small() -> None:
    photo = np.full((3000, 4000, 3), 90, np.uint8)
    analysis = photos.analyse_photo("big.png", encoded(photo, ".png"))
    assert analysis.display.shape == (960, 1280, 3) and analysis.scale == pytest.approx(0.32)
    assert analysis.whole.box == (500, 0, 3000, 3000) and analysis.faces == () and analysis.size == (4000, 3000)
    kept = analysis.display.nbytes + analysis.whole.crop.nbytes
    assert kept < photo.nbytes / 9


def test_results_table_has_one_row_per_face_and_keeps_its_columns_when_empty(model: Any) -> None:
    good = sample_photos()
    results = photos.classify_photos(
        model, [("group.png", good["group.png"]), ("broken.png", b"x"), ("crop.png", good["crop.png"])]
    )
    table = photos.results_table(results)
    assert list(table.columns) == list(photos.RESULT_COLUMNS)
    assert list(table["file"]) == ["group.png"] * 3 + ["crop.png"] and list(table["face"]) == [1, 2, 3, 1]
    group = results[0]
    assert [tuple(r) for r in table[["box_x", "box_y", "box_width", "box_height"]].to_numpy()[:3]] == [
        f.box for f in group.faces
    ]
    assert table[list(CLASSES)].to_numpy()[:3] == pytest.approx(group.probabilities)
    assert list(table["emotion"])[:3] == [CLASSES[i] for i in group.probabilities.argmax(axis=1)]
    assert table["probability"].to_numpy()[:3] == pytest.approx(group.probabilities.max(axis=1))
    assert list(table["whole_image"]) == [f.whole_image for r in (results[0], results[2]) for f in r.faces]
    csv = table.to_csv(index=False).splitlines()
    assert csv[0] == ",".join(photos.RESULT_COLUMNS) and len(csv) == 5
    assert list(photos.results_table([]).columns) == list(photos.RESULT_COLUMNS)


def test_a_crop_taken_whole_says_so_in_the_csv(model: Any) -> None:
    given = [("whole.png", encoded(face(684), ".png")), ("found.png", encoded(face(612), ".png"))]
    whole, found = photos.classify_photos(model, given)
    assert whole.faces[0].whole_image and whole.faces[0].box == (0, 0, 48, 48) and whole.faces[0].detector is None
    assert not found.faces[0].whole_image and found.faces[0].box != (0, 0, 48, 48)
    header, *rows = photos.results_table([whole, found]).to_csv(index=False).splitlines()
    column = header.split(",").index("whole_image")
    assert [row.split(",")[column] for row in rows] == ["True", "False"]


def test_saliency_maps_come_only_when_asked_one_per_face_with_the_shown_prediction(model: Any) -> None:
    good = sample_photos()
    given = [("group.png", good["group.png"]), ("broken.png", b"x"), ("crop.png", good["crop.png"])]
    assert all(result.saliency is None for result in photos.classify_photos(model, given))
    group, broken, crop = photos.classify_photos(model, given, saliency=True, tta="flip")
    assert broken.saliency is None
    crops = np.stack([f.crop for f in (*group.faces, *crop.faces)])
    maps = np.concatenate([group.saliency, crop.saliency])
    assert maps.shape == (4, 48, 48)
    assert maps == pytest.approx(occlusion_maps(model, crops, tta="flip"), abs=1e-5)
    assert not np.allclose(maps, occlusion_maps(model, crops, tta="none"), atol=1e-4)  # the same TTA as shown


# ---------------------------------------------------------------------------------------------
# Photo files and `python -m fer classify`


def photo_folder(root: Path) -> Path:
    """The sample photos as files, with a broken one, a non-photo and a subfolder beside them."""
    folder = root / "photos"
    (folder / "nested").mkdir(parents=True)
    for name, content in sample_photos().items():
        (folder / name).write_bytes(content)
    (folder / "nested" / "more.png").write_bytes(sample_photos()["crop.png"])
    (folder / "Broken.JPEG").write_bytes(b"not a photo")
    (folder / "notes.txt").write_text("not a photo either")
    return folder


def test_photo_files_are_the_files_given_and_the_photos_directly_in_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = photo_folder(tmp_path)
    listed = photos.photo_files([folder / "gray.jpg", folder])
    assert [p.name for p in listed] == ["gray.jpg", "Broken.JPEG", "crop.png", "gray.jpg", "group.png", "transparent.png"]
    for given, message in (
        ([tmp_path / "nope.png"], "nope.png: no such file or folder"),
        ([folder / "nested", tmp_path], f"{tmp_path}: no photos in this folder"),
        ([f"{folder}/\0x"], "x': no such file or folder"),  # a NUL byte can't be in a name; shown quoted
        ([folder / "crop.png" / "x.png"], "x.png: no such file or folder"),
    ):
        with pytest.raises(FerError, match=message):
            photos.photo_files(given)
    monkeypatch.setattr(photos, "MAX_PHOTOS", 4)
    with pytest.raises(FerError, match="more than 4 entries"):  # counted while listing: a huge folder stops early
        photos.photo_files([folder])
    with pytest.raises(FerError, match="more than 4 photos"):
        photos.photo_files([folder / "crop.png"] * 5)


def test_a_photo_file_is_read_only_if_it_is_a_regular_file_of_a_photos_size(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = photo_folder(tmp_path)
    assert photos.read_photo(folder / "crop.png") == sample_photos()["crop.png"]
    os.mkfifo(tmp_path / "pipe.png")  # reading it would wait for a writer forever
    with pytest.raises(FerError, match="pipe.png: not a regular file"):
        photos.read_photo(tmp_path / "pipe.png")
    monkeypatch.setattr(photos, "PHOTO_FILE_MAX_BYTES", 1000)
    with pytest.raises(FerError, match="group.png: [0-9,]+ bytes, more than a photo can be \\(1,000\\)"):
        photos.read_photo(folder / "group.png")


def test_photo_files_are_classified_a_batch_at_a_time_in_order(model: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = photo_folder(tmp_path)
    files = [*photos.photo_files([folder]), tmp_path / "gone.png"]  # a file deleted after it was listed
    monkeypatch.setattr(photos, "PHOTOS_PER_CALL", 2)
    counting, seen = Counting(model), []
    results = list(photos.classify_files(counting, files, progress=lambda done, message: seen.append(message)))
    assert [r.name for r in results] == [str(p) for p in files]
    assert seen == ["2/6 photos", "4/6 photos", "6/6 photos"] and counting.calls == 3
    assert results[0].error.endswith("Broken.JPEG: not a readable image (jpg, png, webp or bmp expected)")
    assert results[-1].error.startswith(f"{tmp_path / 'gone.png'}: can't be read")
    at_once = photos.classify_photos(model, [(str(p), p.read_bytes()) for p in files[1:-1]])
    for batched, whole_batch in zip(results[1:-1], at_once):
        assert [f.box for f in batched.faces] == [f.box for f in whole_batch.faces]
        assert batched.probabilities == pytest.approx(whole_batch.probabilities, abs=1e-5)
    wholes = list(photos.classify_files(model, files[1:3], whole=True))
    assert [[f.whole_image for f in r.faces] for r in wholes] == [[True], [True]]


def test_cli_classify_prints_each_face_and_writes_the_table(
    finished_run: str, model: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = photo_folder(tmp_path)
    good = [str(folder / name) for name in ("crop.png", "group.png")]
    assert cli.main(["classify", *good, "--model", finished_run, "--csv", str(tmp_path / "faces.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    given = [(name, Path(name).read_bytes()) for name in good]
    assert runs.get_run(finished_run).config.tta == "shift"  # so the run's own setting is used: with shift TTA
    expected = photos.results_table(photos.classify_photos(model, given, tta="shift"))
    assert len(out) == len(expected) + 1 and out[-1].startswith("2/2 photos classified with shift TTA by CNN, sample data")
    for line, row in zip(out, expected.itertuples()):
        box = f"{row.box_width}x{row.box_height} at ({row.box_x}, {row.box_y})"
        where = f"the whole image ({box})" if row.whole_image else box
        assert line == f"{row.file}: face {row.face}, {where}: {row.emotion} {row.probability:.0%}"
    # --whole: one face per photo, its centre square, and the line says which part of the photo that is.
    assert cli.main(["classify", good[1], "--model", finished_run, "--whole"]) == 0
    height, width = cv2.imread(good[1]).shape[:2]
    side = min(height, width)
    square = f"the whole image ({side}x{side} at ({(width - side) // 2}, {(height - side) // 2}))"
    assert capsys.readouterr().out.splitlines()[0].startswith(f"{good[1]}: face 1, {square}: ")
    written = pd.read_csv(tmp_path / "faces.csv")
    assert list(written.columns) == [*photos.RESULT_COLUMNS, *predict.ANSWERED_BY_COLUMNS]
    choice = predict.choose_model(finished_run)  # each row names how it was answered: this run, shift, its temperature
    assert written[list(predict.ANSWERED_BY_COLUMNS)].drop_duplicates().to_dict("records") == [
        {"model": finished_run, "tta": "shift", "temperature": pytest.approx(choice.temperature), "balanced_strength": 0}
    ]
    assert written[list(CLASSES)].to_numpy() == pytest.approx(expected[list(CLASSES)].to_numpy(), abs=1e-6)

    # A folder with a broken photo: the others are classified, the broken one is named, exit 2.
    assert cli.main(["classify", str(folder), "--model", finished_run, "--json", "--tta", "none"]) == 2
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    assert document["model"]["run_id"] == finished_run and document["tta"] == "none"
    assert [p["file"] for p in document["photos"]] == [str(p) for p in photos.photo_files([folder])]
    assert [len(p["faces"]) for p in document["photos"]] == [0, 1, 1, 3, 1]
    assert document["photos"][0]["error"] and captured.err == f"error: {document['photos'][0]['error']}\n"
    assert set(document["photos"][3]["faces"][0]) == set(photos.RESULT_COLUMNS) - {"file"}


def test_cli_classify_scales_the_probabilities_by_the_runs_temperature_unless_told_not_to(
    committed_references: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (shipped,) = [run for run in store.reference_runs() if run.model_path.exists()]
    temperature = shipped.metrics()["temperature_scaling"]["temperature"]
    crop = str(photo_folder(tmp_path) / "crop.png")
    documents = {}
    for scaled, flags in ((True, []), (False, ["--unscaled"])):
        assert cli.main(["classify", crop, "--json", *flags]) == 0
        documents[scaled] = json.loads(capsys.readouterr().out)
    assert (documents[True]["temperature"], documents[False]["temperature"]) == (temperature, 1.0)
    (face,), (raw,) = (documents[scaled]["photos"][0]["faces"] for scaled in (True, False))
    network = np.array([[raw[name] for name in CLASSES]])
    assert [face[name] for name in CLASSES] == pytest.approx(tempered(network, temperature)[0], abs=1e-6)
    assert face["emotion"] == raw["emotion"] and face["probability"] != pytest.approx(raw["probability"], abs=1e-3)
    assert cli.main(["classify", crop]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"reference run {shipped.run_id}, probabilities at temperature 0.915")


def test_cli_classify_gives_balanced_answers_on_request_from_a_model_that_has_them(
    committed_references: Path, finished_run: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (shipped,) = [run for run in store.reference_runs() if run.model_path.exists()]
    balanced = store.balanced_answers(shipped.metrics())
    crop = str(photo_folder(tmp_path) / "crop.png")
    documents = {}
    for flags in (["--unscaled"], ["--balanced"], ["--balanced", "--unscaled"]):
        assert cli.main(["classify", crop, "--json", *flags]) == 0
        documents[" ".join(flags)] = json.loads(capsys.readouterr().out)
    network, answers, raw = (
        np.array([[document["photos"][0]["faces"][0][name] for name in CLASSES]]) for document in documents.values()
    )
    assert answers[0] == pytest.approx(tempered(network, balanced.temperature, balanced.prior)[0], abs=1e-6)
    assert raw[0] == pytest.approx(tempered(network, 1.0, balanced.prior)[0], abs=1e-6)
    assert documents["--balanced"]["balanced"] and documents["--balanced"]["temperature"] == balanced.temperature
    assert cli.main(["classify", crop, "--balanced"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(
        f"balanced answers (strength 0.5), probabilities at temperature {balanced.temperature:.3g}"
    )
    # A run on the thesis protocol had no validation faces to fit them on: one line, exit 2, nothing classified.
    assert cli.main(["classify", crop, "--balanced", "--model", finished_run]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "has no balanced answers: its run fitted none" in captured.err


def test_cli_classify_says_what_is_missing(finished_run: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = photo_folder(tmp_path)
    for args, message in (
        ([str(tmp_path / "nope.png")], "nope.png: no such file or folder"),
        ([str(folder), "--model", "no-such-run"], "'no-such-run' is no completed run with a saved model"),
        ([str(folder / "crop.png"), "--model", finished_run, "--csv", str(folder / "crop.png" / "x.csv")], "x.csv: can't be written"),
    ):
        assert cli.main(["classify", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and "Traceback" not in err
    shutil.rmtree(runs_dir())
    assert cli.main(["classify", str(folder / "crop.png")]) == 2
    assert "there is no trained model to classify with" in capsys.readouterr().err


def test_the_readmes_python_example_classifies_a_photo(
    committed_references: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    monkeypatch.chdir(tmp_path)
    Path("group.jpg").write_bytes(encoded(group_photo(), ".jpg"))
    exec(example, {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["file", "face", "emotion", "probability"]
    assert [line.split()[1:3] for line in printed[1:]] == [["group.jpg", "1"], ["group.jpg", "2"], ["group.jpg", "3"]]


def test_cli_classify_never_writes_its_csv_over_a_photo_or_a_device(
    finished_run: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = photo_folder(tmp_path)
    photo = folder / "crop.png"
    for target, message in (
        (photo, "is one of the files to classify"),
        (folder / "nested", "not a regular file"),
        (Path("/dev/null"), "not a regular file"),
        (tmp_path / "missing" / "faces.csv", "can't be written (no folder"),
    ):
        assert cli.main(["classify", str(photo), "--model", finished_run, "--csv", str(target)]) == 2
        out, err = capsys.readouterr()
        assert out == "" and err.startswith("error: ") and message in err  # refused before any photo
    assert photo.read_bytes() == sample_photos()["crop.png"] and not (tmp_path / "missing").exists()
    assert cli.main(["classify", str(photo), "--model", finished_run, "--json", "--csv", "-"]) == 2
    assert "would both write to stdout" in capsys.readouterr().err


def test_cli_classify_shows_any_file_name_on_one_line(finished_run: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    content = sample_photos()["crop.png"]
    odd = [os.fsdecode(bytes(tmp_path) + b"/x\xff.png"), str(tmp_path / "two\nlines.png")]
    for name in odd:
        Path(name).write_bytes(content)
    (tmp_path / "loop.png").symlink_to(tmp_path / "loop.png")
    assert cli.main(["classify", *odd, "--model", finished_run, "--csv", str(tmp_path / "faces.csv")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{tmp_path}/x\ufffd.png: face 1") and out[1].startswith(repr(str(tmp_path / "two\nlines.png")))
    assert len(out) == 3 and len(pd.read_csv(tmp_path / "faces.csv")) == 2
    assert cli.main(["classify", str(tmp_path / "loop.png")]) == 2
    assert "loop.png: a symbolic link to nothing (a missing file, or a loop)" in capsys.readouterr().err


def test_a_tilted_face_is_classified_level_and_the_table_and_cli_say_so(
    finished_run: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if active_detector().name != "yunet":
        pytest.skip("faces are leveled from the eyes YuNet finds; its model is not at ../shared/models")
    tilted = tilted_photo(face(612), 30)  # as benchmarks.tilt makes them: the face at 192 px in a 384 px photo
    path = tmp_path / "tilted.png"
    cv2.imwrite(str(path), tilted)
    assert cli.main(["classify", str(path), "--model", finished_run, "--csv", str(tmp_path / "faces.csv")]) == 0
    (line, _) = capsys.readouterr().out.splitlines()
    # Measured: the turned search finds it (upright, YuNet does not), its eye line tilted by -32 degrees.
    table = pd.read_csv(tmp_path / "faces.csv")
    assert len(table) == 1 and -40 < table.tilt[0] < -24
    assert f", tilted {table.tilt[0]:+.0f}° and leveled: " in line
    (found,) = detect_faces(tilted)
    assert found.leveled and found.tilt == pytest.approx(table.tilt[0], abs=0.05)
    # The crop the model saw is the face turned back: closer to the original 48x48 than a cut of
    # the tilted photo in the same box.
    x, y, w, h = found.box
    unturned = images.photo_face(tilted[y : y + h, x : x + w])
    assert np.abs(found.crop.astype(int) - face(612)).mean() < np.abs(unturned.astype(int) - face(612)).mean() - 10
