"""From a user's photo files to what the Classify page shows, in one call.

:func:`classify_photos` decodes each photo within bounded memory (:func:`fer.images.decode_photo`),
finds its faces (:mod:`fer.faces`), classifies all faces of the batch in one model call and
draws them (:mod:`fer.annotate`); asked to, it also maps what drove each prediction
(:mod:`fer.saliency`, one more model call for all faces). Each photo gets its own :class:`PhotoResult`, holding its
error if it has one, so a bad file never hides the others. :func:`results_table` is the batch
as one table (one row per face) for display and download. :func:`classify_in_batches` does the
same for any number of photos, a batch at a time, and :func:`classify_files` for photo files on
disk (:func:`photo_files`): the ``classify`` command.

What a page keeps of a photo between reruns is its :class:`Analysis`: the display-sized image
and the faces, never the decoded photo (a 16-megapixel photo is 48 MB; its display image is at
most 5 MB).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fer.annotate import annotate, display_image
from fer.errors import FerError
from fer.faces import MIN_FACE_PX, Face, detect_faces, smallest_face, whole_image_face
from fer.images import FACE_SIZE, FORMATS, decode_photo
from fer.inference import classify_faces, top_emotion
from fer.saliency import occlusion_maps
from fer.temperature import Scaling
from fer.vocab import CLASSES

if TYPE_CHECKING:
    import keras

PHOTO_SUFFIXES = frozenset({*(f".{name}" for name in FORMATS), ".jpeg"})
"""What a photo file's name ends with, in any case, for a folder's photos to be taken."""
PHOTO_FILE_MAX_BYTES = 64 * 2**20
"""Largest photo file read (a 16-megapixel PNG, the largest decoded, is at most about 50 MB)."""
MAX_PHOTOS = 10_000
"""Most photos one call of :func:`photo_files` lists; a folder is looked through this many entries deep."""
PHOTOS_PER_CALL = 16
"""Photos :func:`classify_files` holds and classifies at a time (each up to a 5 MB display image)."""

RESULT_COLUMNS = (
    "file", "face", "box_x", "box_y", "box_width", "box_height", "tilt", "whole_image", "emotion", "probability",
    *CLASSES,
)
"""The results table's columns: one row per face; the box in the photo's own pixels, and the
tilt of the face's eye line in degrees, clockwise (:attr:`fer.faces.Face.tilt`: empty without
YuNet; a face tilted by :data:`fer.faces.LEVEL_MIN_TILT` or more was classified turned level)."""


@dataclass(frozen=True)
class Analysis:
    """A photo made ready to classify: all a page needs to keep of it between reruns."""

    display: np.ndarray  # RGB, resized for display (fer.annotate.display_image)
    scale: float  # display pixels per photo pixel
    faces: tuple[Face, ...]  # the faces found, boxes in the photo's own pixels
    whole: Face  # the whole photo (its centre square) as one face, for when the user asks for it
    size: tuple[int, int]  # width, height in the photo's own pixels
    shrunk: int = 1  # a large JPEG is decoded at 1/2, 1/4 or 1/8 of its size (fer.images.PHOTO_MAX_PIXELS)


@dataclass(frozen=True)
class PhotoResult:
    """One photo's outcome. With an ``error``, nothing else is set. Otherwise ``image`` is the
    display image with the faces boxed and labelled, and ``probabilities`` has one row per face;
    no faces means none was found (a page may offer to classify the whole image). ``saliency``
    is one occlusion map per face (:func:`fer.saliency.occlusion_maps`) when they were asked for.
    ``size`` is the photo's width and height in its own pixels ((0, 0) with an error)."""

    name: str
    image: np.ndarray | None = None
    faces: tuple[Face, ...] = ()
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, len(CLASSES)), np.float32))
    error: str = ""
    shrunk: int = 1
    saliency: np.ndarray | None = None
    size: tuple[int, int] = (0, 0)


