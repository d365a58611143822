"""One call on the lent GPU machine: the throughput benchmark, then reference runs, within a budget.

Run from the project root (see ../shared/gpu/README.md). Prepare here, then one device call
carrying ``[".gpu"]`` with ``timeout_s`` a little above ``--budget-s``:

    bash ../shared/gpu/stage.sh            # once: wheels + parquet into .gpu/
    bash scripts/gpu_dry_run.sh            # the same program on the CPU, in a GPU-machine-like venv
    # issue 12, then issue 13's scenarios while the budget lasts (device call):
    source .gpu/prelude.sh && python3 -m scripts.gpu_reference --benchmark --scenarios S2 S4 S1 S3 --budget-s 510 --out-dir $OUT
    # the rest of issue 13 (another device call): what the first did not reach, then the FER-CNN
    source .gpu/prelude.sh && python3 -m scripts.gpu_reference --scenarios S1 S3 fer_cnn --budget-s 510 --out-dir $OUT

What comes back under ``--out-dir`` (the device returns at most 8 files), each written as soon
as it is ready, so a call cut short still brings back everything finished before:

* ``benchmark.md``: Keras against the PyTorch loop, one Markdown table row per model and batch;
* ``reference-<scenario>.tar.gz``: the completed run's config, status, history, metrics, test
  labels and test probabilities (one byte each: :func:`fer.store.compact_probabilities`; and, for a compact
  network, its float16 model and, in its metrics, its accuracy on worse photos of its test faces:
  :func:`measure_worse_photos`), to unpack into
  ``artifacts/`` (``tar xzf reference-S2.tar.gz -C artifacts/``);
* for a compact network, also ``reference-<network>_photo.tar.gz``: the same run fine-tuned with
  the ``photo`` augmentation (``--photo-epochs``, :func:`photo_tuning`), as the default model was
  made; its config's ``weights`` name the first run's model where unpacking puts it;
* ``progress.log``: every line printed, with the time since the start.

Steps compiled once are kept for the rest of the call and for later calls on the same warm
machine (:func:`fer.hardware.keep_compilations`).

The budget: a scenario starts only if the benchmark's img/s (when measured in this call) say it
can finish in the time left; a run whose epochs show it cannot is cancelled, then tried once
more at batch 256 (the issue's fallback, kept in its ``config.json``) when it was below that.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tarfile
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from fer import data, robustness, runs, store
from fer.balance import training_images
from fer.dataset import FaceDataset
from fer.hardware import keep_compilations
from fer.paths import artifacts_at, compilation_cache_path
from fer.scenarios import RunConfig, scenario
from fer.vocab import COMPACT_ARCHITECTURES, PROTOCOLS

FALLBACK_BATCH = 256
MEASURE_SECONDS = 60.0  # a compact model on worse photos: 15 passes over 3,589 faces with shift TTA, and their degrading
COMPILE_SECONDS = 45.0  # first train step and first evaluation compile (20-28 s and 3-5 s on the H200), plus the final test


class Clock:
    """Prints (and keeps in ``progress.log``) each line with the wall time and seconds since the start."""

    def __init__(self, budget_s: float, log_path: Path) -> None:
        self.started, self.budget_s, self.log_path = time.monotonic(), budget_s, log_path

    def left(self) -> float:
        return self.budget_s - (time.monotonic() - self.started)

    def say(self, message: str) -> None:
        line = f"{time.strftime('%H:%M:%S')} +{time.monotonic() - self.started:4.0f}s  {message}"
        print(line, flush=True)
        with self.log_path.open("a") as log:
            log.write(line + "\n")


def benchmark(clock: Clock, out_dir: Path, models: list[str], batches: list[int], steps: int, warmup: int) -> dict[tuple[str, int], float]:
    """Write ``benchmark.md`` row by row; return Keras img/s by (model, batch) for the budget."""
    from benchmarks.train_throughput import TABLE_HEADER, throughput_rows
    from fer.precision import on_gpu, precision_policy, resolve_precision

    measured: dict[tuple[str, int], float] = {}
    with precision_policy(resolve_precision("auto")) as policy:
        import keras

        lines = [f"backend {keras.backend.backend()}, policy {policy}, {'GPU' if on_gpu() else 'CPU'}, 48x48", "", TABLE_HEADER]
        for row in throughput_rows(models, batches, [1], steps, warmup, 48, log=clock.say):
            cells = [cell.strip() for cell in row.strip("|").split("|")]
            measured[(cells[0], int(cells[1]))] = float(cells[3].replace(",", ""))
            lines.append(row)
            clock.say(row)
            (out_dir / "benchmark.md").write_text("\n".join(lines) + "\n")
    return measured


def estimated_seconds(config: RunConfig, train_images: int, measured: dict[tuple[str, int], float]) -> float | None:
    """Seconds the run should take on this machine, from the benchmark's img/s (interpolated on
    a log scale between the batch sizes measured); None if its network was not measured."""
    rates = sorted((batch, rate) for (arch, batch), rate in measured.items() if arch == config.arch)
    if not rates:
        return None
    below = [pair for pair in rates if pair[0] <= config.batch_size] or rates[:1]
    above = [pair for pair in rates if pair[0] >= config.batch_size] or rates[-1:]
    (b1, r1), (b2, r2) = below[-1], above[0]
    rate = r1 if b1 == b2 else r1 + (r2 - r1) * math.log(config.batch_size / b1) / math.log(b2 / b1)
    return COMPILE_SECONDS + config.epochs * train_images * 1.15 / rate  # 15%: evaluation and epoch ends


class BudgetWatch:
    """Cancels a run (with the run store's own ``cancel`` file) when its epochs so far show it
    cannot finish in the time left, or when the time is up."""

    def __init__(self, clock: Clock, name: str, run_path: Path) -> None:
        self.clock, self.name, self.cancel_file = clock, name, run_path / "cancel"
        self.first_epoch_done_at: float | None = None
        self.last_epoch, self.last_print, self.reason = -1, 0.0, ""

    def __call__(self, status: dict[str, Any]) -> None:
        epoch, epochs, now = status.get("epoch") or 0, status.get("epochs") or 1, time.monotonic()
        if (epoch != self.last_epoch and epoch % 10 == 0) or now - self.last_print > 30:
            self.clock.say(f"{self.name}: epoch {epoch}/{epochs} done, {self.clock.left():.0f} s of the budget left")
            self.last_epoch, self.last_print = epoch, now
        if epoch == 1 and self.first_epoch_done_at is None:
            self.first_epoch_done_at = now  # epoch 1 pays for compilation: project from the later ones
        timed = epoch - 1  # epochs done since the first
        projected = (epochs - epoch) * (now - self.first_epoch_done_at) / timed if self.first_epoch_done_at and timed > 0 else 0.0
        if not self.reason and self.clock.left() < max(projected + 15, 5):
            self.reason = f"would need {projected:.0f} s more with {self.clock.left():.0f} s left"
            self.cancel_file.touch()


def train_reference(
    clock: Clock,
    dataset: FaceDataset,
    config: RunConfig,
    measured: dict[tuple[str, int], float],
    out_dir: Path,
    name: str = "",
) -> runs.Run | None:
    """Train one scenario, falling back once to batch 256 if it would not fit, and write its
    archive ``reference-<name>.tar.gz`` (by default, the scenario's or the network's name); the
    completed run, or None."""
    name = name or (config.scenario if config.scenario != "custom" else config.arch)
    train_images = training_images(dataset, config.protocol, config.balance)
    attempts = [config] + ([replace(config, batch_size=FALLBACK_BATCH)] if config.batch_size < FALLBACK_BATCH else [])
    for attempt in attempts:
        estimate = estimated_seconds(attempt, train_images, measured)
        if (estimate or COMPILE_SECONDS) > clock.left():
            clock.say(f"{name}: not started at batch {attempt.batch_size}: needs about {estimate or COMPILE_SECONDS:.0f} s, {clock.left():.0f} s left")
            continue
        clock.say(f"{name}: {attempt.summary}; {train_images:,} training images" + (f"; about {estimate:.0f} s" if estimate else ""))
        run = runs.create_run(attempt)
        watch = BudgetWatch(clock, name, run.path)
        started = time.monotonic()
        runs.execute(run.run_id, on_status=watch)
        run = runs.get_run(run.run_id)
        if run.state == "completed":
            report(clock, name, run, time.monotonic() - started)
            shipped = config.arch in COMPACT_ARCHITECTURES
            if shipped:
                run = measure_worse_photos(clock, name, run)
            export(run, out_dir / f"reference-{name}.tar.gz", include_model=shipped)
            clock.say(f"{name}: wrote reference-{name}.tar.gz")
            return run
        clock.say(f"{name}: {run.state} at batch {attempt.batch_size}: {watch.reason or run.status.get('error')}\n{run.log_tail(5)}")
        if not watch.reason:
            return None  # failed for another reason than time: a larger batch would not help
    return None


def measure_worse_photos(clock: Clock, name: str, run: runs.Run) -> runs.Run:
    """A model that may become the Classify page's default, measured on worse photos of its test
    faces (:func:`fer.robustness.measure_run`): seconds here, 11 minutes on a 2-core CPU. Skipped,
    saying why, when the budget is short or the measurement fails: the run's archive matters more."""
    if clock.left() < MEASURE_SECONDS:
        clock.say(f"{name}: not measured on worse photos: {clock.left():.0f} s left (`python -m fer robustness` later)")
        return run
    started = time.monotonic()
    try:
        measured = robustness.measure_run(run)
    except Exception as error:  # whatever it is, the trained run still goes back
        clock.say(f"{name}: not measured on worse photos: {type(error).__name__}: {error}")
        return run
    clock.say(f"{name}: on worse photos ({time.monotonic() - started:.0f} s): {robustness.summary(measured)}")
    return runs.get_run(run.run_id)


def photo_tuning(base: runs.Run, epochs: int) -> RunConfig:
    """The default model's second stage (README, "The default model"; its ``config.json``):
    ``base``'s model fine-tuned for ``epochs`` with the ``photo`` augmentation from a learning
    rate of 0.01, which made the CPU-trained default read blurred faces as well.

    It starts from ``base`` exported as a reference run with its model, where a commit of it would
    put it (``artifacts/reference/<run_id>/model.keras``): the tuned run's ``weights`` then name
    the file it started from in the repository, as the committed default's do.
    """
    weights = store.export_reference(base, store.reference_dir(), include_model=True) / "model.keras"
    if weights.is_relative_to(Path.cwd()):
        weights = weights.relative_to(Path.cwd())
    return scenario(
        "custom", arch=base.config.arch, protocol="standard", data="full", epochs=epochs, weights=str(weights),
        augment="photo", learning_rate=0.01,
    )


def report(clock: Clock, name: str, run: runs.Run, wall_s: float) -> None:
    metrics, history = run.metrics() or {}, run.history()
    later = list(history["train_seconds"][1:]) or list(history["train_seconds"])
    clock.say(
        f"{name}: test accuracy {metrics['test_accuracy']:.4f} ({metrics['test_split']}), macro-F1 "
        f"{metrics.get('f1_macro', float('nan')):.4f}; {metrics['train_seconds']:.1f} s training + "
        f"{metrics['eval_seconds']:.1f} s evaluation ({wall_s:.0f} s wall clock), {metrics['images_per_second']:,.0f} img/s, "
        f"median epoch {statistics.median(later):.2f} s, first {history['train_seconds'].iloc[0]:.1f} s "
        f"(compilation, or its cache, included); {metrics['device']}, {metrics['precision_policy']}"
    )


def export(run: runs.Run, archive: Path, include_model: bool) -> None:
    with tempfile.TemporaryDirectory() as staging:
        store.export_reference(run, Path(staging) / "reference", include_model=include_model)
        partial = archive.with_suffix(".partial")
        with tarfile.open(partial, "w:gz") as tar:
            tar.add(Path(staging) / "reference", arcname="reference")
        partial.replace(archive)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="*", default=["S2", "S4"], help="S1-S4, or fer_cnn / cnn (FER recipe), in order")
    parser.add_argument("--benchmark", action="store_true", help="first, the throughput table (VGG19, ResNet50; batch 128, 512)")
    parser.add_argument("--budget-s", type=float, default=510, help="seconds this program may take in all")
    parser.add_argument("--epochs", type=int, default=100, help="for S1-S4")
    parser.add_argument("--cnn-epochs", type=int, help="for a compact network (default: its recipe's)")
    parser.add_argument(
        "--photo-epochs", type=int, default=6,
        help="then fine-tune a compact network with the photo augmentation, as the default model was (0: not)",
    )
    parser.add_argument("--protocol", default="thesis", choices=list(PROTOCOLS), help="for S1-S4 (a compact network: standard)")
    parser.add_argument("--data-dir", type=Path, default=Path(".gpu/data"), help="the carried parquet folder")
    parser.add_argument("--out-dir", type=Path, default=Path(os.environ.get("OUT", "gpu-out")))
    parser.add_argument("--dry-run", action="store_true", help="the sample, 1 epoch, a tiny benchmark: check on a CPU")
    args = parser.parse_args()
    if args.dry_run:
        args.data_dir, args.epochs, args.cnn_epochs, args.photo_epochs, args.benchmark = Path("fer/sample"), 1, 1, 1, True

    # Compiled steps go to ./artifacts/cache/jax, which stays on a warm machine between calls: S2
    # loads the VGG19 step the benchmark compiled at its batch size, S4 S2's, and a second call's S1
    # the first call's ResNet50. The runs themselves go to scratch (below).
    keep_compilations(compilation_cache_path())
    args.out_dir.mkdir(parents=True, exist_ok=True)
    clock = Clock(args.budget_s, args.out_dir / "progress.log")
    # The import and the runs go to scratch: what comes back is the archives under --out-dir.
    with tempfile.TemporaryDirectory(prefix="fer-artifacts-") as scratch, artifacts_at(Path(scratch)):
        dataset = data.import_dataset(args.data_dir)
        clock.say(f"imported {len(dataset):,} faces from {args.data_dir}")

        measured: dict[tuple[str, int], float] = {}
        if args.benchmark:
            sizes = ([4], 2, 1) if args.dry_run else ([128, 512], 64, 8)
            measured = benchmark(clock, args.out_dir, ["vgg19", "resnet50"], *sizes)
        for name in args.scenarios:
            if name in COMPACT_ARCHITECTURES:  # the default model's recipe and protocol, then its fine-tuning
                config = scenario("custom", arch=name, protocol="standard", data="full", epochs=args.cnn_epochs)
                base = train_reference(clock, dataset, config, measured, args.out_dir)
                if base is not None and args.photo_epochs:
                    tuning = photo_tuning(base, args.photo_epochs)
                    train_reference(clock, dataset, tuning, measured, args.out_dir, name=f"{name}_photo")
            else:
                train_reference(clock, dataset, scenario(name, epochs=args.epochs, protocol=args.protocol, data="full"),
                                measured, args.out_dir)
    clock.say(f"done; {sorted(p.name for p in args.out_dir.iterdir())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
