"""Turning image files into the 48x48 grayscale faces every model in the project expects.

One function does the conversion for both the dataset importers and the Classify page, so a
face cropped from a user's photo goes through exactly the preprocessing the training images did
(and, as FER2013's makers histogram-equalized its faces, one more step brings a photo's face to
their spread of grey levels: :func:`photo_face`);
its colour-to-gray step and the resizing of photos (:func:`to_gray`, :func:`resized`) serve the
face detectors and the display too.

Image files come from users (uploads, zips, parquet blobs), so nothing is decoded before its
header says how big it is: a 390 KB PNG can declare 20,000x20,000 pixels and decode to more than
a gigabyte. The header is read here (:func:`image_size`) rather than by OpenCV, which has no call
for it (its ``IMREAD_REDUCED_*`` flags shrink JPEGs while decoding, but decode a PNG whole
first), or by Pillow, which the project does not depend on and whose idea of a file's format
need not be OpenCV's. Only the four formats the project accepts are read (JPEG, PNG, WebP,
BMP), each recognised by the signature OpenCV uses to pick its decoder and measured from the
fields that decoder reads, so the size checked is the size OpenCV goes on to decode; any other
file is refused.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import cv2
import numpy as np

from fer.errors import FerError

FACE_SIZE = 48

FACE_IMAGE_MAX_SIDE = 2048
"""Largest width or height of a dataset image (FER2013's are 48x48). A bigger one is refused
before it is decoded; at this size the worst a dataset file can decode to (16-bit RGBA) is 32 MB."""

PHOTO_MAX_PIXELS = 16_000_000
"""Largest photo decoded at full size (a 12-megapixel phone photo is, as 36 MB of BGR). A larger
JPEG is decoded shrunk by 2, 4 or 8: libjpeg scales while it decodes, so the full size is never
in memory, and detection and display shrink photos far more than that anyway. PNG, WebP and BMP
decoders can't shrink while decoding, so a larger photo in those formats is refused."""

FORMATS = ("jpg", "png", "webp", "bmp")
"""The image formats read, by the name users know them by."""

_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start-of-frame markers (not DHT, JPG, DAC)
_JPEG_SEQUENTIAL = frozenset({0xC0, 0xC1})  # baseline and extended sequential (Huffman) frames
_JPEG_MAX_MARKERS = 10_000  # real files have tens before the frame header; stop a crafted one early
_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}


def to_face(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """Convert a decoded image (gray, BGR or BGRA) to a 48x48 uint8 grayscale face.

    Returns the face and whether anything had to change (bit depth, colour or size), so
    importers can report how many images were not already in FER2013's format.
    """
    converted = False
    if image.dtype != np.uint8:
        image = to_8bit(image)
        converted = True
    if image.ndim == 3:
        image = to_gray(image)
        converted = True
    if image.shape != (FACE_SIZE, FACE_SIZE):
        shrinking = image.shape[0] > FACE_SIZE or image.shape[1] > FACE_SIZE
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        image = cv2.resize(image, (FACE_SIZE, FACE_SIZE), interpolation=interpolation)
        converted = True
    return np.ascontiguousarray(image), converted


FER2013_MIN_STD = 70.0
FER2013_MEAN_RANGE = (110.0, 170.0)
"""How FER2013's faces spread their grey levels: its makers histogram-equalized them, so a
Training face's levels cover 0-255 almost evenly (the median face has a mean of 128.7 and a
standard deviation of 74.7; 99% have a standard deviation of at least 72.8 and a mean from 115.6
to 166.3). A face from a photo outside these bounds is equalized by :func:`photo_face`."""


def photo_face(image: np.ndarray) -> np.ndarray:
    """A face cut from a user's photo as the models expect it: :func:`to_face`, then
    histogram-equalized (``cv2.equalizeHist``) unless its grey levels are already spread as
    FER2013's are (:data:`FER2013_MIN_STD`, :data:`FER2013_MEAN_RANGE`).

    Why: the models learnt from equalized faces only, and a face in an ordinary photo is flatter,
    darker or brighter. On the 3,589 PrivateTest faces made so at 192 px (``benchmarks.robustness``,
    shift TTA) the default model lost 4.2 points at a camera-like exposure (x0.85, contrast x0.65),
    7.7 at half the light and 6.5 at half the contrast; equalized, it lost 0.9, 1.1 and 0.7.
    Equalizing every crop would cost a point on faces already like FER2013's (equalizing a 48x48
    face twice changes it; measured with flip TTA), so those are left as they are: of those 3,589
    faces brought to 192 px and back, 52 are equalized, and the accuracy goes from 0.7005 to
    0.6988. The dataset importers use :func:`to_face` alone: FER2013's faces are equalized
    already, and a run's test faces must stay the ones it was scored on.
    """
    face = to_face(image)[0]
    low, high = FER2013_MEAN_RANGE
    if face.std() >= FER2013_MIN_STD and low <= face.mean() <= high:
        return face
    return cv2.equalizeHist(face)


def to_gray(image: np.ndarray) -> np.ndarray:
    """A gray, BGR or BGRA image as gray ``(H, W)``: the one place colour becomes gray, so the
    face detectors look at the same gray pixels that :func:`to_face` gives the models. A gray
    image comes back as it is; of one with 1 or 2 channels (gray, and alpha), the first."""
    if image.ndim == 2:
        return image
    if image.shape[2] in (3, 4):
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    return image[..., 0]


def resized(image: np.ndarray, scale: float, *, shrink: int = cv2.INTER_AREA, grow: int = cv2.INTER_LINEAR) -> np.ndarray:
    """The image scaled by ``scale``, each side rounded and at least 1 px; the image itself at 1.

    Shrinking and enlarging want different interpolations (``shrink``: INTER_AREA averages the
    pixels merged, so nothing aliases; ``grow``: INTER_LINEAR is smooth, INTER_NEAREST shows
    the pixels as they are), and each caller knows which it wants for which.
    """
    if scale == 1.0:
        return image
    height, width = image.shape[:2]
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=shrink if scale < 1 else grow)


