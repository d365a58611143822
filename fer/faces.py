"""Finding the faces in a user's photo, for the Classify page.

The models only ever saw FER2013's 48x48 grayscale crops, so a photo has to be cut down to
faces framed like those before it is classified. Detection is one of OpenCV's frontal-face
Haar cascades (small, CPU-only, no model download), wrapped so that it works on the images
people actually try: FER-style tight crops (which the plain cascade almost never finds),
selfies, group photos and multi-megapixel camera files.

The usual tool, the ``fer`` PyPI package, runs the default cascade with scaleFactor 1.1,
minNeighbors 5 and minSize 50x50 on the photo as it is. It cannot find a face that fills the
image (no detection window fits around a face touching the border) and never finds one in a
48x48 crop (below minSize). Here the photo is upscaled when small, shrunk when large, given a
black border, and searched with the ``alt2`` cascade; duplicate boxes are merged, boxes are
mapped back to the photo and sorted left to right. ``benchmarks/face_detection.py`` measures
it against that baseline on FER2013 test crops.

An image that is already a tight face crop and still yields no detection is taken whole (the
user almost certainly gave us a face); a larger photo with no detection gives no face, and
the UI offers :func:`whole_image_face` instead of guessing.

How the parameters below were chosen: each was varied alone from the final setting, on the
first 500 FER2013 test crops (raw 48x48, and upscaled to 192x192: faces found), on 20
face-free photos (scikit-learn's china.jpg and flower.jpg and two photos of electronics, each
at 0.25x to 4x: false boxes) and on 10 synthetic group photos (1600x1000, five FER faces of
90-260 px pasted on those photos: faces found of 50, false boxes). The final setting scores
412 / 414 FER faces, 1 false box on face-free photos and 46/50 group faces with 2 false boxes.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass

import cv2
import numpy as np

from fer.errors import FerError
from fer.images import to_face

Box = tuple[float, float, float, float]

CASCADE_FILE = "haarcascade_frontalface_alt2.xml"
"""The ``alt2`` frontal-face cascade rather than the ``default`` one the ``fer`` package uses:
with everything else as below, ``default`` finds a few more FER faces (422 / 425) but puts 20
false boxes on the face-free photos (``alt2``: 1) and finds fewer group faces (43/50, 8 false
boxes); at minNeighbors 5 it still has 15 false boxes. ``alt2`` is also faster."""

CASCADE_DIRS: tuple[str, ...] = (
    getattr(getattr(cv2, "data", None), "haarcascades", ""),  # opencv-python(-headless) 4.x wheels
    "/usr/share/opencv4/haarcascades",  # Debian's opencv-data
    "/usr/share/opencv/haarcascades",
)
"""Where the cascade file is looked for, in order. OpenCV 5's wheels ship neither the files nor
(outside opencv-contrib) ``cv2.CascadeClassifier``."""

DETECT_MIN_SIDE = 144
"""Images whose shorter side is below this are upscaled to it before detection: raw FER crops
found 378 (not upscaled), 396 (64 px), 405 (96), 406 (112), 412 (144), 410 (192)."""
DETECT_MAX_SIDE = 1280
"""Images whose longer side is above this are shrunk to it before detection: the cascade's
cost grows with the pixel count, and faces worth classifying stay far above its 20 px window."""
BORDER_FRACTION = 0.5
"""Black border added on every side, as a fraction of the (scaled) image's shorter side, so a
face that fills the image or touches its edge still fits inside a detection window. FER faces
found: 281 without a border, 392 at 0.25, 402 at 0.35, 412 at 0.5, 407 at 0.75 (and 4 false
boxes instead of 1); a replicated edge found 384, a mid-gray border 386. Equalising the
histogram first found 405 and lost 6 group faces, so it is not done."""
SCALE_FACTOR = 1.1
"""1.05 found 8 more FER faces and 2 more group faces but 6x the false boxes, at 3-4x the time."""
MIN_NEIGHBORS = 3
"""FER faces found: 418 at 2, 412 at 3, 398 at 4, 381 at 5; false boxes on face-free photos:
1, 1, 0, 0. 2 found 3 more group faces (49/50), but had 4x the false boxes with a 0.35 border: the
evidence for it is too thin."""
MIN_FACE_PX = 20
"""Smallest face looked for, in the original photo's pixels: a smaller one would have to be
upscaled more than 2x to reach 48x48 and carries little expression."""
MIN_FACE_FRACTION = 0.08
"""Smallest face looked for, as a fraction of the photo's shorter side. Tiny detections in
big photos are mostly false: without this floor, 5 false boxes on the face-free photos and 8
on the group photos (47/50 found); at 0.05, 1 and 4 (47/50); at 0.08, 1 and 2 (46/50); at
0.12, 1 and 2 but 42/50. Skipping the smallest scales also halves the time on large photos."""
DUPLICATE_OVERLAP = 0.6
"""Two boxes are one face when their intersection covers this much of the smaller box."""

CROP_MARGIN = 0.01
"""Fraction of the detector box's size added on each side before cropping, so the crop frames
the face as FER2013 does. Measured on the 412 of the first 500 FER2013 test crops in which a
face is found (detected on the raw crop, re-cropped from it upscaled to 192x192): the box is
already almost FER2013's framing, with a median side of 0.979 of the crop (FER2013 adds about
1% per side) and its centre 0.5 px of 48 above the crop's. Re-cropping with margins from -4%
to +20% (padding with the repeated edge, so that the crop never saturates at the whole image)
gave the lowest mean abs difference to the original at +1%: 39.7 grey levels, vs 40.0 at 0,
39.9 at +2%, 41.1 at +4%, 47.8 at +10%, 56.8 at +20%. No vertical shift is applied."""

TIGHT_CROP_MAX_SIDE = 160
TIGHT_CROP_ASPECT = (0.75, 1.0 / 0.75)
"""An image at most this big on both sides and this close to square is taken for a face crop
(FER2013's own are 48x48): it gives exactly one face, detected or whole."""


@dataclass(frozen=True)
class Face:
    """One face of a photo, ready to classify.

    ``box`` is what the UI draws: x, y, width, height in the original photo's pixels, clipped
    to the photo. ``crop`` is the face as the models expect it, made by
    :func:`fer.images.to_face` so it is preprocessed exactly as the training images were.
    """

    box: tuple[int, int, int, int]
    crop: np.ndarray
    whole_image: bool  # True when no detector box: the whole image was taken as the face


def detect_faces(photo: np.ndarray, *, assume_face_if_tight_crop: bool = True) -> list[Face]:
    """Find the faces in a BGR or grayscale uint8 photo, sorted left to right.

    With ``assume_face_if_tight_crop``, a small, roughly square image is taken to be a face
    crop such as FER2013's own: it gives exactly one face, the largest detector box (another
    is a false detection on a cheek or an ear, as in 1 of the first 2,000 FER2013 test
    crops), or the whole image when the detector finds nothing. Otherwise no detection means
    an empty list, and the caller may offer :func:`whole_image_face`.

    Raises FerError for anything but a non-empty uint8 (H, W), (H, W, 1), (H, W, 3) or
    (H, W, 4) array, and when OpenCV has no Haar cascade to detect with.
    """
    _check_photo(photo)
    boxes = _detector_boxes(photo)
    tight_crop = assume_face_if_tight_crop and _is_tight_crop(photo)
    if not boxes:
        return [whole_image_face(photo)] if tight_crop else []
    if tight_crop:
        boxes = [max(boxes, key=lambda box: box[2] * box[3])]
    faces = [_crop_face(photo, box) for box in boxes]
    return sorted(faces, key=lambda face: (face.box[0], face.box[1]))


def whole_image_face(photo: np.ndarray) -> Face:
    """The whole photo as one face, for when the user says "this is a face" and the detector
    disagrees (or was not asked)."""
    _check_photo(photo)
    height, width = photo.shape[:2]
    return Face((0, 0, width, height), to_face(photo)[0], whole_image=True)


def _is_tight_crop(photo: np.ndarray) -> bool:
    """Whether an image is small and square enough to be a face crop rather than a photo."""
    height, width = photo.shape[:2]
    low, high = TIGHT_CROP_ASPECT
    return max(height, width) <= TIGHT_CROP_MAX_SIDE and low <= width / height <= high


def _detector_boxes(photo: np.ndarray) -> list[Box]:
    """The cascade's face boxes (x, y, w, h) in the photo's pixels, duplicates merged.

    Boxes are floats and not clipped: they come from a rescaled, bordered copy of the photo
    and may reach past its edge.
    """
    _check_photo(photo)
    gray = _gray(photo)
    height, width = gray.shape
    scale = _detection_scale(height, width)
    if scale != 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        gray = cv2.resize(gray, size, interpolation=interpolation)
    short_side = min(gray.shape)
    min_size = max(math.ceil(MIN_FACE_PX * scale), math.ceil(MIN_FACE_FRACTION * short_side))
    if short_side < min_size:  # smaller than any face looked for: a 1x1 image, a 3000x2 strip
        return []
    border = round(BORDER_FRACTION * short_side)
    gray = cv2.copyMakeBorder(gray, border, border, border, border, cv2.BORDER_CONSTANT, value=0)
    found, neighbours = _cascade().detectMultiScale2(
        gray, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS, minSize=(min_size, min_size)
    )
    candidates = [
        (((x - border) / scale, (y - border) / scale, w / scale, h / scale), support)
        for (x, y, w, h), support in zip(
            np.asarray(found, dtype=float).reshape(-1, 4), np.asarray(neighbours, dtype=float).reshape(-1)
        )
    ]
    return _drop_duplicates(candidates)


# --------------------------------------------------------------------------------------------
# Helpers


def _check_photo(photo: object) -> None:
    if not isinstance(photo, np.ndarray):
        raise FerError(f"a photo must be an image array, not {type(photo).__name__}")
    if photo.dtype != np.uint8:
        raise FerError(f"a photo must be 8-bit (uint8), not {photo.dtype}")
    if photo.ndim not in (2, 3) or (photo.ndim == 3 and photo.shape[2] not in (1, 3, 4)):
        raise FerError(f"a photo must be grayscale (H, W) or colour (H, W, 3), not shape {photo.shape}")
    if photo.shape[0] == 0 or photo.shape[1] == 0:
        raise FerError("the photo is empty (0 pixels)")


def _gray(photo: np.ndarray) -> np.ndarray:
    if photo.ndim == 2:
        return photo
    if photo.shape[2] == 1:
        return photo[..., 0]
    code = cv2.COLOR_BGRA2GRAY if photo.shape[2] == 4 else cv2.COLOR_BGR2GRAY
    return cv2.cvtColor(photo, code)


def _detection_scale(height: int, width: int) -> float:
    """Upscale small images to DETECT_MIN_SIDE, shrink large ones to DETECT_MAX_SIDE; the
    longer side never ends above DETECT_MAX_SIDE (a 1x5000 strip is not blown up 144-fold)."""
    short, long = min(height, width), max(height, width)
    if long > DETECT_MAX_SIDE:
        return DETECT_MAX_SIDE / long
    if short < DETECT_MIN_SIDE:
        return min(DETECT_MIN_SIDE / short, DETECT_MAX_SIDE / long)
    return 1.0


@functools.lru_cache(maxsize=1)
def _cascade() -> cv2.CascadeClassifier:
    if not hasattr(cv2, "CascadeClassifier"):
        raise FerError(
            f"OpenCV {cv2.__version__} has no Haar cascades (OpenCV 5 moved them out of the main "
            "package): install opencv-python-headless<5 for face detection"
        )
    for folder in CASCADE_DIRS:
        path = os.path.join(folder, CASCADE_FILE) if folder else ""
        if path and os.path.isfile(path):
            cascade = cv2.CascadeClassifier(path)
            if not cascade.empty():
                return cascade
    raise FerError(f"{CASCADE_FILE} not found with OpenCV {cv2.__version__}: install opencv-python-headless<5")


def _drop_duplicates(
    candidates: list[tuple[Box, float]],
) -> list[Box]:
    """Keep the best-supported box (most merged detections) of each group of heavily
    overlapping ones: the cascade sometimes reports a face and a box nested inside it."""
    kept: list[Box] = []
    for box, _ in sorted(candidates, key=lambda candidate: -candidate[1]):
        if all(_overlap_of_smaller(box, other) < DUPLICATE_OVERLAP for other in kept):
            kept.append(box)
    return kept


def _overlap_of_smaller(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy / max(1e-9, min(aw * ah, bw * bh))


def _crop_face(photo: np.ndarray, box: Box) -> Face:
    """Cut the face out with the FER-style margin.

    A region reaching past the photo's edge is moved back inside it rather than padded or
    squeezed, so the face keeps its proportions and no invented pixels are classified; only a
    region larger than the photo is cut to the photo. On the FER2013 test crops (measured as
    for CROP_MARGIN) this reproduced the originals best: mean abs difference 20.8 grey levels,
    vs 39.7 padding with the repeated edge and 25.5 clipping to the photo.
    """
    x, y, w, h = box
    height, width = photo.shape[:2]
    x0, x1 = _fit(x - CROP_MARGIN * w, x + w + CROP_MARGIN * w, width)
    y0, y1 = _fit(y - CROP_MARGIN * h, y + h + CROP_MARGIN * h, height)
    return Face((x0, y0, x1 - x0, y1 - y0), to_face(photo[y0:y1, x0:x1])[0], whole_image=False)


def _fit(start: float, stop: float, limit: int) -> tuple[int, int]:
    """Integer span of the same length as [start, stop) moved inside [0, limit), at least 1 px."""
    length = min(limit, max(1, round(stop - start)))
    first = min(max(round(start), 0), limit - length)
    return first, first + length
