"""Face detection, YuNet vs Haar as ``fer.faces`` runs them: faces found, false boxes, speed.

    python -m benchmarks.face_detection [--n 500] [--source PATH]

Sets of images, each run through ``fer.faces.detect_faces`` with each detector:

* FER2013 test crops upscaled to 192 px and centred on a 384 px gray canvas (the first 50 and
  the first N), and the raw 48x48 crops: a hit is an image in which the detector found a face
  (the tight-crop fallback, which takes a crop whole when nothing is found, is not counted).
  The ``fer`` PyPI package's detector (OpenCV's default cascade, scaleFactor 1.1, minNeighbors
  5, minSize 50x50, on the image as given; emulated here) is the baseline.
* Face-free images, synthesised here (gradients, noise, textures, shapes, text) and
  scikit-learn's two sample photos, at sizes from 96 px to 2 megapixels: any box is false.
* Group photos: five FER faces of 90-260 px pasted on each of ten 1600x1000 photos, found
  when a box overlaps the pasted face (IoU > 0.3); other boxes are false. Then forty more, their
  faces each turned by up to 30 degrees either way (heads tilted in a group).
* Milliseconds per 1-megapixel photo: the face-free images of about 1 MP, and the group
  photos shrunk to 1280x800.

Uses ``../shared/datasets/fer2013/test.parquet`` (beside the repository) when it is there,
else the shipped sample's test images (and says so). Timings are the best of three runs of
each image (a shared machine's other jobs only ever add time).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from sklearn.datasets import load_sample_image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fer import face_model  # noqa: E402
from fer.data import load_sample  # noqa: E402
from fer.errors import FerError  # noqa: E402
from fer.faces import CASCADE_DIRS, Detector, Face, detect_faces  # noqa: E402
from fer.sources import read_source  # noqa: E402
from fer.vocab import USAGES  # noqa: E402

DEFAULT_SOURCE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fer2013" / "test.parquet"
FIRST = 50  # the numbers are for the first 50 test images
MEGAPIXEL = 1_000_000
REPEATS = 3
TILTED_GROUP_DEGREES = 30.0
Box = tuple[float, float, float, float]
Finder = Callable[[np.ndarray], list[Face]]


@functools.lru_cache(maxsize=1)
def default_cascade() -> cv2.CascadeClassifier:
    """The cascade the ``fer`` package uses (``fer.faces`` uses the ``alt2`` one)."""
    name = "haarcascade_frontalface_default.xml"
    for folder in CASCADE_DIRS:
        if folder and os.path.isfile(os.path.join(folder, name)):
            return cv2.CascadeClassifier(os.path.join(folder, name))
    raise FerError(f"{name} not found in {', '.join(filter(None, CASCADE_DIRS))}")


def baseline_finds(image: np.ndarray) -> bool:
    """The ``fer`` package's detector: the default cascade on the grayscale image."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return len(default_cascade().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(50, 50))) > 0


def load_faces(n: int, source: Path) -> tuple[np.ndarray, str]:
    if source.exists():
        images = read_source(source).images[:n]
        return images, f"first {len(images)} images of {source}"
    sample = load_sample()
    images = sample.images[sample.usage != USAGES.index("Training")][:n]
    return images, f"{source} not found: using the shipped sample's {len(images)} test images instead"


def on_canvas(face: np.ndarray) -> np.ndarray:
    """A 48x48 face upscaled to 192 px, centred on a 384 px mid-gray canvas."""
    canvas = np.full((384, 384), 128, np.uint8)
    canvas[96:288, 96:288] = cv2.resize(face, (192, 192), interpolation=cv2.INTER_LINEAR)
    return canvas


# --------------------------------------------------------------------------------------------
# Images without faces and group photos


def face_free_images() -> dict[str, np.ndarray]:
    """22 images without a face, named with their size: synthetic and real, 96 px to 2 MP."""
    rng = np.random.default_rng(0)
    china, flower = _sample_photo("china.jpg"), _sample_photo("flower.jpg")
    mp = (1155, 866)
    images = {
        "gradient": _gradient(640, 480),
        "radial gradient": _radial(*mp),
        "uniform noise": rng.integers(0, 256, (480, 640, 3), dtype=np.uint8),
        "clouds (blurred noise)": _clouds(rng, *mp, sigma=15),
        "small clouds": _clouds(rng, 150, 150, sigma=6),
        "checkerboard": _checkerboard(800, 600),
        "stripes": _stripes(1000, 1000),
        "circles": _shapes(rng, *mp, "circle"),
        "rectangles": _shapes(rng, 640, 480, "rectangle"),
        "lines": _shapes(rng, 1280, 720, "line"),
        "ellipses on clouds": _shapes(rng, *mp, "ellipse"),
        "text": _text(*mp),
        "blank": np.full((1200, 1600, 3), 128, np.uint8),
        "china.jpg": china,
        "flower.jpg": flower,
        "china.jpg, 1 MP": _resized(china, (1224, 817)),
        "flower.jpg, 1 MP": _resized(flower, (1224, 817)),
        "china.jpg, 2 MP": _resized(china, (1732, 1156)),
        "china.jpg, 200 px crop": china[100:300, 200:400],
        "flower.jpg, 96 px crop": flower[150:246, 250:346],
        "china.jpg, 160 px": _resized(china, (160, 107)),
        "flower.jpg, 320 px": _resized(flower, (320, 213)),
    }
    return {f"{name} {image.shape[1]}x{image.shape[0]}": image for name, image in images.items()}


