"""Training img/s on 1 and on 2 devices with keras.distribution.DataParallel (JAX backend).

    python -m benchmarks.data_parallel [--arch fer_cnn] [--batch-size 128] [--steps 20] [--virtual-cpus 2]

Each device count runs in its own process (JAX fixes its devices when it starts). Without a
GPU, ``--virtual-cpus N`` splits the CPU into N XLA host devices: that shows the data-parallel
path working and what it costs, not a speed-up, since the virtual devices share the same
cores. On a machine with GPUs, leave it at 0 to use them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

MEASURE = """
import sys, keras
from benchmarks.timing import fit_images_per_second
from fer.models import build_model
arch, batch, steps, devices = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
available = keras.distribution.list_devices()[:devices]
if devices > 1:
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=available))
model = build_model(arch, augment="crop_flip", seed=0)
model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True), loss="categorical_crossentropy")
print(f"{fit_images_per_second(model, batch, steps):.0f} {','.join(available)}")
"""


def images_per_second(arch: str, batch: int, steps: int, devices: int, virtual_cpus: int) -> tuple[float, str]:
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    if virtual_cpus:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={virtual_cpus}"
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, arch, str(batch), str(steps), str(devices)],
        capture_output=True, text=True, env=env, check=True,
    )
    rate, names = done.stdout.split()[-2:]
    return float(rate), names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="fer_cnn")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--virtual-cpus", type=int, default=2)
    args = parser.parse_args()
    print(f"{args.arch}, global batch {args.batch_size}, {args.steps} steps, JAX"
          f"{f', {args.virtual_cpus} virtual CPU devices' if args.virtual_cpus else ''}")
    print("| devices | img/s | device names |\n|---:|---:|---|")
    for devices in (1, 2):
        rate, names = images_per_second(args.arch, args.batch_size, args.steps, devices, args.virtual_cpus)
        print(f"| {devices} | {rate:,.0f} | {names} |", flush=True)


if __name__ == "__main__":
    main()
