"""Emotions over time in a video: sample its frames, find the faces in each, follow each person.

:func:`analyse_video` reads a video file as it decodes (FFmpeg, through OpenCV), keeps one frame
every ``every_s`` seconds and finds its faces with the photos' detector (:mod:`fer.faces`), then
links the faces of successive frames into people (:mod:`fer.tracking`): person 1 is the one
found in most frames. Only the faces' 48x48 crops and a small JPEG of each sampled frame are
kept, so memory stays flat for any length, and reading stops after :data:`MAX_SAMPLES` samples
or :data:`MAX_SECONDS` of video.
:func:`classify_video` then classifies one person's crops in one call, for any model and
test-time augmentation, and returns their timeline, one row per sampled frame;
:func:`emotion_shares` sums it up. A page keeps the :class:`VideoAnalysis` between reruns, as it
keeps a photo's :class:`fer.photos.Analysis`.
"""

from __future__ import annotations

import io
import math
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import pandas as pd

from fer.errors import FerError
from fer.faces import MIN_FACE_PX, Face, detect_faces
from fer.images import FACE_SIZE, PHOTO_MAX_PIXELS, opencv_warnings_off, photo_format, resized
from fer.inference import classify_faces
from fer.photos import answer_shares, face_columns
from fer.temperature import Scaling
from fer.tracking import track
from fer.vocab import CLASSES, VIDEO_EVERY_S, VIDEO_EVERY_S_RANGE

if TYPE_CHECKING:
    import keras

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm"})
"""What a video file's name ends with, for the page's uploader (FFmpeg reads many more)."""
MAX_SAMPLES = 1_200
"""Most frames sampled from one video: 10 minutes at 0.5 s. A 60-second 720p video sampled so
took 2.1 s to read and search on a 2-core CPU, and 1.5 s to classify with shift TTA
(``benchmarks.inference_speed``), so this bounds a 720p video at about 40 s of work (larger frames
take longer to decode and search); the timeline of a longer one stops there and says so."""
MAX_SECONDS = 1_200.0
"""Most seconds of video read: with a long sampling interval, decoding the frames between
samples would otherwise take the time (every frame is decoded to reach the next one)."""
FRAME_SIDE = 480
"""Longer side of the small copy of each sampled frame kept for display, as a JPEG of about 20 KB:
enough to see whose face was followed; 1,200 of them are about 25 MB."""
FRAME_QUALITY = 80
"""JPEG quality of those copies."""
PEOPLE_NAMED = 4
"""People named one by one in :func:`summary`; the rest are counted together."""
MAX_FACES = 8
"""Most faces kept of one sampled frame, the largest: a crowd in the background would otherwise
fill memory with people seen once (1,200 frames of 8 faces are 22 MB of crops)."""
FPS_RANGE = (0.1, 1_000.0)
"""Frame rates taken at their word, for the frame times of a file that stamps none."""

TIMELINE_COLUMNS = (
    "time_s", "face_found", "box_x", "box_y", "box_width", "box_height", "tilt", "emotion", "probability", *CLASSES
)
"""The timeline's columns: one row per sampled frame; the box in the video's pixels, the tilt
of the eye line (as in :data:`fer.photos.RESULT_COLUMNS`), and the emotion and probabilities of
the followed person's face (empty where they were not found)."""


