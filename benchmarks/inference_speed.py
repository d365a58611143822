"""CPU inference speed of the default model: per face, and a 1-megapixel photo end to end.

    python -m benchmarks.inference_speed [--model artifacts/reference/<run>/model.keras] [--repeats 30]

Per face: :func:`fer.inference.classify_faces` on batches of 1 and of 64 real sample faces,
with and without flip TTA (the default model's recipe uses it). A photo: a 1280x800 JPEG
with one sample face (upscaled to 256 px) on a noisy background, from its bytes through
decoding, face detection (YuNet where its model file is found, else Haar), the 48x48 crop and
the model, to probabilities: :func:`fer.photos.classify_photos`. Times are medians after a
warm-up call; the target for the photo is 100 ms.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from fer import data, store
from fer.faces import active_detector
from fer.inference import classify_faces, load_classifier
from fer.photos import classify_photos


def median_ms(call: Callable[[], object], repeats: int) -> float:
    call()  # warm-up: graph tracing, caches
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def photo_bytes(face: np.ndarray) -> bytes:
    """A 1-megapixel JPEG holding one face, as a phone photo might (gray noise around it)."""
    rng = np.random.default_rng(0)
    canvas = rng.integers(90, 140, (800, 1280), dtype=np.uint8)
    canvas[272:528, 512:768] = cv2.resize(face, (256, 256), interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".jpg", cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def default_model() -> Path:
    with_models = [run for run in store.reference_runs() if run.model_path.exists()]
    if not with_models:
        raise SystemExit("no reference run with a model: give --model")
    return max(with_models, key=lambda run: run.metrics()["test_accuracy"]).model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    path = args.model or default_model()
    model = load_classifier(path)
    faces = data.load_sample().images[:64]
    photo = [("photo.jpg", photo_bytes(faces[3]))]
    print(f"model {path} ({path.stat().st_size / 1e6:.2f} MB); detector {active_detector().name}")
    print("| what | ms |\n|---|---:|")
    for tta in (False, True):
        for batch in (1, 64):
            ms = median_ms(lambda: classify_faces(model, faces[:batch], flip_tta=tta), args.repeats)
            print(f"| {batch} face(s){' + flip TTA' if tta else ''}: per face | {ms / batch:.2f} |")
    results = classify_photos(model, photo, flip_tta=True)
    assert not results[0].error and len(results[0].faces) == 1, results[0].error or "no face found"
    ms = median_ms(lambda: classify_photos(model, photo, flip_tta=True), args.repeats)
    print(f"| 1-megapixel JPEG, bytes to probabilities (1 face found, flip TTA) | {ms:.1f} |")


if __name__ == "__main__":
    main()
