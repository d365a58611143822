"""Videos: real clips of sample faces, written by OpenCV's FFmpeg, sampled on time, their faces
found and classified exactly as the same frames would be as photos; damaged and hostile files
get one clear error."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer import cli, predict, store, video
from fer.errors import FerError
from fer.faces import detect_faces
from fer.inference import classify_faces, top_emotion
from fer.temperature import tempered
from fer.vocab import CLASSES

from .conftest import CLIP_FPS, REFERENCE_ID, clip_frames, encoded, face, two_people, write_clip

FOUND = [True, True, False, False, True, True]
"""Which frames of the test clip, sampled every 0.5 s, show a face."""


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return write_clip(tmp_path / "clip.mp4")


@pytest.mark.parametrize("codec, suffix", [("mp4v", ".mp4"), ("MJPG", ".avi")])
def test_a_video_is_sampled_on_time_and_its_faces_are_those_of_its_frames_as_photos(
    tmp_path: Path, codec: str, suffix: str
) -> None:
    path = write_clip(tmp_path / f"clip{suffix}", codec=codec)
    analysis = video.analyse_video("clip", path, every_s=0.5)
    np.testing.assert_allclose(analysis.times, [0.0, 0.5, 1.0, 1.5, 2.0, 2.5])
    assert [bool(faces) for faces in analysis.faces] == FOUND
    assert (analysis.size, analysis.duration, analysis.truncated) == ((480, 360), 3.0, False)
    frames = clip_frames(path)
    for time, found in zip(analysis.times, analysis.faces):
        # Searched as a photo is, but turned only when nothing is found upright: a third of the cost a frame.
        as_photo = detect_faces(frames[round(time * CLIP_FPS)], assume_face_if_tight_crop=False, turned_always=False)
        assert [face.box for face in found] == [face.box for face in as_photo]
        assert all(np.array_equal(face.crop, expected.crop) for face, expected in zip(found, as_photo))
    # The neutral face and the happy one are at one place: one person, whose expression changed.
    assert analysis.frames_found() == [4] and analysis.crops().shape == (4, 48, 48)


def test_each_sampled_frame_is_kept_small_for_display(tmp_path: Path) -> None:
    import cv2

    path = write_clip(tmp_path / "large.avi", size=(960, 720), codec="MJPG")
    analysis = video.analyse_video("large", path)
    assert len(analysis.frames) == len(analysis.times) == 6
    assert max(len(jpeg) for jpeg in analysis.frames) < 60_000
    frames = clip_frames(path)
    for index, time in enumerate(analysis.times):
        image, scale = analysis.frame(index)
        assert image.shape == (360, 480, 3) and scale == 0.5
        shrunk = cv2.resize(frames[round(time * CLIP_FPS)], (480, 360), interpolation=cv2.INTER_AREA)
        expected = cv2.cvtColor(shrunk, cv2.COLOR_BGR2RGB)
        assert np.abs(image.astype(int) - expected).mean() < 2  # the frame, as a JPEG
    small = video.analyse_video("clip", write_clip(tmp_path / "clip.avi", codec="MJPG"))
    assert small.frame(0)[0].shape == (360, 480, 3) and small.frame(0)[1] == 1.0  # never enlarged


def test_each_person_is_followed_and_person_1_is_the_one_found_most(tmp_path: Path, committed_references: Path) -> None:
    """A small face throughout and a larger one for the first second: two people, the small face
    person 1; each has a timeline of their own, and a person the video lacks is a clear error."""
    path = two_people(tmp_path / "two.avi")
    analysis = video.analyse_video("two.avi", path)
    both = detect_faces(clip_frames(path)[0], assume_face_if_tight_crop=False)
    assert len(both) == 2 and [len(faces) for faces in analysis.faces] == [2, 2, 1, 1]
    assert analysis.frames_found() == [4, 2]
    assert all(face.box[0] < 200 for face in analysis.followed(1))  # the small face on the left
    seen = analysis.followed(2)
    assert [face is not None and face.box[0] >= 300 for face in seen] == [True, True, False, False]
    assert any(np.array_equal(analysis.portrait(2), face.crop) for face in seen[:2])
    assert "a face found in 4, of 2 people (person 1 in 4, person 2 in 2)." in video.summary(analysis)

    model = predict.load_choice(predict.choose_model())
    timeline = video.classify_video(model, analysis, person=2)
    assert timeline["face_found"].tolist() == [True, True, False, False]
    np.testing.assert_allclose(timeline[list(CLASSES)].to_numpy()[:2], classify_faces(model, analysis.crops(2)), rtol=1e-6)
    assert (timeline["box_x"][:2] >= 300).all()
    for person in (0, 3):
        with pytest.raises(FerError, match=f"two.avi has 2 people: there is no person {person}"):
            video.classify_video(model, analysis, person=person)


def test_a_crowd_keeps_the_largest_faces_of_each_frame(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "MAX_FACES", 1)
    analysis = video.analyse_video("two.avi", two_people(tmp_path / "two.avi"))
    assert [len(faces) for faces in analysis.faces] == [1, 1, 1, 1]
    assert analysis.faces[0][0].box[0] >= 300  # the larger face, on the right


def test_the_interval_sets_which_frames_are_classified(clip: Path) -> None:
    np.testing.assert_allclose(video.analyse_video("clip", clip, every_s=1.0).times, [0.0, 1.0, 2.0])
    every_frame = video.analyse_video("clip", clip, every_s=0.1)
    np.testing.assert_allclose(every_frame.times, np.arange(30) / CLIP_FPS, atol=1e-9)
    for every in (0.05, 11.0):
        with pytest.raises(FerError, match="every 0.1 to 10 seconds"):
            video.analyse_video("clip", clip, every_s=every)


def test_an_upload_is_read_from_memory_as_a_file_is(clip: Path) -> None:
    from_file = video.analyse_video("clip", clip)
    from_memory = video.analyse_video("clip", io.BytesIO(clip.read_bytes()))
    assert [[f.box for f in faces] for faces in from_memory.faces] == [[f.box for f in faces] for faces in from_file.faces]
    np.testing.assert_array_equal(from_memory.crops(), from_file.crops())


def test_a_long_video_stops_at_the_limits_and_says_so(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "MAX_SAMPLES", 3)
    analysis = video.analyse_video("clip.mp4", clip, every_s=0.5)
    assert len(analysis.times) == 3 and analysis.truncated
    assert "only its first 1 s were read (at most 3 frames" in video.summary(analysis)
    monkeypatch.setattr(video, "MAX_SAMPLES", 1_200)
    monkeypatch.setattr(video, "MAX_SECONDS", 1.2)
    analysis = video.analyse_video("clip.mp4", clip, every_s=0.5)
    np.testing.assert_allclose(analysis.times, [0.0, 0.5, 1.0])
    assert analysis.truncated
    monkeypatch.setattr(video, "MAX_SECONDS", 3.0)  # the last frame is at 2.9 s: nothing is cut
    whole = video.analyse_video("clip.mp4", clip, every_s=0.5)
    assert not whole.truncated and len(whole.times) == 6 and "were read" not in video.summary(whole)


def test_progress_is_reported_up_to_the_end(clip: Path) -> None:
    reported: list[tuple[float, str]] = []
    video.analyse_video("clip.mp4", clip, progress=lambda done, line: reported.append((done, line)))
    fractions = [done for done, _ in reported]
    assert len(reported) == 6 and fractions == sorted(fractions) and fractions[-1] == pytest.approx(2.5 / 3.0)
    assert reported[-1][1] == "2.5 s of clip.mp4 read, 6 frames sampled"


def test_the_timeline_holds_the_probabilities_the_model_gives_the_faces(clip: Path, committed_references: Path) -> None:
    choice = predict.choose_model()
    model = predict.load_choice(choice)
    analysis = video.analyse_video("clip.mp4", clip)
    timeline = video.classify_video(model, analysis, tta="flip")
    assert list(timeline.columns) == list(video.TIMELINE_COLUMNS) and len(timeline) == 6
    assert timeline["face_found"].tolist() == FOUND
    expected = classify_faces(model, analysis.crops(), tta="flip")
    found = timeline[timeline["face_found"]]
    np.testing.assert_allclose(found[list(CLASSES)].to_numpy(), expected, rtol=1e-6)
    assert found["emotion"].tolist() == [top_emotion(row)[0] for row in expected]
    assert found["emotion"].tolist() == ["neutral", "neutral", "happy", "happy"]  # as the faces' FER2013 labels
    assert timeline.loc[~timeline["face_found"], ["box_x", "emotion", "happy"]].isna().all().all()
    shares = video.emotion_shares(timeline)
    assert shares["emotion"].tolist() == list(CLASSES) and shares["frames"].sum() == 4
    assert shares["share"].sum() == pytest.approx(1.0)
    np.testing.assert_allclose(shares["mean_probability"], expected.mean(axis=0), rtol=1e-6)


def test_a_video_without_faces_has_an_empty_summary(tmp_path: Path) -> None:
    analysis = video.analyse_video("grey", write_clip(tmp_path / "grey.mp4", ((None, 1.0),)))
    assert analysis.crops().shape == (0, 48, 48) and "a face found in 0." in video.summary(analysis)
    assert analysis.frames_found() == []
    shares = video.emotion_shares(pd.DataFrame(columns=list(video.TIMELINE_COLUMNS)).astype({"face_found": bool}))
    assert shares["frames"].sum() == 0 and shares["share"].sum() == 0


def test_files_that_are_no_video_get_one_clear_error(clip: Path, tmp_path: Path) -> None:
    content = clip.read_bytes()
    cases = {
        "empty": (b"", "empty file"),
        "text": (b"not a video at all " * 100, "not a readable video"),
        "photo": (encoded(face(609, 160), ".png"), "a png photo, not a video"),
        "cut": (content[: len(content) // 2], "not a readable video"),
    }
    for name, (data, message) in cases.items():
        with pytest.raises(FerError, match=message):
            video.analyse_video(name, io.BytesIO(data))
    tiny = write_clip(tmp_path / "tiny.avi", ((None, 0.5),), size=(16, 16), codec="MJPG")
    with pytest.raises(FerError, match="16x16 pixels, too small to hold a face"):
        video.analyse_video("tiny", tiny)
    with pytest.raises(FerError, match="no such file"):
        video.analyse_video("missing", tmp_path / "missing.mp4")
    with pytest.raises(FerError, match="not a regular file"):
        video.analyse_video("folder", tmp_path)
    os.mkfifo(fifo := tmp_path / "fifo.mp4")
    with pytest.raises(FerError, match="not a regular file"):  # never opened: it would block
        video.analyse_video("fifo", fifo)


def test_frames_larger_than_the_photo_limit_are_refused(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "PHOTO_MAX_PIXELS", 480 * 360 - 1)
    with pytest.raises(FerError, match="480x360 pixels, more than"):
        video.analyse_video("clip", clip)


# --------------------------------------------------------------------------------------------
# The command line


def test_the_video_command_prints_the_timeline_and_writes_it(
    clip: Path, tmp_path: Path, committed_references: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = tmp_path / "timeline.csv"
    assert cli.main(["video", str(clip), "--csv", str(table), "--tta", "none"]) == 0
    out = capsys.readouterr().out.splitlines()
    written = pd.read_csv(table)
    assert list(written.columns) == [*video.TIMELINE_COLUMNS, *predict.ANSWERED_BY_COLUMNS]
    assert written["face_found"].tolist() == FOUND
    # Every row says how its probabilities were made: the default model, no TTA, its temperature, its own answers.
    answered_by = written[list(predict.ANSWERED_BY_COLUMNS)].drop_duplicates().to_dict("records")
    assert answered_by == [{"model": REFERENCE_ID, "tta": "none", "temperature": pytest.approx(0.9155, abs=5e-5),
                            "balanced_strength": 0.0}]
    for line, row in zip(out, written.itertuples()):
        expected = f"{row.emotion} {row.probability:.0%}" if row.face_found else "no face found"
        assert line == f"{row.time_s:8.2f} s  {expected}"
    assert out[6] == f"{clip} (480x360 of 3.0 s): 6 frames sampled every 0.5 s, a face found in 4."
    assert out[7].startswith("Answer in those frames: ") and out[8].startswith("Classified by FER-CNN")

    assert cli.main(["video", str(clip), "--json", "--every", "1"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [row["time_s"] for row in document["timeline"]] == [0.0, 1.0, 2.0]
    assert document["tta"] == "shift" and len(document["shares"]) == len(CLASSES)
    # Probabilities scaled by the default model's temperature, unless asked for the network's own: same answers.
    assert document["temperature"] == pytest.approx(0.915, abs=5e-4) and out[8].endswith("probabilities at temperature 0.915")
    assert cli.main(["video", str(clip), "--json", "--every", "1", "--unscaled"]) == 0
    unscaled = json.loads(capsys.readouterr().out)
    assert unscaled["temperature"] == 1.0
    found = [(row["emotion"], row["probability"]) for row in document["timeline"] if row["face_found"]]
    unscaled_found = [(row["emotion"], row["probability"]) for row in unscaled["timeline"] if row["face_found"]]
    assert [emotion for emotion, _ in found] == [emotion for emotion, _ in unscaled_found]
    assert all(scaled > network for (_, scaled), (_, network) in zip(found, unscaled_found))  # T < 1 sharpens
    # Balanced answers: the emotions' training shares taken out, at the temperature fitted to them.
    balanced = store.balanced_answers(store.reference_run(REFERENCE_ID).metrics())
    assert cli.main(["video", str(clip), "--json", "--every", "1", "--balanced", "--unscaled", "--csv", str(table)]) == 0
    shifted = json.loads(capsys.readouterr().out)
    assert set(pd.read_csv(table)["balanced_strength"]) == {balanced.strength} == {0.5}
    assert set(pd.read_csv(table)["temperature"]) == {1.0}
    assert shifted["balanced"] and shifted["temperature"] == 1.0 and not document["balanced"]
    for row, raw in zip(shifted["timeline"], unscaled["timeline"]):
        if row["face_found"]:
            network = np.array([[raw[name] for name in CLASSES]])
            assert [row[name] for name in CLASSES] == pytest.approx(tempered(network, 1.0, balanced.prior)[0], abs=1e-6)


def test_the_video_command_follows_the_person_asked_for(
    tmp_path: Path, committed_references: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = two_people(tmp_path / "two.avi")
    assert cli.main(["video", str(path), "--person", "2", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["person"], document["frames_per_person"]) == (2, [4, 2])
    assert [row["face_found"] for row in document["timeline"]] == [True, True, False, False]
    assert cli.main(["video", str(path)]) == 0
    out = capsys.readouterr().out
    assert "of 2 people (person 1 in 4, person 2 in 2)." in out and "Answer in those frames (person 1): " in out


def test_the_video_command_says_what_is_wrong_in_one_line(
    tmp_path: Path, clip: Path, committed_references: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (bad := tmp_path / "bad.mp4").write_bytes(b"\x00" * 4096)
    for args, message in (
        ([str(bad)], f"error: {bad}: not a readable video"),
        ([str(clip), "--every", "0"], "error: frames can be sampled every 0.1 to 10 seconds, not every 0.0"),
        ([str(clip), "--csv", str(clip)], "is one of the files to classify"),
        ([str(clip), "--person", "2"], f"error: {clip} has 1 person: there is no person 2"),
    ):
        assert cli.main(["video", *args]) == 2
        assert message in capsys.readouterr().err


def test_a_damaged_video_is_read_to_its_end_without_ffmpegs_lines(tmp_path: Path, committed_references: Path) -> None:
    """2,000 bytes zeroed in the middle of an MPEG-4 clip: FFmpeg conceals the damage and, left
    to itself, logs a line per damaged block (2,001 here); the command reads all 4 s quietly."""
    content = bytearray(write_clip(tmp_path / "clip.mp4", ((347, 2.0), (187, 2.0))).read_bytes())
    middle = len(content) // 2
    content[middle : middle + 2000] = bytes(2000)
    (damaged := tmp_path / "damaged.mp4").write_bytes(content)
    done = subprocess.run(
        [sys.executable, "-m", "fer", "video", str(damaged)], capture_output=True, text=True, timeout=180, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{damaged} (480x360 of 4.0 s): 8 frames sampled every 0.5 s" in done.stdout
    assert "@ 0x" not in done.stderr and len(done.stderr.splitlines()) < 10