def to_8bit(image: np.ndarray) -> np.ndarray:
    """Pixels scaled by their type's range, never by the image's own minimum and maximum, so a
    grey stays the grey it was (a constant 16-bit image does not turn black, a low-contrast one
    is not stretched).

    uint16 keeps its top 8 bits (``v >> 8``), which is also what OpenCV gives when it reads a
    16-bit PNG as 8-bit. Floating-point images are taken to be in [0, 1], the convention of
    OpenCV and scikit-image for float images: values are clipped to it (NaN counts as 0) and
    scaled to 0..255. Other pixel types are refused.
    """
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if np.issubdtype(image.dtype, np.floating):
        return np.rint(np.clip(np.nan_to_num(image, nan=0.0), 0.0, 1.0) * 255).astype(np.uint8)
    raise FerError(f"unsupported pixel type {image.dtype}: 8- or 16-bit integer or 0..1 float images expected")


def image_size(data: bytes, name: str) -> tuple[str, int, int]:
    """The format (``jpg``, ``png``, ``webp`` or ``bmp``), width and height an image file
    declares, read from its header without decoding it; ``name`` only labels the error.

    Raises FerError for an empty file, any other format, or a header that is cut short.
    """
    if not data:
        raise FerError(f"{name}: empty file (0 bytes), not an image")
    readers = {"png": _png_size, "jpg": _jpeg_size, "webp": _webp_size, "bmp": _bmp_size}
    kind = photo_format(data)
    if kind is None:
        raise FerError(f"{name}: not a readable image ({', '.join(FORMATS[:-1])} or {FORMATS[-1]} expected)")
    try:
        width, height = readers[kind](data)
    except (struct.error, ValueError, IndexError) as error:
        raise FerError(f"{name}: not a readable image (its {kind} header is damaged or cut short)") from error
    if width < 1 or height < 1:
        raise FerError(f"{name}: not a readable image (its {kind} header says {width}x{height} pixels)")
    return kind, width, height


def decode_face(data: bytes, name: str) -> tuple[np.ndarray, bool]:
    """Decode a dataset image file straight to a 48x48 face (see :func:`to_face`); ``name`` only
    labels the error. Files above :data:`FACE_IMAGE_MAX_SIDE` are refused before decoding."""
    _, width, height = image_size(data, name)
    if max(width, height) > FACE_IMAGE_MAX_SIDE:
        raise FerError(
            f"{name}: {width}x{height} pixels, too large for a face image "
            f"(at most {FACE_IMAGE_MAX_SIDE} pixels a side; FER2013's are {FACE_SIZE}x{FACE_SIZE})"
        )
    return to_face(_decode(data, cv2.IMREAD_UNCHANGED, name))


