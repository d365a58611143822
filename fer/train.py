"""One training run, start to finish, in the current process.

:func:`run_training` reads a run folder's ``config.json`` (see :mod:`fer.runs`), trains, and
writes as it goes, each file atomically so the dashboard can read them mid-run:

* ``status.json`` - state, epoch, batch, progress, ETA (every couple of seconds);
* ``history.csv`` - one row per finished epoch: train loss/accuracy, the evaluation split's
  loss/accuracy (``test_*`` under the thesis protocol, ``validation_*`` under the standard
  one), learning rate, seconds spent training and evaluating;
* ``backup/epoch-NNNN.weights.h5`` - model and optimizer state after the last finished epoch,
  so an interrupted run resumes where it stopped (the history is cut back to match);
* at the end ``metrics.json`` (:func:`fer.evaluate.classification_metrics` plus timing,
  hardware and versions) and ``model.keras`` (float32, no optimizer state, loads with
  ``safe_mode=True``).

With the standard protocol the best epoch by validation accuracy is kept and reported on
PrivateTest; with the thesis protocol, as the study, the last epoch is reported on all 7,178
test images.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import keras
import numpy as np
import pandas as pd

from fer import runs
from fer.balance import balance
from fer.data import CLASSES, FaceDataset, load_dataset, protocol_splits
from fer.errors import FerError
from fer.evaluate import classification_metrics
from fer.hardware import cpu_name, gpu_names
from fer.models import build_model
from fer.paths import atomic_write_bytes, atomic_write_json
from fer.scenarios import RunConfig

StatusCallback = Callable[[dict[str, Any]], None]

STATUS_INTERVAL_S = 2.0  # how often status.json is rewritten during an epoch


def run_training(run_dir: Path, on_status: StatusCallback | None = None) -> str:
    """Train the run in ``run_dir`` (resuming from its backup if any); return the final state.

    Never raises for a failed run: the error goes to ``status.json`` and the log, so the
    dashboard shows it and nothing already written is lost.
    """
    log = _run_logger(run_dir)
    try:
        return _train(run_dir, runs.read_config(run_dir), log, on_status)
    except FerError as error:
        log.error("failed: %s", error)
        runs.write_status(run_dir, state="failed", error=str(error))
    except Exception as error:  # a bug or a backend failure: keep the traceback in the log
        log.error("failed:\n%s", traceback.format_exc())
        runs.write_status(run_dir, state="failed", error=f"{type(error).__name__}: {error}")
    return "failed"


def _train(run_dir: Path, config: RunConfig, log: logging.Logger, on_status: StatusCallback | None) -> str:
    on_gpu = configure_precision()
    keras.utils.set_random_seed(config.seed)
    dataset = load_dataset(config.data)
    splits = protocol_splits(dataset, config.protocol)
    eval_split = "validation" if config.protocol == "standard" else "test"
    balanced = balance(dataset.labels[splits["train"]], config.balance)
    train_indices = splits["train"][balanced.indices]
    x_train, y_train = _inputs(dataset, train_indices)
    x_eval, y_eval = _inputs(dataset, splits[eval_split])

    model = build_model(config.arch, config.input_size, config.weights, config.augment, seed=config.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    backup = _Backup(run_dir / "backup")
    initial_epoch = backup.restore(model)
    history = _read_history(run_dir)[:initial_epoch]
    log.info(
        "%s: %s on %s (%d train images after %s, %d %s images), %s, %s weights, from epoch %d",
        "resuming" if initial_epoch else "starting",
        config.label,
        dataset.source,
        len(x_train),
        config.balance,
        len(x_eval),
        eval_split,
        _device(on_gpu),
        config.weights,
        initial_epoch + 1,
    )
    monitor = _RunMonitor(run_dir, config, history, eval_split, len(x_train), backup, log, on_status)
    callbacks: list[keras.callbacks.Callback] = [monitor]
    if config.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping("val_accuracy", patience=config.early_stopping, mode="max", verbose=0)
        )
    try:
        model.fit(
            x_train,
            y_train,
            batch_size=config.batch_size,
            epochs=config.epochs,
            initial_epoch=initial_epoch,
            validation_data=(x_eval, y_eval),
            shuffle=True,
            class_weight=balanced.class_weight,
            callbacks=callbacks,
            verbose=0,
        )
    except _Cancelled:
        done = len(monitor.history)
        log.info("cancelled after %d finished epoch(s)", done)
        runs.write_status(run_dir, state="cancelled", error=f"cancelled; resume continues from epoch {done + 1}")
        return "cancelled"

    best_epoch = len(monitor.history)
    if config.protocol == "standard" and (run_dir / "best.weights.h5").exists():
        model.load_weights(run_dir / "best.weights.h5")
        best_epoch = int(pd.DataFrame(monitor.history)["validation_accuracy"].idxmax()) + 1
    runs.write_status(run_dir, state="running", message="evaluating on the test set")
    x_test, y_test = _inputs(dataset, splits["test"])
    probabilities = model.predict(x_test, batch_size=config.batch_size, verbose=0)
    metrics = classification_metrics(dataset.labels[splits["test"]], probabilities)
    metrics |= _run_facts(config, dataset, monitor.history, best_epoch, len(x_train), on_gpu)
    _save_inference_model(model, config, run_dir / "model.keras")
    atomic_write_json(run_dir / "metrics.json", metrics)
    backup.clear()
    (run_dir / "best.weights.h5").unlink(missing_ok=True)
    log.info(
        "completed: test accuracy %.4f, macro precision %.4f, macro recall %.4f, %.1f s training, %.0f img/s",
        metrics["test_accuracy"],
        metrics["precision_macro"],
        metrics["recall_macro"],
        metrics["train_seconds"],
        metrics["images_per_second"],
    )
    runs.write_status(run_dir, state="completed", progress=1.0, eta_s=0.0, message=None)
    return "completed"


def _inputs(dataset: FaceDataset, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 faces ``(N, 48, 48, 1)`` and one-hot float32 targets for categorical cross-entropy."""
    faces = dataset.images[indices][..., None]
    targets = np.eye(len(CLASSES), dtype="float32")[dataset.labels[indices]]
    return faces, targets


