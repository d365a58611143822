"""CPU inference speed of the default model: per face, and a 1- and a 12-megapixel photo end to end.

    python -m benchmarks.inference_speed [--model artifacts/reference/<run>/model.keras] [--repeats 30]

Per face: :func:`fer.inference.classify_faces` on batches of 1 and of 64 real sample faces,
with and without flip TTA (the default model's recipe uses it). A photo: a 1280x800 JPEG
with one sample face (upscaled to 256 px) on a noisy background, from its bytes through
decoding, face detection (YuNet where its model file is found, else Haar), the 48x48 crop and
the model, to probabilities: :func:`fer.photos.classify_photos`. A 4000x3000 phone photo with
the face at 512 px is timed the same way: it pays YuNet's second, windowed search
(:data:`fer.faces.YUNET_FINE_SCALE`). Times are medians after a warm-up call; the target for
the 1-megapixel photo is 100 ms. A video: a 60-second 1280x720 clip at 30 frames a second (MPEG-4
part 2, as OpenCV writes it) with the same face moving slowly across it, sampled every 0.5 s
(:func:`fer.video.analyse_video`: decoding all 1,800 frames, detection in 120) and its 120
faces classified (:func:`fer.video.classify_video`); medians of 3.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from benchmarks.private_test import default_model
from fer import data, video
from fer.faces import active_detector
from fer.inference import classify_faces, load_classifier
from fer.photos import classify_photos
from fer.vocab import TTA


def median_ms(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up: graph tracing, caches
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def photo_bytes(face: np.ndarray, height: int = 800, width: int = 1280, side: int = 256) -> bytes:
    """A JPEG holding one face of ``side`` px at its centre, as a phone photo might (gray noise around it)."""
    rng = np.random.default_rng(0)
    canvas = rng.integers(90, 140, (height, width), dtype=np.uint8)
    top, left = (height - side) // 2, (width - side) // 2
    canvas[top : top + side, left : left + side] = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".jpg", cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def video_file(face: np.ndarray, path: Path, seconds: int = 60, fps: int = 30, side: int = 256) -> Path:
    """A 1280x720 clip of one face of ``side`` px drifting left to right over gray noise."""
    rng = np.random.default_rng(0)
    background = rng.integers(90, 140, (720, 1280), dtype=np.uint8)
    grown = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (1280, 720))
    for index in range(seconds * fps):
        frame = background.copy()
        left = 100 + index * (1280 - 200 - side) // (seconds * fps)
        frame[232 : 232 + side, left : left + side] = grown
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    path = args.model or default_model()
    model = load_classifier(path)
    faces = data.load_sample().images[:64]
    print(f"model {path} ({path.stat().st_size / 1e6:.2f} MB); detector {active_detector().name}")
    print("| what | ms |\n|---|---:|")
    for tta in TTA:
        for batch in (1, 64):
            ms = median_ms(lambda: classify_faces(model, faces[:batch], tta=tta), args.repeats)
            print(f"| {batch} face(s), {tta} TTA: per face | {ms / batch:.2f} |")
    photos = {"1-megapixel JPEG (1280x800)": (800, 1280, 256), "12-megapixel JPEG (4000x3000)": (3000, 4000, 512)}
    for what, shape in photos.items():
        photo = [("photo.jpg", photo_bytes(faces[3], *shape))]
        results = classify_photos(model, photo, tta="shift")
        assert not results[0].error and len(results[0].faces) == 1, results[0].error or "no face found"
        ms = median_ms(lambda: classify_photos(model, photo, tta="shift"), args.repeats)
        print(f"| {what}, bytes to probabilities (1 face found, shift TTA) | {ms:.1f} |")
    with tempfile.TemporaryDirectory() as scratch:
        clip = video_file(faces[3], Path(scratch) / "clip.mp4")
        analysis = video.analyse_video("clip.mp4", clip)
        found = sum(bool(faces) for faces in analysis.faces)
        ms = median_ms(lambda: video.analyse_video("clip.mp4", clip), 3)
        print(f"| 60-s 720p video: reading it, and finding the face in 1 frame per 0.5 s ({found}/{len(analysis.times)}) | {ms:,.0f} |")
        for tta in TTA:
            ms = median_ms(lambda: video.classify_video(model, analysis, tta=tta), 3)
            print(f"| its {found} faces classified, {tta} TTA | {ms:,.0f} |")


if __name__ == "__main__":
    main()