@dataclass(frozen=True)
class VideoAnalysis:
    """A video made ready to classify: when each frame was sampled, the faces found in it, and
    whose they are.

    ``times`` are seconds from the start; ``faces`` holds the faces of each sampled frame,
    largest first (at most :data:`MAX_FACES`), and ``people`` the person of each of them,
    numbered from 1 (:func:`fer.tracking.track`); ``frames`` is each sampled frame shrunk to
    :data:`FRAME_SIDE` as a JPEG (:meth:`frame`). ``duration`` is what the file says (None when it
    says nothing usable); ``truncated`` says reading stopped at :data:`MAX_SAMPLES` or
    :data:`MAX_SECONDS` before the video's end.
    """

    name: str
    times: np.ndarray
    faces: tuple[tuple[Face, ...], ...]
    people: tuple[tuple[int, ...], ...]
    frames: tuple[bytes, ...]
    size: tuple[int, int]
    every_s: float
    duration: float | None
    truncated: bool

    def frames_found(self) -> list[int]:
        """In how many sampled frames each person was found: person 1's count first."""
        numbers = [person for people in self.people for person in people]
        return [numbers.count(person) for person in range(1, max(numbers, default=0) + 1)]

    def followed(self, person: int = 1) -> tuple[Face | None, ...]:
        """``person``'s face in each sampled frame, None where they were not found."""
        return tuple(
            next((face for face, whose in zip(faces, people) if whose == person), None)
            for faces, people in zip(self.faces, self.people)
        )

    def portrait(self, person: int) -> np.ndarray:
        """A 48x48 face of ``person`` to show who they are: their largest, the one seen best."""
        return max((face for face in self.followed(person) if face is not None), key=lambda face: face.box[2]).crop

    def crops(self, person: int = 1) -> np.ndarray:
        """``person``'s 48x48 face crops, in time order, ``(0, 48, 48)`` when there are none."""
        found = [face.crop for face in self.followed(person) if face is not None]
        return np.array(found, np.uint8).reshape(-1, FACE_SIZE, FACE_SIZE)

    def frame(self, index: int) -> tuple[np.ndarray, float]:
        """Sampled frame ``index`` as a small RGB image, and its pixels per video pixel, the
        ``scale`` :func:`fer.annotate.annotate` draws the frame's face box with."""
        image = cv2.cvtColor(cv2.imdecode(np.frombuffer(self.frames[index], np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        return image, image.shape[1] / self.size[0]


def analyse_video(
    name: str,
    video: io.BufferedIOBase | Path,
    *,
    every_s: float = VIDEO_EVERY_S,
    progress: Callable[[float, str], None] | None = None,
) -> VideoAnalysis:
    """Sample a video every ``every_s`` seconds, find the faces in each sampled frame and link
    them into people.

    ``video`` is a file's path or a buffered binary stream (an upload, ``io.BytesIO``, a file
    opened ``"rb"``), which OpenCV reads as FFmpeg asks; ``name`` labels errors. Frames are
    timed by the file's own time stamps, else by its frame rate. ``progress`` gets the fraction
    done and a line to show.

    Raises FerError for a file that is not a video FFmpeg can read (a photo, a damaged or cut
    file), frames larger than :data:`fer.images.PHOTO_MAX_PIXELS`, or ``every_s`` outside
    :data:`fer.vocab.VIDEO_EVERY_S_RANGE`.
    """
    low, high = VIDEO_EVERY_S_RANGE
    if not low <= every_s <= high:
        raise FerError(f"frames can be sampled every {low} to {high:g} seconds, not every {every_s}")
    if isinstance(video, Path):
        with _opened(name, video) as stream:
            return analyse_video(name, stream, every_s=every_s, progress=progress)
    capture = _capture(name, video)
    try:
        return _sample(name, capture, every_s, progress)
    finally:
        capture.release()


def classify_video(
    model: keras.Model, analysis: VideoAnalysis, *, person: int = 1, tta: str = "none", scaling: Scaling = Scaling()
) -> pd.DataFrame:
    """``person``'s timeline (:data:`TIMELINE_COLUMNS`): every sampled frame's time and, where
    their face was found, its box and probabilities; all their faces go through the model in one
    call (:func:`fer.inference.classify_faces`, with ``tta`` and ``scaling``). Raises
    FerError for a person the video does not have (person 1 of a video without faces is found
    in no frame)."""
    people = len(analysis.frames_found())
    if not (person == 1 or 1 <= person <= people):
        raise FerError(f"{analysis.name} has {_people(people)}: there is no person {person}")
    probabilities = iter(classify_faces(model, analysis.crops(person), tta=tta, scaling=scaling))
    rows = [
        {"time_s": round(float(time), 3), "face_found": face is not None}
        | ({} if face is None else face_columns(face, next(probabilities)))
        for time, face in zip(analysis.times, analysis.followed(person))
    ]
    table = pd.DataFrame(rows, columns=list(TIMELINE_COLUMNS))
    return table.astype({column: "Int64" for column in TIMELINE_COLUMNS[2:6]} | {"face_found": bool})


def emotion_shares(timeline: pd.DataFrame) -> pd.DataFrame:
    """:func:`fer.photos.answer_shares` over the sampled frames in which a face was found, each
    frame one face: its count column is ``frames``."""
    return answer_shares(timeline[timeline["face_found"]]).rename(columns={"faces": "frames"})


def summary(analysis: VideoAnalysis) -> str:
    """One sentence on what was sampled: how many frames, how often, from how long a video, and
    in how many a face was found; where reading stopped early, that too."""
    found = sum(bool(faces) for faces in analysis.faces)
    width, height = analysis.size
    length = f" of {analysis.duration:,.1f} s" if analysis.duration else ""
    sentence = (
        f"{analysis.name} ({width}x{height}{length}): {len(analysis.times):,} frames sampled every "
        f"{analysis.every_s:g} s, a face found in {found:,}"
    )
    if len(counts := analysis.frames_found()) > 1:
        each = ", ".join(f"person {person} in {frames:,}" for person, frames in enumerate(counts[:PEOPLE_NAMED], 1))
        others = len(counts) - PEOPLE_NAMED
        each += f" and {others:,} more in {sum(counts[PEOPLE_NAMED:]):,}" if others > 0 else ""
        sentence += f", of {_people(len(counts))} ({each})"
    if analysis.truncated:
        sentence += (
            f"; only its first {analysis.times[-1]:,.0f} s were read (at most {MAX_SAMPLES:,} frames "
            f"and {MAX_SECONDS / 60:.0f} minutes): sample less often, or cut the video"
        )
    return sentence + "."


def _people(count: int) -> str:
    return "1 person" if count == 1 else f"{count:,} people"


# --------------------------------------------------------------------------------------------
# Reading


@contextmanager
def _opened(name: str, path: Path) -> Iterator[io.BufferedIOBase]:
    """A video file opened for reading; FerError for a missing file or one that is not a regular
    file (a FIFO would block, a device never end)."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise FerError(f"{name}: not a regular file")
        stream = path.open("rb")
    except FileNotFoundError as error:
        raise FerError(f"{name}: no such file") from error
    except OSError as error:
        raise FerError(f"{name}: can't be read ({error.strerror or error})") from error
    with stream:
        yield stream


def _capture(name: str, stream: io.BufferedIOBase) -> cv2.VideoCapture:
    """An OpenCV capture of the stream by FFmpeg, checked to be a video of a size we decode."""
    head = stream.read(16)
    stream.seek(0)
    if not head:
        raise FerError(f"{name}: empty file (0 bytes), not a video")
    if kind := photo_format(head):
        raise FerError(f"{name}: a {kind} photo, not a video: classify it as a photo")
    try:
        with opencv_warnings_off():
            capture = cv2.VideoCapture(stream, cv2.CAP_FFMPEG, [])
    except cv2.error as error:
        raise FerError(f"{name}: not a readable video (OpenCV could not open it)") from error
    if not capture.isOpened():
        raise FerError(f"{name}: not a readable video (FFmpeg found no video in it, or it is damaged or cut short)")
    width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    problem = ""
    if width * height > PHOTO_MAX_PIXELS:
        problem = f"more than the {PHOTO_MAX_PIXELS / 1e6:.0f} megapixels read: save a smaller copy"
    elif min(width, height) < MIN_FACE_PX:
        problem = f"too small to hold a face that can be classified (at least {MIN_FACE_PX} pixels on each side)"
    if problem:
        capture.release()
        raise FerError(f"{name}: its frames are {width}x{height} pixels, {problem}")
    return capture


def _sample(
    name: str, capture: cv2.VideoCapture, every_s: float, progress: Callable[[float, str], None] | None
) -> VideoAnalysis:
    """Read the capture to its end or a limit, keeping a frame every ``every_s`` seconds."""
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if FPS_RANGE[0] <= fps <= FPS_RANGE[1] else None
    frame_count = capture.get(cv2.CAP_PROP_FRAME_COUNT)
    duration = frame_count / fps if fps and math.isfinite(frame_count) and frame_count > 0 else None
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    times: list[float] = []
    faces: list[tuple[Face, ...]] = []
    frames: list[bytes] = []
    due, last, index, truncated = 0.0, 0.0, -1, False
    while capture.grab():
        index += 1
        last = max(last, _frame_time(capture, index, fps, name))
        if last > MAX_SECONDS or len(times) == MAX_SAMPLES:
            truncated = True
            break
        if last + 1e-6 < due:
            continue
        ok, frame = capture.retrieve()
        if not ok or frame is None:
            continue
        times.append(last)
        faces.append(_largest_faces(name, frame))
        frames.append(_small_jpeg(frame))
        due = (math.floor(last / every_s + 1e-6) + 1) * every_s
        if progress:
            end = min(duration or MAX_SECONDS, MAX_SECONDS)
            progress(min(1.0, last / end), f"{last:,.1f} s of {name} read, {len(times):,} frames sampled")
    if not times:
        raise FerError(f"{name}: not a readable video (no frame of it could be decoded)")
    people = tuple(tuple(numbers) for numbers in track([[face.box for face in found] for found in faces]))
    return VideoAnalysis(name, np.array(times), tuple(faces), people, tuple(frames), size, every_s, duration, truncated)


def _frame_time(capture: cv2.VideoCapture, index: int, fps: float | None, name: str) -> float:
    """The grabbed frame's time in seconds: its time stamp, else its number over the frame rate."""
    stamp = capture.get(cv2.CAP_PROP_POS_MSEC)
    if math.isfinite(stamp) and stamp >= 0 and (stamp > 0 or index == 0):
        return stamp / 1000
    if fps is None:
        raise FerError(f"{name}: its frames carry no times and it states no frame rate, so they can't be timed")
    return index / fps


def _small_jpeg(frame: np.ndarray) -> bytes:
    """A frame shrunk to :data:`FRAME_SIDE` on its longer side (never enlarged), as JPEG bytes."""
    small = resized(frame, min(1.0, FRAME_SIDE / max(frame.shape[:2])))
    return cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, FRAME_QUALITY])[1].tobytes()


def _largest_faces(name: str, frame: np.ndarray) -> tuple[Face, ...]:
    """The faces in a frame, largest first, at most :data:`MAX_FACES`. A frame is never taken
    for a face crop, however small: a video is not a crop."""
    try:
        found = detect_faces(frame, assume_face_if_tight_crop=False, turned_always=False)
    except FerError as error:
        raise FerError(f"{name}: {error}") from error
    return tuple(sorted(found, key=lambda face: -face.box[2] * face.box[3])[:MAX_FACES])