def configure_precision() -> bool:
    """Mixed bfloat16 when the backend sees a GPU (float32 on CPU, where bf16 is slow)."""
    on_gpu = any(device.split(":")[0].lower() in ("gpu", "cuda") for device in keras.distribution.list_devices())
    keras.mixed_precision.set_global_policy("mixed_bfloat16" if on_gpu else "float32")
    return on_gpu


def _device(on_gpu: bool) -> str:
    return (gpu_names() or ("GPU",))[0] if on_gpu else f"CPU: {cpu_name()}"


class _Backup:
    """Model + optimizer state after each finished epoch, one file renamed into place."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def latest(self) -> tuple[int, Path] | None:
        files = sorted(self.folder.glob("epoch-*.weights.h5"))
        return (int(files[-1].name[6:10]), files[-1]) if files else None

    def restore(self, model: keras.Model) -> int:
        """Load the last backup into ``model``; the number of epochs it had finished (0 if none)."""
        latest = self.latest()
        if latest is None:
            return 0
        model.optimizer.build(model.trainable_variables)
        model.load_weights(latest[1])
        return latest[0]

    def save(self, model: keras.Model, epochs_done: int) -> None:
        self.folder.mkdir(exist_ok=True)
        partial = self.folder / "partial.weights.h5"
        model.save_weights(partial)
        os.replace(partial, self.folder / f"epoch-{epochs_done:04d}.weights.h5")
        for old in self.folder.glob("epoch-*.weights.h5"):
            if old.name != f"epoch-{epochs_done:04d}.weights.h5":
                old.unlink()

    def clear(self) -> None:
        for path in self.folder.glob("*"):
            path.unlink()
        if self.folder.exists():
            self.folder.rmdir()


class _Cancelled(Exception):
    """Raised from inside ``fit`` to stop at once, without the epoch's evaluation pass."""


