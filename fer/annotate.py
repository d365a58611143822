"""Drawing classification results for people to look at: photos resized for display, each face's
box and label in its emotion's colour, face crops shown big, and what drove each prediction
as a heat map over its crop.

Kept apart from classifying (:mod:`fer.inference`) and from the photo pipeline (:mod:`fer.photos`)
so that what is computed and how it is shown change independently. The colours are
:data:`fer.vocab.CLASS_COLORS`, the charts' own, so drawing a photo loads neither Plotly nor
pandas nor Keras.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from fer.errors import FerError
from fer.faces import Face
from fer.images import resized
from fer.inference import top_emotion
from fer.vocab import CLASS_COLORS

DISPLAY_MAX_SIDE = 1280
"""Photos whose longer side is above this are shrunk to it for display (boxes scale with them)."""
DISPLAY_MIN_SIDE = 320
"""Photos whose longer side is below this (a 48x48 FER crop) are enlarged to it for display, so
the label stays readable; pixels are repeated, not smoothed, so the face looks as it is."""


def display_scale(height: int, width: int) -> float:
    """Factor a photo is resized by for display: down to DISPLAY_MAX_SIDE, up to DISPLAY_MIN_SIDE."""
    longest = max(height, width)
    if longest > DISPLAY_MAX_SIDE:
        return DISPLAY_MAX_SIDE / longest
    if longest < DISPLAY_MIN_SIDE:
        return DISPLAY_MIN_SIDE / longest
    return 1.0


def display_image(photo: np.ndarray) -> tuple[np.ndarray, float]:
    """An RGB copy of a BGR, BGRA or grayscale photo resized for display, and the factor it was
    resized by (:func:`display_scale`). This is all of a photo the Classify page needs to keep."""
    if photo.ndim == 2 or photo.shape[2] == 1:
        image = cv2.cvtColor(photo.reshape(photo.shape[:2]), cv2.COLOR_GRAY2RGB)
    else:
        image = cv2.cvtColor(photo, cv2.COLOR_BGRA2RGB if photo.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    scale = display_scale(*image.shape[:2])
    return resized(image, scale, shrink=cv2.INTER_AREA, grow=cv2.INTER_NEAREST), scale


def annotate(image: np.ndarray, faces: Sequence[Face], probabilities: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """A copy of an RGB display image with each face's box and label (number, top emotion, its
    probability) in the emotion's colour; a leveled face's box is drawn turned, as it was cut.
    Boxes are in the photo's pixels; ``scale`` is display pixels per photo pixel (as
    :func:`display_image` returns it).

    Line width and text size follow the displayed image's size; ``image`` is not modified.
    """
    if len(faces) != len(probabilities):
        raise FerError(f"{len(faces)} faces but {len(probabilities)} rows of probabilities")
    image = image.copy()
    height, width = image.shape[:2]
    longest = max(height, width)
    thickness = max(2, round(longest / 320))
    for number, (face, row) in enumerate(zip(faces, probabilities), start=1):
        color = CLASS_COLORS[top_emotion(row)[0]]
        x, y, w, h = (round(v * scale) for v in face.box)
        corner = (x, y)
        if face.leveled:  # the square that was cut, turned with the face; the label on its top corner
            corners = np.round(cv2.boxPoints(((x + w / 2, y + h / 2), (w, h), face.tilt))).astype(np.int32)
            cv2.polylines(image, [corners], True, color, thickness, cv2.LINE_AA)
            corner = tuple(int(v) for v in corners[corners[:, 1].argmin()])
        else:
            cv2.rectangle(image, (x, y), (min(width - 1, x + w - 1), min(height - 1, y + h - 1)), color, thickness)
        _label(image, face_label(number, row), corner, color, thickness)
    return image


def _label(image: np.ndarray, text: str, corner: tuple[int, int], color: tuple[int, int, int], thickness: int) -> None:
    """``text`` on a band of ``color`` above a box's top-left ``corner``, or inside the box when
    there is no room above; dark or light ink, whichever reads better on the band."""
    height, width = image.shape[:2]
    longest = max(height, width)
    font_scale = max(0.5, longest / 1100)
    text_thickness = max(1, round(longest / 600))
    x, y = corner
    (text_w, text_h), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, text_thickness)
    pad = max(2, text_h // 4)
    box_h = text_h + baseline + 2 * pad
    top = y - box_h if y - box_h >= 0 else min(y + thickness, max(0, height - box_h))
    left = max(0, min(x, width - text_w - 2 * pad))
    cv2.rectangle(image, (left, top), (left + text_w + 2 * pad, top + box_h), color, cv2.FILLED)
    ink = (0, 0, 0) if sum(c * k for c, k in zip(color, (0.299, 0.587, 0.114))) > 140 else (255, 255, 255)
    cv2.putText(
        image, text, (left + pad, top + pad + text_h), cv2.FONT_HERSHEY_SIMPLEX, font_scale, ink,
        text_thickness, cv2.LINE_AA,
    )


def face_label(number: int, probabilities: np.ndarray) -> str:
    """What is written on a face's box, e.g. ``1 happy 87%``."""
    emotion, probability = top_emotion(probabilities)
    return f"{number} {emotion} {probability:.0%}"


def enlarged(crop: np.ndarray, factor: int = 4) -> np.ndarray:
    """A face crop shown bigger with its pixels repeated (no smoothing): what the model saw."""
    return cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)


SALIENCY_OPACITY = (0.2, 0.65)
"""How much of the heat map covers the face where nothing mattered and where most did: the face
stays readable under the blue, and the red stands out."""


def saliency_overlay(crop: np.ndarray, saliency: np.ndarray, factor: int = 4) -> np.ndarray:
    """A face crop enlarged as by :func:`enlarged`, as RGB, with its occlusion map (its row of
    :func:`fer.saliency.occlusion_maps`) blended over it as a heat map: red where hiding the
    region lowered the predicted emotion's probability most, blue where it did not lower it.

    The map is scaled to its own largest drop, so every face shows where its evidence lies, and
    smoothed as it is enlarged: it is an average over overlapping patches, blocky at the patch
    stride, and no finer than that. Regions that spoke against the prediction show as blue, like
    those that did nothing.
    """
    if crop.shape != saliency.shape:
        raise FerError(f"a {crop.shape} crop needs a map of the same shape, not {saliency.shape}")
    face = cv2.cvtColor(enlarged(crop, factor), cv2.COLOR_GRAY2RGB)
    heat = cv2.resize(np.clip(saliency, 0, None).astype(np.float32), face.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    heat = cv2.GaussianBlur(heat, (0, 0), sigmaX=2 * factor)
    peak = float(heat.max())
    levels = heat / peak if peak > 0 else heat
    colors = cv2.applyColorMap(np.round(levels * 255).astype(np.uint8), cv2.COLORMAP_JET)
    low, high = SALIENCY_OPACITY
    opacity = (low + (high - low) * levels)[..., None]
    return np.round(face * (1 - opacity) + cv2.cvtColor(colors, cv2.COLOR_BGR2RGB) * opacity).astype(np.uint8)
