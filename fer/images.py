"""Turning image files into the 48x48 grayscale faces every model in the project expects.

One function does the conversion for both the dataset importers and the Classify page, so a
face cropped from a user's photo goes through exactly the preprocessing the training images did.
"""

from __future__ import annotations

import cv2
import numpy as np

from fer.errors import FerError

FACE_SIZE = 48


def to_face(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """Convert a decoded image (gray, BGR or BGRA) to a 48x48 uint8 grayscale face.

    Returns the face and whether anything had to change (colour dropped or size changed), so
    importers can report how many images were not already in FER2013's format.
    """
    converted = False
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code) if image.shape[2] in (3, 4) else image[..., 0]
        converted = True
    if image.dtype != np.uint8:
        # 16-bit PNGs and the like: scale the value range down to 8 bits.
        image = cv2.normalize(image, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
        converted = True
    if image.shape != (FACE_SIZE, FACE_SIZE):
        shrinking = image.shape[0] > FACE_SIZE or image.shape[1] > FACE_SIZE
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        image = cv2.resize(image, (FACE_SIZE, FACE_SIZE), interpolation=interpolation)
        converted = True
    return np.ascontiguousarray(image), converted


def decode_face(data: bytes, name: str) -> tuple[np.ndarray, bool]:
    """Decode image file bytes straight to a 48x48 face; ``name`` only labels the error."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise FerError(f"{name}: not a readable image file")
    return to_face(image)


def decode_photo(data: bytes, name: str) -> np.ndarray:
    """Decode a user's photo to BGR, turned upright by its EXIF orientation.

    OpenCV applies EXIF orientation when it decodes to colour; alpha is dropped and
    grayscale files come back as three equal channels, so callers see one format.
    """
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise FerError(f"{name}: not an image OpenCV can read (jpg, png, webp or bmp expected)")
    return image
