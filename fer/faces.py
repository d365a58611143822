"""Finding the faces in a user's photo, for the Classify page.

The models only ever saw FER2013's 48x48 grayscale crops, so a photo has to be cut down to
faces framed like those before it is classified. Two detectors can do it, and the rest of the
pipeline (the :class:`Face` type, the crops, the whole-image fallback) is the same for both:

* **YuNet** (``cv2.FaceDetectorYN``, OpenCV's small CNN detector), whenever its model file can
  be had (:mod:`fer.face_model`: ``FER_FACE_MODEL``, the cache folder, or a download on first
  use). Of the first 500 FER2013 test crops upscaled to 192 px on a 384 px canvas it finds 97%
  (93% searched upright only) where Haar finds 79%, in 7 ms instead of 25 (9 ms instead of 80
  for a 1-MP photo with faces), with no false box on 22 face-free images where Haar puts 3
  (``benchmarks/face_detection.py``).
* **Haar** (OpenCV's ``alt2`` frontal-face cascade, inside the OpenCV 4 wheel), when YuNet is
  not available: :func:`detector_note` then tells the user how to get YuNet.

Each detector is wrapped so that it works on the images people actually try: FER-style tight
crops, selfies, group photos and multi-megapixel camera files. Both upscale small images and
shrink large ones. YuNet searches a photo longer than 1280 px a second time at 0.4 of its size,
window by window, so that it finds faces from about 120 px in any photo as decoded (a 12-MP one
included; :data:`YUNET_FINE_SCALE`, :func:`smallest_face`; a JPEG over
:data:`fer.images.PHOTO_MAX_PIXELS` is decoded smaller). Haar also needs a black border to find
a face that fills the image (the ``fer`` PyPI package's plain cascade never finds one). Each
detector's box is turned into a region framed as FER2013 frames its faces; regions are mapped
back to the photo, cut out and converted by :func:`fer.images.photo_face` (48x48 gray, equalized
when its grey levels are not spread as FER2013's), and sorted left to right.

FER2013's faces are roughly upright, and YuNet finds few faces tilted past about 15 degrees. So a
photo is searched again turned both ways (:data:`TILTED_TURNS`; a video frame only when nothing
is found upright), and a face whose eyes YuNet places on a tilted line is turned level before it is cut
(:data:`LEVEL_MIN_TILT`). Of PrivateTest faces in photos turned by 30 degrees, 88% are then found
instead of 40%, and 59% classified right instead of 24% (62% of upright ones; ``benchmarks/tilt.py``).

An image that is already a tight face crop and still yields no detection is taken whole (the
user almost certainly gave us a face); a larger photo with no detection gives no face, and
the UI offers :func:`whole_image_face` (the centre square) instead of guessing. A photo too small to hold a face
worth classifying is refused (:data:`MIN_FACE_PX`).

How the Haar parameters below were chosen: each was varied alone from the final setting, on
the first 500 FER2013 test crops (raw 48x48, and upscaled to 192x192: faces found), on 20
face-free photos (scikit-learn's china.jpg and flower.jpg and two photos of electronics, each
at 0.25x to 4x: false boxes) and on 10 synthetic group photos (1600x1000, five FER faces of
90-260 px pasted on those photos: faces found of 50, false boxes). The final setting scored
412 / 414 FER faces, 1 false box on face-free photos and 46/50 group faces with 2 false boxes
(measured with a 20 px smallest face, before :data:`MIN_FACE_PX` became 24). The YuNet
parameters were measured the same way on the same kinds of images; each constant says how.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from fer import face_model
from fer.errors import FerError
from fer.images import photo_face, resized, to_gray

Box = tuple[float, float, float, float]


class Found(NamedTuple):
    """A detector's face before it is cut: its box (x, y, width, height in the photo's pixels,
    floats, maybe past its edge), the detector's ``support`` for it (YuNet's score, or the
    cascade's merged detections) and, from YuNet, the eye line's ``tilt`` (as :attr:`Face.tilt`)."""

    box: Box
    support: float
    tilt: float | None = None


MIN_FACE_PX = 24
"""Smallest face looked for by either detector, and smallest photo accepted (shorter side), in
the photo's own pixels. A smaller face is upscaled more than 2x to 48x48 and the model's
accuracy falls fast: the default model's on the 3,589 PrivateTest faces shrunk to S px and back
is 0.701 at 48, 0.674 at 32, 0.637 at 24, 0.554 at 20, 0.449 at 16 and 0.341 at 12, where
always answering "happy" scores 0.245 (``python -m benchmarks.face_size``; the first default
model, chosen with: 0.560 at 24 and 0.458 at 20). So a 1x1 image is refused with a reason
rather than "taken whole" and classified."""

TIGHT_CROP_MAX_SIDE = 160
TIGHT_CROP_ASPECT = (0.75, 1.0 / 0.75)
"""An image at most this big on both sides and this close to square is taken for a face crop
(FER2013's own are 48x48): it gives exactly one face, detected or whole."""

LEVEL_MIN_TILT = 10.0
"""A face whose eye line is tilted by at least this many degrees is turned level before it is
cut (YuNet's faces only: Haar finds no eyes). FER2013's faces are roughly upright, and the models
learnt them so; yet not exactly level, and YuNet's eyes are a few degrees off, so leveling every
face costs accuracy on upright ones. Chosen on 1,800 PublicTest faces at 192 px in a 384 px photo
(``python -m benchmarks.tilt --split validation``): the share of them the default model got
right with the photo turned by 0 / 15 / 30 degrees was 0.599 / 0.560 / 0.498 cut as found, 0.596
/ 0.576 / 0.576 leveled from 15 degrees, 0.594 / 0.586 / 0.578 from 10, and 0.589 at 0 leveling
every face. On the 3,589 PrivateTest faces, leveling from 10 degrees cost 0.7 points at 0 and
gave 1.2 / 5.6 / 13.0 / 16.1 points at 10 / 20 / 30 / 40 degrees."""


@dataclass(frozen=True)
class Face:
    """One face of a photo, ready to classify.

    ``box`` is what the UI draws: x, y, width, height in the original photo's pixels, clipped
    to the photo. ``crop`` is the face as the models expect it, made by
    :func:`fer.images.photo_face` so it is preprocessed as the training images were.
    ``whole_image`` says the crop is the whole photo (its centre square when the photo is not
    square, :func:`whole_image_face`): taken whole because no face was detected or the user
    asked, or because the face detected in a tight crop fills it. ``detector`` names the detector that
    found the face ("yunet" or "haar"), None when there was no detection. ``tilt`` is the angle
    of the line through the eyes, in degrees, clockwise as seen (YuNet finds the eyes; None from
    Haar or without a detection): a face tilted by at least :data:`LEVEL_MIN_TILT` was turned
    level before it was cut (:attr:`leveled`), inside the same ``box``.
    """

    box: tuple[int, int, int, int]
    crop: np.ndarray
    whole_image: bool
    detector: str | None = None
    tilt: float | None = None

    @property
    def leveled(self) -> bool:
        """Whether the crop was turned to bring the eyes level (:data:`LEVEL_MIN_TILT`)."""
        return _is_tilted(self.tilt)


@dataclass(frozen=True)
class Detector:
    """YuNet with the ``model`` file, or Haar without one; ``reason`` says in one line where
    the model came from or why Haar is used."""

    reason: str
    model: Path | None = None

    @property
    def name(self) -> str:
        """"yunet" or "haar", as :attr:`Face.detector` says it."""
        return "yunet" if self.model is not None else "haar"


def active_detector() -> Detector:
    """YuNet when its model file is found (or downloaded) and loads, else the Haar fallback."""
    lookup = face_model.find_model()
    if lookup.path is None:
        return Detector(f"no YuNet model: {lookup.source}")
    try:
        _yunet(str(lookup.path))
    except FerError as error:
        return Detector(str(error))
    return Detector(f"YuNet model from {lookup.source}", lookup.path)


def detector_note() -> str | None:
    """A line for the Classify page when faces are found with the Haar fallback, saying how to
    get the better detector; None when YuNet is in use."""
    detector = active_detector()
    if detector.name == "yunet":
        return None
    return (
        "Faces are found with OpenCV's Haar cascade, which misses faces that the YuNet detector finds "
        f"({detector.reason}). For YuNet, download {face_model.MODEL_URL} and set {face_model.MODEL_ENV} "
        f"to its path, or put it in {face_model.cache_dir()}."
    )


def detect_faces(
    photo: np.ndarray,
    *,
    assume_face_if_tight_crop: bool = True,
    detector: Detector | None = None,
    turned_always: bool = True,
) -> list[Face]:
    """Find the faces in a BGR or grayscale uint8 photo, sorted left to right.

    ``detector`` defaults to :func:`active_detector`. YuNet also searches the photo turned by
    :data:`TILTED_TURNS`: always with ``turned_always`` (a tilted head beside upright ones), else
    only when nothing is found upright, one search instead of three for a frame with a face
    (videos). With ``assume_face_if_tight_crop``, a small, roughly square image is taken to be a face crop such as FER2013's own: it gives
    exactly one face, the largest detector box (another is a false detection on a cheek or an
    ear, as Haar made in 1 of the first 2,000 FER2013 test crops), or the whole image
    (:func:`whole_image_face`) when the detector finds nothing. Faces smaller than
    :func:`smallest_face` are often missed. Otherwise no detection means an empty list, and the caller may
    offer :func:`whole_image_face`.

    Raises FerError for anything but a uint8 (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array
    at least MIN_FACE_PX on each side, and when OpenCV has no Haar cascade to fall back to.
    """
    _check_photo(photo)
    detector = detector or active_detector()
    regions = _haar_regions(photo) if detector.model is None else _yunet_regions(photo, detector.model, turned_always)
    tight_crop = assume_face_if_tight_crop and _is_tight_crop(photo)
    if not regions:
        return [whole_image_face(photo)] if tight_crop else []
    if tight_crop:
        regions = [max(regions, key=lambda region: region.box[2] * region.box[3])]
    faces = [_crop_face(photo, region, detector.name) for region in regions]
    return sorted(faces, key=lambda face: (face.box[0], face.box[1]))


def whole_image_face(photo: np.ndarray) -> Face:
    """The photo as one face, for when the user says "this is a face" and the detector
    disagrees (or was not asked): the whole photo when it is square, else its centre square.

    A face crop is square, as FER2013's are and as :func:`_crop_face` cuts them, so a photo of
    another shape is cropped rather than squashed to 48x48 (a 12000x300 strip squashed is a
    streak the model still answers for) or padded (the face shrinks inside invented pixels:
    padding reproduced FER2013's crops worse than moving the crop inside the photo, see
    :func:`_crop_face`). This is for a face close-up, whose face is at its centre. Raises
    FerError for a photo below MIN_FACE_PX.
    """
    _check_photo(photo)
    height, width = photo.shape[:2]
    side = min(height, width)
    x, y = (width - side) // 2, (height - side) // 2
    return Face((x, y, side, side), photo_face(photo[y : y + side, x : x + side]), whole_image=True)


def smallest_face(height: int, width: int, detector: Detector | None = None) -> int:
    """Side, in the photo's pixels, of the smallest face that ``detector`` (default
    :func:`active_detector`) finds about as often as larger ones in a height x width photo.

    With YuNet it is YUNET_SMALLEST_FACE at the finest scale searched: 120 px in any photo
    longer than 1280 px as decoded (a 12-MP photo included), less in smaller ones (60 px in 640x480). With
    Haar it is the cascade's smallest window, MIN_FACE_FRACTION of the shorter side. Never below
    MIN_FACE_PX.
    """
    detector = detector or active_detector()
    if detector.model is None:
        smallest = MIN_FACE_FRACTION * min(height, width)
    else:
        scale = _detection_scale(height, width, YUNET_MIN_SIDE, YUNET_MAX_SIDE)
        smallest = YUNET_SMALLEST_FACE / max(scale, YUNET_FINE_SCALE)
    return max(MIN_FACE_PX, math.ceil(smallest))


def _is_tight_crop(photo: np.ndarray) -> bool:
    """Whether an image is small and square enough to be a face crop rather than a photo."""
    height, width = photo.shape[:2]
    low, high = TIGHT_CROP_ASPECT
    return max(height, width) <= TIGHT_CROP_MAX_SIDE and low <= width / height <= high


# --------------------------------------------------------------------------------------------
# YuNet

YUNET_SCORE_THRESHOLD = 0.7
"""Lowest face score kept, chosen on the benchmark's sets (``benchmarks/face_detection.py``).
At 0.3 / 0.4 / 0.5 / 0.6 / 0.7 / 0.8 / 0.9, YuNet found 493 / 489 / 484 / 477 / 465 / 442 / 276
of the first 500 FER2013 test crops on a 384 px canvas (48 / 41 / 19 of the first 50 at 0.7 /
0.8 / 0.9: the OpenCV Zoo's default 0.9 suits sharp photos, not upscaled 48 px crops) and 75 /
75 / 71 / 68 / 64 / 56 / 14 of 100 group-photo faces. Boxes on things without a face: at 0.3,
on 2 of the 22 face-free images and 3 in the group photos; none from 0.4 up. Elsewhere, 17
face-free photos scored at most 0.58 (``../shared/models/README.md``), so 0.7 keeps a margin
of 0.12 above any score seen without a face."""
YUNET_NMS_THRESHOLD = 0.3
"""OpenCV Zoo's default overlap for merging YuNet's boxes of one face."""
YUNET_MIN_SIDE = 224
"""Images whose shorter side is below this are upscaled to it: first 500 raw 48x48 FER crops
found 339 (not upscaled), 452 (96 px), 458 (128), 453 (144), 469 (192), 479 (224), 475 (256),
455 (320). A black border like Haar's changed nothing (469 / 474 / 469 at 192 px with none /
0.25 / 0.5 of the side), so YuNet gets none."""
YUNET_MAX_SIDE = 512
"""Images whose longer side is above this are shrunk to it: YuNet's time grows with the pixel
count (a 1224x817 photo took 53 ms at full size, 14 ms at 640 and 9 ms at 512), and 1 MP photos
must take at most 15 ms. Small faces are the price: on 20 photos of 1600x1000 with five FER
faces of 90-260 px each, YuNet found 64 / 65 / 78 of 100 at 512 / 576 / 640, with no false
box, and took 14 / 18 / 23 ms on a 1 MP photo without a face (two passes, see below). So a
photo longer than 1280 px is searched a second time, at YUNET_FINE_SCALE."""
YUNET_SHRINK = cv2.INTER_LINEAR
"""How images are shrunk for YuNet: INTER_AREA, as for Haar, took 3.1 ms on a 1 MP photo and
INTER_LINEAR 0.3 ms, and both found 64-65 of the 100 group faces above."""
YUNET_LARGEST_FACE = 320
"""YuNet misses faces much larger than this in its input: 200 FER faces pasted on a 640x480
photo were found 194, 191, 170 and 148 times at 240, 320, 400 and 480 px, and 191 times at 400
and at 480 px when the photo was searched at half its size. So an image whose scaled shorter
side is above this and gives no face is searched again at half the scale (a close-up: 100 FER
faces of 900 px in 1000x1000 photos were found 79 times in one pass, 97 in two)."""
YUNET_MIN_INPUT = 64
"""No search in a scaled image thinner than this (a long strip): at 32 px or less on a side
YuNet returns garbage, such as an infinite box with score 1.0."""
YUNET_FINE_SCALE = 0.4
"""A photo whose detection scale (YUNET_MAX_SIDE) is below this is searched again at this
scale, in windows, so that faces are found by their size in pixels rather than their share of
the photo (YUNET_SMALLEST_FACE). 0.4 is 512 / 1280: a photo up to 1280 px long (a 1-MP
1280x800 one) gets its one pass, as before. It costs time: a 4000x3000 photo took 0.14 s
instead of 0.013 s on a 2-core CPU (0.25 s when the CPU was busy), and at 0.5 1.5-2x as
long again; YuNet's cost grows with the pixels searched."""
YUNET_SMALLEST_FACE = 48
"""Smallest face side, in YuNet's input pixels, found nearly as often as larger faces, so the
smallest face :func:`smallest_face` promises. On 4000x3000 photos holding 40 sample FER faces
each (upscaled from 48 px, on gray; 160 faces in four layouts), faces of 80 / 100 / 120 / 160
px were found 70 / 117 / 133 / 141 times (44 / 73 / 83 / 88%; 120 px is 48 px at 0.4), with
no false or duplicate box, and 200 px ones 0 / 1 / 0 times in the audit's 4000x3000 / 3000x800
/ 12000x300 photos before the second search. Faces of 48 px in YuNet's input were found 88%
of the time in 640x480 (60 px), 1280x800 and 12000x300 photos (120 px) alike, and 192 px
faces in 640x480 photos 91%. Sharp faces, not upscaled from 48 px, may be found smaller."""
YUNET_WINDOW = 1280
"""Longest side of an image YuNet is given at once; a larger scaled photo is searched in
overlapping windows (:func:`_windows`). YuNet's memory grows with its input, about 80 MB per
megapixel: a 16-MP photo searched at YUNET_FINE_SCALE peaks at 190 MB of process memory in
windows, 293 MB in one piece."""
YUNET_WINDOW_OVERLAP = YUNET_LARGEST_FACE
"""Neighbouring windows share at least this many pixels, so that any face YuNet can find lies
whole in one of them."""
YUNET_EDGE_MARGIN = 2
"""A box within this many pixels of a window edge shared with another window is a face cut by
that edge, and is dropped: the neighbouring window holds it whole. On the 4000x3000 photos of
YUNET_SMALLEST_FACE (faces across window edges in each), no face got two boxes."""
YUNET_FRAME = 1.1
"""The crop is a square of this times the geometric mean of YuNet's box sides, on the box's
centre. YuNet's box is narrower than FER2013's framing (it spans the cheeks, not the ears:
median width 0.81 and height 1.02 of the FER crop, centred within 1%), and a square keeps the
face's proportions when it is resized to 48x48. Re-cropping 463 of the first 500 FER2013 test
crops from the 384 px canvas, the mean abs difference to the original was lowest at 1.1 (46.9
grey levels; 48.9 at 1.0, 49.3 at 1.2), and on 939 test faces found by both detectors the
reference CNN's accuracy was 0.526 on these crops, 0.518 on Haar's, 0.491 on YuNet's box
stretched to 48x48 and 0.552 on the originals."""


@functools.lru_cache(maxsize=4)
def _yunet(model: str) -> tuple[cv2.FaceDetectorYN, threading.Lock]:
    """The loaded model, with a lock: one detector changes its input size for each image, and
    Streamlit serves sessions from several threads."""
    if not hasattr(cv2, "FaceDetectorYN"):
        raise FerError(f"OpenCV {cv2.__version__} has no FaceDetectorYN (it needs OpenCV 4.8 or later)")
    try:
        detector = cv2.FaceDetectorYN.create(model, "", (320, 320), YUNET_SCORE_THRESHOLD, YUNET_NMS_THRESHOLD)
    except cv2.error as error:
        raise FerError(f"{model} is not a YuNet model that OpenCV {cv2.__version__} can load") from error
    return detector, threading.Lock()


TILTED_TURNS = (25.0, -25.0)
"""Degrees (counter-clockwise) by which a photo is turned and searched again. YuNet finds ever
fewer faces the more they are tilted: of the 3,589 PrivateTest faces at 192 px in a 384 px photo
turned by 0 / 10 / 20 / 30 / 40 degrees it found 86 / 83 / 68 / 40 / 16% upright, and 90 / 91 /
90 / 88 / 77% with these turns too (``python -m benchmarks.tilt``). They are searched at the
photo's detection scale only, not in YUNET_FINE_SCALE's windows. A photo is searched turned
whatever the upright search found (``detect_faces(turned_always=True)``): in group photos with
heads tilted up to 30 degrees either way, YuNet then found 143 of 200 faces instead of 107, with
no false box, at 40 ms per 1600x1000 photo instead of 17 (``benchmarks/face_detection.py``); a
video frame is searched turned only when nothing is found upright, which keeps a frame with a
face at one search. The turns found no face in the 22 face-free images of that benchmark."""


def _yunet_regions(photo: np.ndarray, model: Path, turned_always: bool) -> list[Found]:
    """YuNet's faces as FER-framed squares in the photo's pixels (floats, maybe past its edge).

    The photo is searched whole at its detection scale (with the close-up retry of
    YUNET_LARGEST_FACE) and, when that scale is below YUNET_FINE_SCALE, again at that scale,
    window by window: one face found by both passes, or by two windows, is kept once. Then it is
    searched turned by each of TILTED_TURNS (``turned_always``, or when all that finds nothing),
    and a face found turned is added where no upright one was: an upright find keeps its box and
    eye line, so turning never changes what the upright search found.
    """
    image = _bgr(photo)
    height, width = image.shape[:2]
    scale = _detection_scale(height, width, YUNET_MIN_SIDE, YUNET_MAX_SIDE)
    found = _yunet_boxes(image, scale, model)
    if not found and min(height, width) * scale > YUNET_LARGEST_FACE:
        found = _yunet_boxes(image, scale / 2, model)
    if scale < YUNET_FINE_SCALE:
        found += _yunet_boxes(image, YUNET_FINE_SCALE, model)
    found = _drop_duplicates(found)
    if turned_always or not found:
        turned = [face for turn in TILTED_TURNS for face in _yunet_boxes(image, scale, model, turn=turn)]
        found = _drop_duplicates(turned, kept=found)
    squares = []
    for face in found:
        x, y, w, h = face.box
        side = YUNET_FRAME * math.sqrt(w * h)
        squares.append(face._replace(box=(x + (w - side) / 2, y + (h - side) / 2, side, side)))
    return [square for square in squares if square.box[2] >= MIN_FACE_PX]


def _yunet_boxes(image: np.ndarray, scale: float, model: Path, *, turn: float = 0.0) -> list[Found]:
    """YuNet's own boxes on the image scaled by ``scale``, in the image's pixels, with their
    scores and tilts. The scaled image is searched in windows (:func:`_windows`), so that
    YuNet's memory is bounded whatever the photo's size.

    With ``turn``, the scaled image is searched turned by that many degrees counter-clockwise
    (:func:`_turned`), and each box is brought back about its centre: the face it frames is
    then turned, its box is not, and its tilt says by how much."""
    scaled = resized(image, scale, shrink=YUNET_SHRINK)
    back = None
    if turn:
        scaled, back = _turned(scaled, turn)
    height, width = scaled.shape[:2]
    found = []
    for y0, y1 in _windows(height):
        for x0, x1 in _windows(width):
            window = np.ascontiguousarray(scaled[y0:y1, x0:x1])
            inner = (x0 > 0, y0 > 0, x1 < width, y1 < height)  # edges shared with another window
            for (x, y, w, h), score, tilt in _yunet_window_boxes(window, model):
                if _touches(inner, (x, y, w, h), window.shape[:2]):
                    continue
                centre = np.array([x + x0 + w / 2, y + y0 + h / 2])
                if back is not None:
                    centre = back[:, :2] @ centre + back[:, 2]
                cx, cy = centre.tolist()
                box = ((cx - w / 2) / scale, (cy - h / 2) / scale, w / scale, h / scale)
                found.append(Found(box, score, tilt + turn))
    return found


def _yunet_window_boxes(window: np.ndarray, model: Path) -> list[Found]:
    """YuNet's boxes, scores and eye-line tilts in one window of a scaled image, in the
    window's pixels. YuNet's landmarks start with the eye on the image's left, then the other."""
    if min(window.shape[:2]) < YUNET_MIN_INPUT:
        return []
    detector, lock = _yunet(str(model))
    with lock:
        detector.setInputSize((window.shape[1], window.shape[0]))
        _, found = detector.detect(window)
    rows = np.zeros((0, 15)) if found is None else found
    return [
        Found((x, y, w, h), score, math.degrees(math.atan2(left_y - right_y, left_x - right_x)))
        for x, y, w, h, right_x, right_y, left_x, left_y, score in rows[:, [0, 1, 2, 3, 4, 5, 6, 7, 14]].tolist()
    ]


def _turned(image: np.ndarray, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The image turned counter-clockwise about its centre, on a canvas that holds all of it
    (the corners filled with its repeated edge), and the 2x3 affine map from the turned image's
    pixels back to the image's."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    turned_width, turned_height = math.ceil(height * sin + width * cos), math.ceil(height * cos + width * sin)
    matrix[:, 2] += ((turned_width - width) / 2, (turned_height - height) / 2)
    turned = cv2.warpAffine(image, matrix, (turned_width, turned_height), borderMode=cv2.BORDER_REPLICATE)
    return turned, cv2.invertAffineTransform(matrix)


def _windows(length: int) -> list[tuple[int, int]]:
    """Spans of at most YUNET_WINDOW px covering [0, length), evenly spread, neighbours sharing
    at least YUNET_WINDOW_OVERLAP px: a face YuNet can find (at most YUNET_LARGEST_FACE) lies
    whole in one of them."""
    if length <= YUNET_WINDOW:
        return [(0, length)]
    count = math.ceil((length - YUNET_WINDOW_OVERLAP) / (YUNET_WINDOW - YUNET_WINDOW_OVERLAP))
    size = math.ceil((length + (count - 1) * YUNET_WINDOW_OVERLAP) / count)
    starts = [round(k * (length - size) / (count - 1)) for k in range(count)]
    return [(start, start + size) for start in starts]


def _touches(inner: tuple[bool, bool, bool, bool], box: Box, shape: tuple[int, ...]) -> bool:
    """Whether a box reaches a window edge that another window shares (``inner``: left, top,
    right, bottom): it is then a face cut by the window, found whole in its neighbour."""
    x, y, w, h = box
    height, width = shape
    margin = YUNET_EDGE_MARGIN
    reached = (x <= margin, y <= margin, x + w >= width - margin, y + h >= height - margin)
    return any(shared and hit for shared, hit in zip(inner, reached))


# --------------------------------------------------------------------------------------------
# Haar

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
"""Images whose shorter side is below this are upscaled to it before Haar detection: raw FER
crops found 378 (not upscaled), 396 (64 px), 405 (96), 406 (112), 412 (144), 410 (192)."""
DETECT_MAX_SIDE = 1280
"""Images whose longer side is above this are shrunk to it before Haar detection: the cascade's
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
MIN_FACE_FRACTION = 0.08
"""Smallest face looked for, as a fraction of the photo's shorter side. Tiny detections in
big photos are mostly false: without this floor, 5 false boxes on the face-free photos and 8
on the group photos (47/50 found); at 0.05, 1 and 4 (47/50); at 0.08, 1 and 2 (46/50); at
0.12, 1 and 2 but 42/50. Skipping the smallest scales also halves the time on large photos."""
DUPLICATE_OVERLAP = 0.6
"""Two boxes are one face when their intersection covers this much of the smaller box."""

CROP_MARGIN = 0.01
"""Fraction of the cascade box's size added on each side, so the crop frames the face as
FER2013 does. Measured on the 412 of the first 500 FER2013 test crops in which a face is found
(detected on the raw crop, re-cropped from it upscaled to 192x192): the box is already almost
FER2013's framing, with a median side of 0.979 of the crop (FER2013 adds about 1% per side)
and its centre 0.5 px of 48 above the crop's. Re-cropping with margins from -4% to +20%
(padding with the repeated edge, so that the crop never saturates at the whole image) gave the
lowest mean abs difference to the original at +1%: 39.7 grey levels, vs 40.0 at 0, 39.9 at
+2%, 41.1 at +4%, 47.8 at +10%, 56.8 at +20%. No vertical shift is applied."""


def _haar_regions(photo: np.ndarray) -> list[Found]:
    """The cascade's faces, duplicates merged, framed with CROP_MARGIN, in the photo's pixels.

    Regions are floats and not clipped: they come from a rescaled, bordered copy of the photo
    and may reach past its edge.
    """
    gray = to_gray(photo)
    height, width = gray.shape
    scale = _detection_scale(height, width, DETECT_MIN_SIDE, DETECT_MAX_SIDE)
    gray = resized(gray, scale, shrink=cv2.INTER_AREA)
    short_side = min(gray.shape)
    min_size = max(math.ceil(MIN_FACE_PX * scale), math.ceil(MIN_FACE_FRACTION * short_side))
    if short_side < min_size:  # smaller than any face looked for: a 24x3000 strip
        return []
    border = round(BORDER_FRACTION * short_side)
    gray = cv2.copyMakeBorder(gray, border, border, border, border, cv2.BORDER_CONSTANT, value=0)
    found, neighbours = _cascade().detectMultiScale2(
        gray, scaleFactor=SCALE_FACTOR, minNeighbors=MIN_NEIGHBORS, minSize=(min_size, min_size)
    )
    candidates = [
        Found(((x - border) / scale, (y - border) / scale, w / scale, h / scale), support)
        for (x, y, w, h), support in zip(
            np.asarray(found, dtype=float).reshape(-1, 4), np.asarray(neighbours, dtype=float).reshape(-1)
        )
    ]
    regions = []
    for face in _drop_duplicates(candidates):
        x, y, w, h = face.box
        margin = (x - CROP_MARGIN * w, y - CROP_MARGIN * h, w * (1 + 2 * CROP_MARGIN), h * (1 + 2 * CROP_MARGIN))
        regions.append(face._replace(box=margin))
    return regions


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


def _drop_duplicates(candidates: list[Found], kept: list[Found] | None = None) -> list[Found]:
    """Keep the best-supported face of each group of heavily overlapping boxes, and none that
    overlaps one already ``kept``: the cascade sometimes reports a face and a box nested inside
    it, and YuNet finds one face in two windows, at two scales or turned both ways."""
    kept = list(kept or [])
    for candidate in sorted(candidates, key=lambda candidate: -candidate.support):
        if all(_overlap_of_smaller(candidate.box, other.box) < DUPLICATE_OVERLAP for other in kept):
            kept.append(candidate)
    return kept


def _overlap_of_smaller(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy / max(1e-9, min(aw * ah, bw * bh))


# --------------------------------------------------------------------------------------------
# Helpers


def _check_photo(photo: object) -> None:
    if not isinstance(photo, np.ndarray):
        raise FerError(f"a photo must be an image array, not {type(photo).__name__}")
    if photo.dtype != np.uint8:
        raise FerError(f"a photo must be 8-bit (uint8), not {photo.dtype}")
    if photo.ndim not in (2, 3) or (photo.ndim == 3 and photo.shape[2] not in (1, 3, 4)):
        raise FerError(f"a photo must be grayscale (H, W) or colour (H, W, 3), not shape {photo.shape}")
    height, width = photo.shape[:2]
    if min(height, width) < MIN_FACE_PX:
        raise FerError(
            f"the photo is {width}x{height} pixels, too small to hold a face that can be classified: "
            f"it needs at least {MIN_FACE_PX} pixels on each side"
        )


def _bgr(photo: np.ndarray) -> np.ndarray:
    """The photo as 3-channel BGR, which YuNet takes."""
    if photo.ndim == 2 or photo.shape[2] == 1:
        return cv2.cvtColor(to_gray(photo), cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(photo, cv2.COLOR_BGRA2BGR) if photo.shape[2] == 4 else photo


def _detection_scale(height: int, width: int, min_side: int, max_side: int) -> float:
    """Upscale small images to ``min_side``, shrink large ones to ``max_side``; the longer side
    never ends above ``max_side`` (a 24x5000 strip is not blown up)."""
    short, long = min(height, width), max(height, width)
    if long > max_side:
        return max_side / long
    if short < min_side:
        return min(min_side / short, max_side / long)
    return 1.0


def _crop_face(photo: np.ndarray, region: Found, detector: str) -> Face:
    """Cut a detector's FER-framed region out of the photo, turned level when its face is
    tilted (:data:`LEVEL_MIN_TILT`).

    A region reaching past the photo's edge is moved back inside it rather than padded or
    squeezed, so the face keeps its proportions and no invented pixels are classified; only a
    region larger than the photo is cut to the photo. On the FER2013 test crops (measured as
    for CROP_MARGIN) this reproduced the originals best: mean abs difference 20.8 grey levels,
    vs 39.7 padding with the repeated edge and 25.5 clipping to the photo. A leveled face is
    turned about the region's centre, so only the corners of its square may reach past the
    photo: they are filled with its repeated edge.
    """
    x, y, w, h = region.box
    height, width = photo.shape[:2]
    x0, x1 = _fit(x, x + w, width)
    y0, y1 = _fit(y, y + h, height)
    box = (x0, y0, x1 - x0, y1 - y0)
    whole = box == (0, 0, width, height)
    if _is_tilted(region.tilt):
        matrix = cv2.getRotationMatrix2D((x0 + box[2] / 2, y0 + box[3] / 2), region.tilt, 1.0)
        matrix[:, 2] -= (x0, y0)
        cut = cv2.warpAffine(photo, matrix, (box[2], box[3]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    else:
        cut = photo[y0:y1, x0:x1]
    return Face(box, photo_face(cut), whole_image=whole, detector=detector, tilt=region.tilt)


def _is_tilted(tilt: float | None) -> bool:
    """Whether a face whose eye line has this tilt is turned level before it is cut."""
    return tilt is not None and abs(tilt) >= LEVEL_MIN_TILT


def _fit(start: float, stop: float, limit: int) -> tuple[int, int]:
    """Integer span of the same length as [start, stop) moved inside [0, limit), at least 1 px."""
    length = min(limit, max(1, round(stop - start)))
    first = min(max(round(start), 0), limit - length)
    return first, first + length