def no_face_message(result: PhotoResult) -> str:
    """What to tell the user about a photo in which no face was found: the detector wants faces
    turned towards the camera and, where the photo is large enough for it to matter, at least
    :func:`fer.faces.smallest_face` pixels across, so small faces call for a closer crop; a face
    the detector misses can still be classified whole."""
    width, height = result.size
    # Detection ran on the photo as decoded, 1/shrunk of its size.
    smallest = smallest_face(height // result.shrunk, width // result.shrunk) * result.shrunk
    size = ""
    if MIN_FACE_PX * result.shrunk < smallest <= min(width, height) // 2:
        size = (
            f", and in a {width}x{height} photo it misses many faces under about {smallest} pixels across "
            f"(1/{min(width, height) // smallest} of its shorter side): crop the photo closer to small faces"
        )
    return (
        f"No face found in {result.name}. The face detector looks for faces turned mostly towards the camera{size}. "
        "If the photo is a face (a close crop, a drawing, a tilted head), classify the whole image as one face "
        "(its centre square, if it is not square)."
    )


def analyse_photo(name: str, content: bytes) -> Analysis:
    """Decode a photo file, find its faces and keep its display image; ``name`` labels errors.

    Raises FerError for a file that is not a readable photo, or is too large or too small.
    """
    photo, shrunk = decode_photo(content, name)
    try:
        faces = detect_faces(photo)
        whole = whole_image_face(photo)
    except FerError as error:
        raise FerError(f"{name}: {error}") from error
    display, scale = display_image(photo)
    height, width = photo.shape[:2]
    return Analysis(
        display, scale / shrunk, tuple(_in_photo_pixels(face, shrunk) for face in faces),
        _in_photo_pixels(whole, shrunk), (width * shrunk, height * shrunk), shrunk,
    )


def classify_photos(
    model: keras.Model,
    photos: Sequence[tuple[str, bytes]],
    *,
    whole_images: Collection[int] = (),
    tta: str = "none",
    scaling: Scaling = Scaling(),
    saliency: bool = False,
    analyse: Callable[[str, bytes], Analysis] = analyse_photo,
    explain: Callable[..., np.ndarray] = occlusion_maps,
) -> list[PhotoResult]:
    """One :class:`PhotoResult` per ``(name, content)`` photo, in the order given.

    Photos whose index is in ``whole_images`` are classified as one face, whole. ``analyse``
    turns a photo into its :class:`Analysis` (a page passes a cached :func:`analyse_photo`);
    ``tta`` and ``scaling`` are :func:`fer.inference.classify_faces`'. All faces of the batch are
    classified in one model call; with ``saliency``, ``explain`` maps what drove each
    prediction (:func:`fer.saliency.occlusion_maps`, with the same ``tta``; a page passes
    a cached one).
    """
    analysed: list[tuple[str, Analysis | None, tuple[Face, ...], str]] = []  # name, analysis, faces, error
    for index, (name, content) in enumerate(photos):
        try:
            analysis = analyse(name, content)
        except FerError as error:
            analysed.append((name, None, (), str(error)))
            continue
        analysed.append((name, analysis, (analysis.whole,) if index in whole_images else analysis.faces, ""))
    crops = np.array(  # (0, 48, 48) when there are none
        [face.crop for _, _, faces, _ in analysed for face in faces], np.uint8
    ).reshape(-1, FACE_SIZE, FACE_SIZE)
    probabilities = classify_faces(model, crops, tta=tta, scaling=scaling)
    maps = explain(model, crops, tta=tta) if saliency else None
    results, start = [], 0
    for name, analysis, faces, error in analysed:
        if analysis is None:
            results.append(PhotoResult(name, error=error))
            continue
        mine = slice(start, start + len(faces))
        start += len(faces)
        image = annotate(analysis.display, faces, probabilities[mine], analysis.scale)
        results.append(PhotoResult(
            name, image, faces, np.asarray(probabilities[mine], np.float32), shrunk=analysis.shrunk,
            saliency=None if maps is None else maps[mine], size=analysis.size,
        ))
    return results


def photo_files(paths: Sequence[str | Path]) -> list[Path]:
    """The photo files to classify, in the order given: each path that is a file, and the
    photos directly in each path that is a folder (:data:`PHOTO_SUFFIXES`, sorted by name).

    Raises FerError for a path that is neither, a folder with no photo in it, or more than
    :data:`MAX_PHOTOS` in all; a file's content is judged when it is read.
    """
    files: list[Path] = []
    for given in map(Path, paths):
        name = shown_path(given)
        try:
            if given.is_dir():
                files += _folder_photos(given)
            elif given.exists():
                files.append(given)
            elif given.is_symlink():
                raise FerError(f"{name}: a symbolic link to nothing (a missing file, or a loop)")
            else:
                raise FerError(f"{name}: no such file or folder")
        except OSError as error:
            raise FerError(f"{name}: can't be read ({error.strerror or error})") from error
        if len(files) > MAX_PHOTOS:
            raise FerError(f"more than {MAX_PHOTOS:,} photos: classify them in parts")
    return files


def _folder_photos(folder: Path) -> list[Path]:
    found = []
    for count, path in enumerate(folder.iterdir(), 1):  # lazily: a huge folder stops at the limit
        if count > MAX_PHOTOS:
            raise FerError(f"{shown_path(folder)}: more than {MAX_PHOTOS:,} entries: give a folder of photos")
        if path.suffix.lower() in PHOTO_SUFFIXES and path.is_file():
            found.append(path)
    if not found:
        raise FerError(f"{shown_path(folder)}: no photos in this folder ({', '.join(sorted(PHOTO_SUFFIXES))})")
    return sorted(found)


def read_photo(path: Path) -> bytes:
    """A photo file's bytes. Raises FerError for something that is not a regular file (a FIFO
    would block) or is larger than :data:`PHOTO_FILE_MAX_BYTES`."""
    name = shown_path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise FerError(f"{name}: not a regular file")
        if info.st_size > PHOTO_FILE_MAX_BYTES:
            raise FerError(f"{name}: {info.st_size:,} bytes, more than a photo can be ({PHOTO_FILE_MAX_BYTES:,})")
        with path.open("rb") as file:
            return file.read(PHOTO_FILE_MAX_BYTES + 1)[:PHOTO_FILE_MAX_BYTES]  # a file grown since is cut, and judged
    except OSError as error:
        raise FerError(f"{name}: can't be read ({error.strerror or error})") from error


def classify_files(
    model: keras.Model,
    files: Sequence[Path],
    *,
    whole: bool = False,
    tta: str = "none",
    scaling: Scaling = Scaling(),
    progress: Callable[[float, str], None] | None = None,
) -> Iterator[PhotoResult]:
    """:func:`classify_in_batches` over photo files on disk (:func:`read_photo`), each named by its path."""
    readers = [(shown_path(path), partial(read_photo, path)) for path in files]
    return classify_in_batches(model, readers, whole=whole, tta=tta, scaling=scaling, progress=progress)


def classify_in_batches(
    model: keras.Model,
    readers: Sequence[tuple[str, Callable[[], bytes]]],
    *,
    whole: bool = False,
    tta: str = "none",
    scaling: Scaling = Scaling(),
    progress: Callable[[float, str], None] | None = None,
) -> Iterator[PhotoResult]:
    """:func:`classify_photos` over ``(name, read)`` photos, one :class:`PhotoResult` per photo
    in order. Photos are read and classified :data:`PHOTOS_PER_CALL` at a time, so memory holds
    one batch whatever their number; a photo whose ``read`` raises FerError gets its error.
    ``whole`` classifies every photo as one face (a folder of face crops); ``tta`` and
    ``scaling`` are :func:`fer.inference.classify_faces`'.
    """
    for start in range(0, len(readers), PHOTOS_PER_CALL):
        read: list[tuple[str, bytes | FerError]] = []
        for name, reader in readers[start : start + PHOTOS_PER_CALL]:
            try:
                read.append((name, reader()))
            except FerError as error:
                read.append((name, error))
        given = [(name, content) for name, content in read if isinstance(content, bytes)]
        whole_images = range(len(given)) if whole else ()
        results = iter(classify_photos(model, given, whole_images=whole_images, tta=tta, scaling=scaling))
        for name, content in read:
            yield next(results) if isinstance(content, bytes) else PhotoResult(name, error=str(content))
        if progress:
            done = min(start + PHOTOS_PER_CALL, len(readers))
            progress(done / len(readers), f"{done:,}/{len(readers):,} photos")


def shown_path(path: Path) -> str:
    """A path as text that prints and goes into a CSV on any terminal: bytes that are no UTF-8 as
    U+FFFD, and a name holding a newline or another control character quoted."""
    text = os.fsencode(path).decode("utf-8", errors="replace")
    return text if text.isprintable() else repr(text)


def results_table(results: Sequence[PhotoResult]) -> pd.DataFrame:
    """Every face of every photo as one row (:data:`RESULT_COLUMNS`), faces numbered from 1 as
    in the pictures; photos with an error or no face have no rows. Columns are there when empty."""
    return pd.DataFrame(
        [row for result in results for row in _rows(result.name, result.faces, result.probabilities)],
        columns=list(RESULT_COLUMNS),
    )


def _rows(file: str, faces: Sequence[Face], probabilities: np.ndarray) -> list[dict[str, Any]]:
    return [
        {"file": file, "face": number, **face_columns(face, row), "whole_image": bool(face.whole_image)}
        for number, (face, row) in enumerate(zip(faces, probabilities), start=1)
    ]


def face_columns(face: Face, probabilities: np.ndarray) -> dict[str, Any]:
    """What a results table says of one classified face: its box and tilt, top emotion and
    probability, and every emotion's probability (the columns a photo's and a video's tables share)."""
    emotion, probability = top_emotion(probabilities)
    x, y, w, h = (int(v) for v in face.box)
    tilt = None if face.tilt is None else round(face.tilt, 1)
    return {
        "box_x": x, "box_y": y, "box_width": w, "box_height": h, "tilt": tilt,
        "emotion": emotion, "probability": probability,
        **{name: float(p) for name, p in zip(CLASSES, probabilities)},
    }


def answer_shares(table: pd.DataFrame) -> pd.DataFrame:
    """Per emotion, in :data:`fer.vocab.CLASSES` order, over the classified faces of a results
    table (its rows: :func:`face_columns`): of how many it was the answer (``faces``), that as a
    share of them (``share``), and its mean probability over them (``mean_probability``, which
    credits an emotion that is often second too). What a room of faces, or a video, shows most."""
    counts = table["emotion"].value_counts().reindex(list(CLASSES), fill_value=0).to_numpy()
    return pd.DataFrame({
        "emotion": list(CLASSES),
        "faces": counts,
        "share": counts / max(1, len(table)),
        "mean_probability": [float(table[emotion].mean()) if len(table) else 0.0 for emotion in CLASSES],
    })


def _in_photo_pixels(face: Face, shrunk: int) -> Face:
    """A face found in a photo decoded at 1/``shrunk`` size, with its box in the photo's own pixels."""
    if shrunk == 1:
        return face
    return replace(face, box=tuple(v * shrunk for v in face.box))