class _RunMonitor(keras.callbacks.Callback):
    """Writes status, history and backups as training goes, and stops on a cancel request."""

    def __init__(
        self,
        run_dir: Path,
        config: RunConfig,
        history: list[dict[str, Any]],
        eval_split: str,
        train_images: int,
        backup: _Backup,
        log: logging.Logger,
        on_status: StatusCallback | None,
    ) -> None:
        super().__init__()
        self.run_dir, self.config, self.history, self.eval_split = run_dir, config, history, eval_split
        self.batches = -(-train_images // config.batch_size)
        self.backup, self.log, self.on_status = backup, log, on_status
        self._last_status = 0.0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._started = time.perf_counter()
        self._start_fraction = len(self.history) / self.config.epochs
        self._status(epoch=len(self.history), batch=0, force=True)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch_started = time.perf_counter()
        self._eval_seconds = 0.0

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # A batch-begin hook, not batch-end: a batch-end hook makes Keras pull every step's logs
        # off the device synchronously, which stalls a GPU between steps.
        if runs.cancel_requested(self.run_dir):
            raise _Cancelled
        self._status(epoch=len(self.history), batch=batch)

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._eval_started = time.perf_counter()

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        self._eval_seconds += time.perf_counter() - self._eval_started

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        seconds = time.perf_counter() - self._epoch_started
        row = {
            "epoch": epoch + 1,
            "loss": float(logs["loss"]),
            "accuracy": float(logs["accuracy"]),
            f"{self.eval_split}_loss": float(logs["val_loss"]),
            f"{self.eval_split}_accuracy": float(logs["val_accuracy"]),
            "learning_rate": float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
            "train_seconds": seconds - self._eval_seconds,
            "eval_seconds": self._eval_seconds,
        }
        improved = all(row[f"{self.eval_split}_accuracy"] > r[f"{self.eval_split}_accuracy"] for r in self.history)
        self.history.append(row)
        atomic_write_bytes(self.run_dir / "history.csv", pd.DataFrame(self.history).to_csv(index=False).encode())
        if self.eval_split == "validation" and improved:
            self.model.save_weights(self.run_dir / "best.partial.weights.h5")
            os.replace(self.run_dir / "best.partial.weights.h5", self.run_dir / "best.weights.h5")
        self.backup.save(self.model, epoch + 1)
        self.log.info(
            "epoch %d/%d: loss %.4f acc %.4f, %s loss %.4f acc %.4f, %.1f s (%.0f img/s)",
            epoch + 1,
            self.config.epochs,
            row["loss"],
            row["accuracy"],
            self.eval_split,
            row[f"{self.eval_split}_loss"],
            row[f"{self.eval_split}_accuracy"],
            seconds,
            self.batches * self.config.batch_size / max(row["train_seconds"], 1e-9),
        )
        self._status(epoch=epoch + 1, batch=0, force=True)

    def _status(self, epoch: int, batch: int, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_status < STATUS_INTERVAL_S:
            return
        self._last_status = now
        fraction = min(1.0, (epoch + batch / self.batches) / self.config.epochs)
        done_here = fraction - self._start_fraction
        eta = (now - self._started) * (1 - fraction) / done_here if done_here > 0 else None
        status = runs.write_status(
            self.run_dir,
            state="running",
            epoch=epoch,
            epochs=self.config.epochs,
            batch=batch,
            batches=self.batches,
            progress=fraction,
            eta_s=eta,
            message=None,
            error=None,
        )
        if self.on_status:
            self.on_status(status)


def _read_history(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "history.csv"
    return pd.read_csv(path).to_dict("records") if path.exists() else []


def _run_facts(
    config: RunConfig,
    dataset: FaceDataset,
    history: list[dict[str, Any]],
    best_epoch: int,
    train_images: int,
    on_gpu: bool,
) -> dict[str, Any]:
    """What a reader of the numbers needs to judge them: data, timing, hardware, versions."""
    train_seconds = float(sum(row["train_seconds"] for row in history))
    weights = {"none": "none (trained from scratch)", "imagenet": "ImageNet (keras.applications)"}
    return {
        "scenario": config.scenario,
        "label": config.label,
        "protocol": config.protocol,
        "test_split": "PrivateTest" if config.protocol == "standard" else "all test images",
        "dataset": dataset.name,
        "dataset_source": dataset.source,
        "train_images": train_images,
        "epochs_run": len(history),
        "reported_epoch": best_epoch,
        "train_accuracy": float(history[best_epoch - 1]["accuracy"]) if history else None,
        "train_seconds": train_seconds,
        "eval_seconds": float(sum(row["eval_seconds"] for row in history)),
        "images_per_second": train_images * len(history) / train_seconds if train_seconds else None,
        "backend": keras.backend.backend(),
        "precision_policy": keras.mixed_precision.global_policy().name,
        "device": _device(on_gpu),
        "weights": weights.get(config.weights, f"file {config.weights}"),
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": _versions(),
    }


def _versions() -> dict[str, str]:
    names = ["keras", keras.backend.backend(), "numpy", "scikit-learn", "imbalanced-learn"]
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _save_inference_model(model: keras.Model, config: RunConfig, path: Path) -> None:
    """Save the weights in a float32 copy without optimizer state.

    Variables are float32 even under mixed precision, so nothing is lost; the copy loads and
    predicts fast on any CPU, and is a third of the size (Adam keeps two more copies).
    """
    keras.mixed_precision.set_global_policy("float32")
    inference = build_model(config.arch, config.input_size, "none", config.augment, seed=config.seed)
    inference.set_weights(model.get_weights())
    partial = path.with_name("model.partial.keras")
    inference.save(partial)
    os.replace(partial, path)


def _run_logger(run_dir: Path) -> logging.Logger:
    """A logger that appends to the run's ``train.log`` (the worker's output goes there too)."""
    log = logging.getLogger(f"fer.run.{run_dir.name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    if not log.handlers:
        handler = logging.FileHandler(run_dir / "train.log")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        log.addHandler(handler)
    return log
