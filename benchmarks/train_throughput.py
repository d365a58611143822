"""Training throughput of the study's networks, and seconds per epoch of a real scenario.

Keras: this project's own models (uint8 faces in, preprocessing and the fused random affine
inside the jitted train step, mixed bfloat16 on a GPU) trained by ``model.fit`` on random faces,
timed after a warm-up fit that pays the compilation. PyTorch, where it and torchvision are
installed (as on the GPU machine): the same architectures (base + global average pooling +
linear) in a plain loop with bf16 autocast and channels_last, on random tensors already on the
device and without augmentation - the obvious alternative, given every advantage.

    python -m benchmarks.train_throughput                                   # VGG19 and ResNet50 at 48x48, batch 256
    python -m benchmarks.train_throughput --epoch-scenario S2 --data full   # plus a real epoch of S2
    python -m benchmarks.train_throughput --models cnn vgg19 --batch-size 8 --steps 2 --warmup 1 \\
        --input-size 32 --epoch-scenario S2 --data sample                  # a quick check on a CPU

Prints one table; the ratio column is Keras img/s over PyTorch img/s for the same model.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import keras

from benchmarks.timing import fit_images_per_second
from fer import runs
from fer.models import build_model
from fer.paths import artifacts_at, dataset_cache_path
from fer.precision import on_gpu, precision_policy, resolve_precision
from fer.scenarios import scenario


def keras_images_per_second(arch: str, batch: int, steps: int, warmup: int, input_size: int) -> float:
    model = build_model(arch, input_size=input_size, augment="study", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy", metrics=["accuracy"])
    return fit_images_per_second(model, batch, steps, warmup)


def torch_images_per_second(arch: str, batch: int, steps: int, warmup: int, input_size: int) -> float | None:
    try:
        import torch
        import torchvision
    except ImportError:
        return None
    if arch not in ("vgg19", "resnet50"):
        return None
    device = "cuda" if torch.cuda.is_available() else "cpu"
    if arch == "vgg19":
        model = torch.nn.Sequential(
            torchvision.models.vgg19().features,
            torch.nn.AdaptiveAvgPool2d(1),
            torch.nn.Flatten(),
            torch.nn.Linear(512, 7),
        )
    else:
        model = torchvision.models.resnet50(num_classes=7)  # its avgpool + fc are GAP + Dense(7)
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    images = torch.rand(batch, 3, input_size, input_size, device=device).to(memory_format=torch.channels_last)
    labels = torch.randint(0, 7, (batch,), device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


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
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=10, help="steps before timing (compilation)")
    parser.add_argument("--input-size", type=int, default=48)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch comparison")
    parser.add_argument("--epoch-scenario", choices=["S1", "S2", "S3", "S4"], help="also time a real epoch")
    parser.add_argument("--data", default="full", choices=["full", "sample"])
    args = parser.parse_args()

    with precision_policy(resolve_precision("auto")) as policy:
        print(f"backend {keras.backend.backend()}, policy {policy}, {'GPU' if on_gpu() else 'CPU'}, "
              f"batch {args.batch_size}, {args.input_size}x{args.input_size}")
        throughput_table(args)
    if args.epoch_scenario:
        train_s, eval_s, images = scenario_epoch_seconds(args.epoch_scenario, args.data, args.input_size, args.batch_size)
        print(f"{args.epoch_scenario} on {args.data} data, one epoch after the first: {train_s:.1f} s training "
              f"({images / train_s:,.0f} img/s over {images:,} images) + {eval_s:.1f} s test evaluation")


def throughput_table(args: argparse.Namespace) -> None:
    """Keras against PyTorch for each model, under the precision policy already set."""
    print(f"{'model':10} {'Keras img/s':>12} {'PyTorch img/s':>14} {'ratio':>6}")
    for arch in args.models:
        ours = keras_images_per_second(arch, args.batch_size, args.steps, args.warmup, args.input_size)
        theirs = None if args.no_torch else torch_images_per_second(
            arch, args.batch_size, args.steps, args.warmup, args.input_size
        )
        ratio = f"{ours / theirs:6.2f}" if theirs else f"{'-':>6}"
        print(f"{arch:10} {ours:12,.0f} {theirs or float('nan'):14,.0f} {ratio}")


if __name__ == "__main__":
    main()
