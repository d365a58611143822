"""Training throughput of the study's networks, and seconds per epoch of a real scenario.

Keras: this project's own models (uint8 faces in, preprocessing and the fused random affine
inside the jitted train step, mixed bfloat16 on a GPU) trained by ``model.fit`` on random faces,
timed after a warm-up fit that pays the compilation. PyTorch, where it is installed (as on the
GPU machine): the same networks written out in :mod:`benchmarks.torch_models` (same layers,
same parameter count) in a plain loop with bf16 autocast, channels_last and cuDNN autotuning,
on random tensors already on the device and without augmentation - the obvious alternative,
given every advantage - in a process of its own, away from JAX's CUDA libraries.

    python -m benchmarks.train_throughput                                   # VGG19 and ResNet50 at 48x48, batch 128 and 512
    python -m benchmarks.train_throughput --steps-per-execution 1 8        # does per-step dispatch limit it?
    python -m benchmarks.train_throughput --epoch-scenario S2 --data full   # plus a real epoch of S2
    python -m benchmarks.train_throughput --models cnn vgg19 --batch-sizes 8 --steps 2 --warmup 1 \\
        --input-size 32 --epoch-scenario S2 --data sample                  # a quick check on a CPU

Prints one table; the ratio column is Keras img/s over PyTorch img/s for the same model and batch.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import keras

from benchmarks.timing import fit_images_per_second
from fer import runs
from fer.models import build_model
from fer.paths import artifacts_at, dataset_cache_path
from fer.precision import on_gpu, precision_policy, resolve_precision
from fer.scenarios import scenario

TABLE_HEADER = "| model | batch | steps per execution | Keras img/s | PyTorch img/s | Keras / PyTorch |\n|---|---:|---:|---:|---:|---:|"


def keras_images_per_second(
    arch: str, batch: int, steps: int, warmup: int, input_size: int, steps_per_execution: int = 1
) -> float:
    model = build_model(arch, input_size=input_size, augment="study", seed=0)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy", metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    return fit_images_per_second(model, batch, steps, warmup)


def torch_images_per_second(arch: str, batch: int, steps: int, warmup: int, input_size: int) -> float | None:
    """img/s of the plain PyTorch loop (:func:`benchmarks.torch_models.images_per_second`), in a
    process of its own so that PyTorch's CUDA libraries never meet JAX's; None without PyTorch,
    for a compact CNN, or when the loop fails (said on stderr: the Keras numbers still count)."""
    if arch not in ("vgg19", "resnet50") or importlib.util.find_spec("torch") is None:
        return None
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "benchmarks.torch_models", arch, str(batch), "--steps", str(steps),
               "--warmup", str(warmup), "--input-size", str(input_size)]
    result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        print(f"PyTorch loop for {arch} at batch {batch} failed:\n{result.stderr[-2000:]}", file=sys.stderr)
        return None
    return float(result.stdout.split()[-1])


def scenario_epoch_seconds(name: str, data: str, input_size: int, batch: int) -> tuple[float, float, int]:
    """Train a scenario for 2 epochs in a scratch artifacts folder (so the run stays out of the
    user's list); the second epoch's training and evaluation seconds, and its training images."""
    imported = dataset_cache_path()
    if data == "full" and not imported.exists():
        raise SystemExit("no imported FER2013: run `python -m fer data import SOURCE` first, or use --data sample")
    with tempfile.TemporaryDirectory() as scratch, artifacts_at(Path(scratch)):
        if data == "full":
            dataset_cache_path().parent.mkdir(parents=True)
            os.symlink(imported, dataset_cache_path())
        run = runs.start(scenario(name, epochs=2, data=data, input_size=input_size, batch_size=batch), background=False)
        if run.state != "completed":
            raise SystemExit(f"{name} run {run.state}: {run.status.get('error')}")
        last = run.history().iloc[-1]
        return float(last["train_seconds"]), float(last["eval_seconds"]), int(run.metrics()["train_images"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["vgg19", "resnet50"], choices=["vgg19", "resnet50", "fer_cnn", "cnn"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[128, 512])
    parser.add_argument("--steps-per-execution", nargs="+", type=int, default=[1], help="Keras: steps per jitted call")
    parser.add_argument("--steps", type=int, default=64, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=8, help="steps before timing (compilation)")
    parser.add_argument("--input-size", type=int, default=48)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--epoch-scenario", choices=["S1", "S2", "S3", "S4"], help="also time a real epoch")
    parser.add_argument("--data", default="full", choices=["full", "sample"])
    args = parser.parse_args()

    with precision_policy(resolve_precision("auto")) as policy:
        print(f"backend {keras.backend.backend()}, policy {policy}, {'GPU' if on_gpu() else 'CPU'}, "
              f"{args.input_size}x{args.input_size}")
        print(TABLE_HEADER)
        for row in throughput_rows(args.models, args.batch_sizes, args.steps_per_execution, args.steps, args.warmup,
                                   args.input_size, torch=not args.no_torch):
            print(row, flush=True)
    if args.epoch_scenario:
        batch = args.batch_sizes[0]
        train_s, eval_s, images = scenario_epoch_seconds(args.epoch_scenario, args.data, args.input_size, batch)
        print(f"{args.epoch_scenario} on {args.data} data, batch {batch}, one epoch after the first: {train_s:.1f} s "
              f"training ({images / train_s:,.0f} img/s over {images:,} images) + {eval_s:.1f} s test evaluation")


def throughput_rows(
    models: list[str],
    batch_sizes: list[int],
    steps_per_execution: list[int],
    steps: int,
    warmup: int,
    input_size: int,
    torch: bool = True,
    log: Callable[[str], None] = lambda line: None,
) -> Iterator[str]:
    """One Markdown table row per model, batch and steps per execution, under the precision
    policy already set; the PyTorch loop is timed once per model and batch."""
    for arch in models:
        for batch in batch_sizes:
            log(f"PyTorch {arch} batch {batch}")
            theirs = torch_images_per_second(arch, batch, steps, warmup, input_size) if torch else None
            for per_call in steps_per_execution:
                log(f"Keras {arch} batch {batch}, {per_call} step(s) per execution")
                ours = keras_images_per_second(arch, batch, steps, warmup, input_size, per_call)
                ratio = f"{ours / theirs:.2f}" if theirs else "—"
                yield f"| {arch} | {batch} | {per_call} | {ours:,.0f} | {f'{theirs:,.0f}' if theirs else '—'} | {ratio} |"


if __name__ == "__main__":
    main()
