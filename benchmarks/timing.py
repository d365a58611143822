"""The one way the benchmarks time training: ``model.fit`` on random faces after a warm-up."""

from __future__ import annotations

import time

import keras
import numpy as np


def fit_images_per_second(model: keras.Model, batch: int, steps: int, warmup: int = 3, repeats: int = 3) -> float:
    """Training img/s of a compiled model over ``steps`` batches of random uint8 faces, timed
    after ``warmup`` batches have paid for tracing and compilation: the best of ``repeats``
    timed fits. Why the best: on the 2-core development VM one short fit in a few ran at half
    speed, whatever the model (187 against 347-390 img/s), which made every configuration look
    alike; the best of three is the speed the machine gives when nothing else takes a core.
    """
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (batch * steps, 48, 48, 1), dtype=np.uint8)
    targets = np.eye(7, dtype="float32")[rng.integers(0, 7, batch * steps)]
    model.fit(faces[: batch * warmup], targets[: batch * warmup], batch_size=batch, epochs=1, verbose=0)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(faces, targets, batch_size=batch, epochs=1, verbose=0, shuffle=False)
        seconds.append(time.perf_counter() - start)
    return batch * steps / min(seconds)
