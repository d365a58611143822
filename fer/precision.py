"""The Keras precision policy for a run, chosen from the hardware and set only inside a context.

bfloat16 pays where the hardware computes it natively: on a GPU, and on CPUs with AMX or
AVX512-BF16 (mixed bf16 trained the compact networks 1.3-1.4x faster than float32 with
TensorFlow on an AMX Xeon: ``benchmarks/README.md``). Elsewhere
(AMD EPYC without it, older Intel) bf16 is emulated and slower than float32, so ``auto``
never assumes either.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras

from fer.hardware import cpu_supports_bf16


def on_gpu() -> bool:
    """Whether the Keras backend sees a GPU."""
    return any(device.split(":")[0].lower() in ("gpu", "cuda") for device in keras.distribution.list_devices())


def resolve_precision(precision: str) -> str:
    """The Keras policy name for a run's ``precision`` setting (:data:`fer.vocab.PRECISIONS`)."""
    if precision != "auto":
        return precision
    return "mixed_bfloat16" if on_gpu() or cpu_supports_bf16() else "float32"


@contextmanager
def precision_policy(policy: str) -> Iterator[str]:
    """Set Keras' global dtype policy for the block and restore the previous one after it."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy)
    try:
        yield policy
    finally:
        keras.mixed_precision.set_global_policy(previous)
