"""Training img/s on this CPU by precision and augmentation, and why bf16 + augmentation was slow.

    python -m benchmarks.cpu_precision [--arch fer_cnn] [--steps 20] [--batch-size 128]

Trains this project's model with ``model.fit`` on random faces for each precision policy
(float32, mixed_bfloat16) and augmentation (none, crop_flip, study), timed after a warm-up fit,
and prints one table. ``fer.hardware.cpu_supports_bf16`` says whether the CPU has AMX or
AVX512-BF16, which is when ``precision=auto`` picks bf16.
"""

from __future__ import annotations

import argparse

import keras

from benchmarks.timing import fit_images_per_second
from fer.hardware import cpu_name, cpu_supports_bf16
from fer.models import build_model
from fer.precision import precision_policy


def images_per_second(arch: str, augment: str, policy: str, batch: int, steps: int) -> float:
    with precision_policy(policy):
        model = build_model(arch, augment=augment, seed=0)
        model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True), loss="categorical_crossentropy")
        return fit_images_per_second(model, batch, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="fer_cnn")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--augment", nargs="+", default=["none", "crop_flip", "study"])
    args = parser.parse_args()
    print(f"{cpu_name()}; bf16 support (AMX or AVX512-BF16): {cpu_supports_bf16()}; Keras {keras.__version__} "
          f"on {keras.backend.backend()}; {args.arch}, batch {args.batch_size}, {args.steps} steps")
    print("| augmentation | float32 img/s | mixed_bfloat16 img/s |\n|---|---:|---:|")
    for augment in args.augment:
        rates = [images_per_second(args.arch, augment, policy, args.batch_size, args.steps)
                 for policy in ("float32", "mixed_bfloat16")]
        print(f"| {augment} | {rates[0]:.0f} | {rates[1]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