def decode_photo(data: bytes, name: str) -> tuple[np.ndarray, int]:
    """Decode a user's photo to BGR, turned upright by its EXIF orientation, and say by how much
    it was shrunk while decoding (1, or 2, 4 or 8 for a JPEG above :data:`PHOTO_MAX_PIXELS`).

    OpenCV applies EXIF orientation when it decodes to colour; alpha is dropped and grayscale
    files come back as three equal channels, so callers see one format. A photo too large to
    decode within the limit is refused before decoding.
    """
    kind, width, height = image_size(data, name)
    large = width * height > PHOTO_MAX_PIXELS
    shrinkable = large and kind == "jpg" and _jpeg_shrinkable(data)
    shrink = 1
    while shrinkable and width * height > PHOTO_MAX_PIXELS * shrink**2 and shrink < 8:
        shrink *= 2
    if width * height > PHOTO_MAX_PIXELS * shrink**2:
        limit = PHOTO_MAX_PIXELS / 1e6
        unshrinkable = " (this one is progressive or multi-scan, which can't be)" if kind == "jpg" and not shrinkable else ""
        raise FerError(
            f"{name}: {width}x{height} pixels ({width * height / 1e6:,.0f} megapixels) is too large to open: "
            f"the limit is {limit:.0f} megapixels, or {limit * 64:,.0f} for a JPEG decoded shrunk{unshrinkable}; "
            "save a smaller copy"
        )
    return _decode(data, _REDUCED[shrink], name), shrink


def _decode(data: bytes, flags: int, name: str) -> np.ndarray:
    try:
        with opencv_warnings_off():
            image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error as error:
        raise FerError(f"{name}: not a readable image (OpenCV could not decode it)") from error
    if image is None or image.size == 0:
        raise FerError(f"{name}: not a readable image (its data is damaged or cut short)")
    return image


_OPENCV_LOG_LEVEL = threading.Lock()


@contextmanager
def opencv_warnings_off() -> Iterator[None]:
    """OpenCV's own warnings off for the block: a damaged file already gets one clear error from
    us, and OpenCV's ``[ WARN:0] grfmt_png.cpp ... incomplete`` on stderr before it is noise.
    The level is process-wide, so the lock keeps two threads from restoring each other's."""
    logging = cv2.utils.logging
    with _OPENCV_LOG_LEVEL:
        level = logging.getLogLevel()
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)
        try:
            yield
        finally:
            logging.setLogLevel(level)


def photo_format(data: bytes) -> str | None:
    """The format whose signature the file starts with, as OpenCV recognises it."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"BM"):
        return "bmp"
    return None


def _png_size(data: bytes) -> tuple[int, int]:
    if data[12:16] != b"IHDR":  # the first chunk, always
        raise ValueError("no IHDR chunk")
    return struct.unpack_from(">II", data, 16)


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int]]:
    """``(marker, offset of its length field)`` of each header segment, walking the markers as
    libjpeg does, up to and including the first scan's (SOS)."""
    position = 2
    for _ in range(_JPEG_MAX_MARKERS):
        position = data.index(b"\xff", position)
        while data[position] == 0xFF:  # fill bytes
            position += 1
        marker = data[position]
        position += 1
        if marker == 0x00 or marker == 0x01 or 0xD0 <= marker <= 0xD9:  # stuffed byte, TEM, RSTn, SOI, EOI
            continue
        yield marker, position
        if marker == 0xDA:
            return
        (length,) = struct.unpack_from(">H", data, position)
        position += length
    raise ValueError("no scan within the first markers")


def _jpeg_size(data: bytes) -> tuple[int, int]:
    """The first start-of-frame header's size."""
    for marker, position in _jpeg_segments(data):
        if marker == 0xDA:
            break
        if marker in _JPEG_SOF:
            height, width = struct.unpack_from(">HH", data, position + 3)
            return width, height
    raise ValueError("image data before the frame header")


def _jpeg_shrinkable(data: bytes) -> bool:
    """Whether libjpeg decodes the file shrunk within the memory of the shrunk image: a
    sequential frame whose first scan holds every component. A progressive or multi-scan JPEG
    buffers every coefficient of the full-size image first (a 9 KB file declaring 32000x32000
    pixels took 6.9 GB), so it only opens within the plain pixel limit."""
    frame: tuple[int, int] | None = None  # (SOF marker, number of components)
    try:
        for marker, position in _jpeg_segments(data):
            if marker in _JPEG_SOF and frame is None:
                frame = marker, data[position + 7]
            elif marker == 0xDA:
                return frame is not None and frame[0] in _JPEG_SEQUENTIAL and data[position + 2] == frame[1]
    except (struct.error, ValueError, IndexError):  # cut short before its first scan
        pass
    return False


def _webp_size(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: 14-bit sizes after the key frame's start code
        if data[23:26] != b"\x9d\x01\x2a":
            raise ValueError("no VP8 start code")
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: 14-bit sizes minus one after the signature byte
        (bits,) = struct.unpack_from("<I", data, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit canvas sizes minus one
        if len(data) < 30:
            raise ValueError("cut short")
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    raise ValueError(f"unknown WebP chunk {chunk!r}")


def _bmp_size(data: bytes) -> tuple[int, int]:
    (header,) = struct.unpack_from("<I", data, 14)
    if header == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        return struct.unpack_from("<HH", data, 18)
    width, height = struct.unpack_from("<ii", data, 18)
    return width, abs(height)  # a negative height is a top-down bitmap