def group_photos(faces: np.ndarray, max_tilt: float = 0.0) -> list[tuple[np.ndarray, list[Box]]]:
    """1600x1000 photos (china.jpg and flower.jpg in turn) with five faces each of 90-260 px
    pasted left to right at random heights, each turned by up to ``max_tilt`` degrees either
    way (its edges repeated into the corners), and the pasted squares."""
    rng = np.random.default_rng(1)
    backgrounds = [_resized(_sample_photo(name), (1600, 1000)) for name in ("china.jpg", "flower.jpg")]
    photos = []
    for number in range(len(faces) // 5):
        photo, boxes, x = backgrounds[number % 2].copy(), [], 20
        for face in faces[5 * number : 5 * number + 5]:
            side = int(rng.integers(90, 261))
            y = int(rng.integers(0, 1000 - side))
            pasted = _resized(face, (side, side))
            if max_tilt:  # drawn only then, so the upright photos stay those measured before tilted ones were
                turn = cv2.getRotationMatrix2D((side / 2, side / 2), float(rng.uniform(-max_tilt, max_tilt)), 1.0)
                pasted = cv2.warpAffine(pasted, turn, (side, side), borderMode=cv2.BORDER_REPLICATE)
            photo[y : y + side, x : x + side] = pasted[..., None]
            boxes.append((x, y, side, side))
            x += side + int(rng.integers(20, 60))
        photos.append((photo, boxes))
    return photos


def _sample_photo(name: str) -> np.ndarray:
    """One of scikit-learn's two sample photos (a temple, a flower; 640x427), as BGR."""
    return cv2.cvtColor(load_sample_image(name), cv2.COLOR_RGB2BGR)


def _resized(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    shrinking = size[0] < image.shape[1]
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)


def _gradient(width: int, height: int) -> np.ndarray:
    return np.tile(np.linspace(0, 255, width), (height, 1)).astype(np.uint8)


def _radial(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[:height, :width]
    r = np.hypot(x - width / 2, y - height / 2)
    return (255 * r / r.max()).astype(np.uint8)


def _clouds(rng: np.random.Generator, width: int, height: int, sigma: float) -> np.ndarray:
    blurred = cv2.GaussianBlur(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), (0, 0), sigma)
    return cv2.normalize(blurred, None, 0, 255, cv2.NORM_MINMAX)


def _checkerboard(width: int, height: int, square: int = 40) -> np.ndarray:
    y, x = np.mgrid[:height, :width]
    return (((x // square + y // square) % 2) * 255).astype(np.uint8)


def _stripes(width: int, height: int, period: int = 30) -> np.ndarray:
    y, x = np.mgrid[:height, :width]
    return (127 + 127 * np.sin(2 * np.pi * (x + 0.5 * y) / period)).astype(np.uint8)


def _shapes(rng: np.random.Generator, width: int, height: int, shape: str) -> np.ndarray:
    """Random filled circles or rectangles, lines, or ellipse outlines on blurred noise."""
    if shape == "ellipse":
        canvas = _clouds(rng, width, height, 30)
    else:
        canvas = np.full((height, width, 3), 200, np.uint8)
    for _ in range(40):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        x, y = int(rng.integers(width)), int(rng.integers(height))
        if shape == "circle":
            cv2.circle(canvas, (x, y), int(rng.integers(10, height // 6)), colour, -1)
        elif shape == "rectangle":
            corner = (x + int(rng.integers(20, width // 4)), y + int(rng.integers(20, height // 4)))
            cv2.rectangle(canvas, (x, y), corner, colour, -1)
        elif shape == "line":
            end = (int(rng.integers(width)), int(rng.integers(height)))
            cv2.line(canvas, (x, y), end, colour, int(rng.integers(1, 8)))
        else:
            axes = (int(rng.integers(10, width // 5)), int(rng.integers(10, height // 5)))
            cv2.ellipse(canvas, (x, y), axes, float(rng.integers(180)), 0, 360, colour, int(rng.integers(2, 6)))
    return canvas


def _text(width: int, height: int) -> np.ndarray:
    canvas = np.full((height, width), 245, np.uint8)
    line = "Facial emotion recognition 0123456789 "
    for number, y in enumerate(range(40, height, 45)):
        cv2.putText(canvas, line[number % 10 :] + line, (20, y), cv2.FONT_HERSHEY_SIMPLEX, 1.1, 20, 2)
    return canvas


# --------------------------------------------------------------------------------------------
# Measuring


def timed(images: list[np.ndarray], find: Finder) -> tuple[list[list[Face]], float]:
    """Each image's faces and the mean over images of the best of REPEATS runs, in ms."""
    results, best = [], []
    for image in images:
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            faces = find(image)
            times.append(time.perf_counter() - start)
        results.append(faces)
        best.append(min(times))
    return results, float(np.mean(best)) * 1000


def detected(faces: list[Face]) -> list[Face]:
    """The faces a detector found (not a tight crop taken whole for lack of one)."""
    return [face for face in faces if face.detector is not None]


def iou(a: Box, b: Box) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    return ix * iy / (aw * ah + bw * bh - ix * iy)


def group_counts(results: list[list[Face]], photos: list[tuple[np.ndarray, list[Box]]]) -> tuple[int, int]:
    """Pasted faces found (each counted once), and boxes on no pasted face."""
    found, false = set(), 0
    for number, (faces, (_, pasted)) in enumerate(zip(results, photos)):
        for face in detected(faces):
            overlaps = [iou(face.box, box) for box in pasted]
            if max(overlaps) > 0.3:
                found.add((number, int(np.argmax(overlaps))))
            else:
                false += 1
    return len(found), false


def rows(faces: np.ndarray, finders: list[Finder]) -> list[list[str]]:
    """The table: what each row measures, the baseline's cell, then one cell per finder."""
    canvas = [on_canvas(face) for face in faces]
    fer_sets = {
        f"FER test crops on a 384 px canvas, first {len(canvas[:FIRST])}": canvas[:FIRST],
        f"FER test crops on a 384 px canvas, first {len(canvas)}": canvas,
        f"raw 48x48 FER test crops, first {len(faces)}": list(faces),
    }
    table = [
        [f"{name}: faces found", f"{sum(map(baseline_finds, images))}/{len(images)}", *(found_in(images, f) for f in finders)]
        for name, images in fer_sets.items()
    ]
    free = list(face_free_images().values())
    megapixel = [image for image in free if 0.9 <= image.shape[0] * image.shape[1] / MEGAPIXEL <= 1.2]
    photos = group_photos(faces[-50:])
    shrunk = [(_resized(photo, (1280, 800)), [tuple(v * 0.8 for v in box) for box in boxes]) for photo, boxes in photos]
    tilted = group_photos(faces[-200:], max_tilt=TILTED_GROUP_DEGREES)
    table += [
        [f"face-free images ({len(free)}): images with a box (boxes)", "", *(false_boxes(free, f) for f in finders)],
        ["group photos 1600x1000, 50 faces: found, false boxes", "", *(in_groups(photos, f) for f in finders)],
        ["same at 1280x800 (1 MP): found, false boxes, ms per photo", "", *(in_groups(shrunk, f, True) for f in finders)],
        [
            f"group photos 1600x1000, 200 faces tilted up to {TILTED_GROUP_DEGREES:g} degrees either way: found, false "
            "boxes, ms per photo", "", *(in_groups(tilted, f, True) for f in finders),
        ],
        [
            f"face-free images of about 1 MP ({len(megapixel)}): ms per photo",
            "",
            *(f"{timed(megapixel, f)[1]:.1f} ms" for f in finders),
        ],
    ]
    return table


def found_in(images: list[np.ndarray], find: Finder) -> str:
    """Images with a detected face, and ms per image."""
    results, ms = timed(images, find)
    return f"{sum(bool(detected(faces)) for faces in results)}/{len(images)}, {ms:.1f} ms"


def false_boxes(images: list[np.ndarray], find: Finder) -> str:
    """Images with a detected face, and (in brackets) all boxes: on face-free images, all false."""
    results, _ = timed(images, find)
    return f"{sum(bool(detected(faces)) for faces in results)} ({sum(len(detected(faces)) for faces in results)})"


def in_groups(photos: list[tuple[np.ndarray, list[Box]]], find: Finder, with_time: bool = False) -> str:
    results, ms = timed([photo for photo, _ in photos], find)
    found, false = group_counts(results, photos)
    return f"{found}/{sum(len(boxes) for _, boxes in photos)}, {false}" + (f", {ms:.1f} ms" if with_time else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="number of FER2013 test crops (default 500)")
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="FER2013 test parquet")
    args = parser.parse_args()
    lookup = face_model.find_model()
    if lookup.path is None:
        raise SystemExit(f"no YuNet model to benchmark: {lookup.source}")
    haar, yunet = Detector("benchmark"), Detector("benchmark", lookup.path)
    finders = {  # as photos are searched, and YuNet as video frames are (turned only when nothing is found upright)
        "Haar (`fer.faces`)": functools.partial(detect_faces, detector=haar),
        "YuNet (`fer.faces`)": functools.partial(detect_faces, detector=yunet),
        "YuNet, turned only if none (video frames)": functools.partial(detect_faces, detector=yunet, turned_always=False),
    }
    faces, description = load_faces(args.n, args.source)
    for find in finders.values():  # load each detector before timing it
        find(on_canvas(faces[0]))
    print(f"{description}; YuNet model from {lookup.source}; OpenCV {cv2.__version__}, {cv2.getNumThreads()} threads\n")
    print("| set | baseline (`fer` package) | " + " | ".join(finders) + " |")
    print("|---|---:|" + "---:|" * len(finders))
    for row in rows(faces, list(finders.values())):
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
