"""One training run, read top to bottom as a keras-io example: data → model → fit → evaluate → save.

:func:`train` is the whole recipe. Keras' own callbacks do the bookkeeping:

* ``BackupAndRestore`` keeps the model and optimizer in ``backup/``, so a killed run resumes
  where it stopped (:class:`~fer.callbacks.PeriodicBackup`: after every epoch unless that
  would slow training down by more than a tenth, as it would for VGG19 on a GPU);
* ``ModelCheckpoint(save_best_only)`` keeps the best epoch by validation accuracy (standard
  protocol), which is the one reported on PrivateTest;
* ``EarlyStopping`` when asked for;
* :class:`~fer.callbacks.RunRecorder`, the one callback of our own, writes ``status.json`` and
  ``history.csv`` as training goes and stops a cancelled run at its next batch.

Our callbacks live in :mod:`fer.callbacks`, so this module is the recipe alone.

:func:`run_training` wraps it for a run folder: the states ``running`` → ``completed`` /
``failed`` / ``cancelled``, the log, and errors kept in ``status.json``. The order of the last
writes makes every moment of a crash recoverable: the model, then the test probabilities and
metrics, then the state ``completed``, and only then the backups are removed. A run killed
after its metrics shows as completed (:func:`fer.runs.list_runs`); one killed before them
resumes with no epoch left to train and only evaluates again. A run trained in a process
that goes on (a foreground CLI run, a script, a test) leaves that process's random generators
and logging as they were; only the backend's own seed stays set (see :func:`_seeded`).
"""

from __future__ import annotations

import logging
import random
import shutil
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fer import store
from fer.balance import balance, learnt_shares
from fer.calibrate import validation_fits
from fer.callbacks import PeriodicBackup, RunCancelled, RunRecorder
from fer.copies import seen_in_training, training_faces
from fer.data import load_dataset
from fer.dataset import FaceDataset, protocol_splits
from fer.distribute import data_parallel
from fer.errors import FerError
from fer.evaluate import classification_metrics, fingerprint
from fer.hardware import cpu_name, gpu_names
from fer.inference import classify_faces, load_classifier
from fer.models import build_model
from fer.precision import on_gpu, precision_policy, resolve_precision
from fer.scenarios import RunConfig
from fer.store import StatusCallback
from fer.vocab import CLASSES, COMPACT_ARCHITECTURES, WEIGHTS


def run_training(
    run_dir: Path, on_status: StatusCallback | None = None, callbacks: list[keras.callbacks.Callback] | None = None
) -> str:
    """Train the run in ``run_dir`` (resuming from its backup if any); return the final state.

    Never raises for a failed run: the error goes to ``status.json`` and the log, so the
    dashboard shows it and nothing already written is lost.
    """
    with _run_log(run_dir) as log:
        store.write_status(run_dir, state="running", started_at=store.now(), message="loading data and building the model")
        try:
            if not (run_dir / "metrics.json").exists():  # else a kill came after the results: just finish
                metrics = train(store.read_config(run_dir), run_dir, log=log, on_status=on_status, callbacks=callbacks)
                log.info(
                    "completed: test accuracy %.4f, macro precision %.4f, macro recall %.4f, %.1f s training, %.0f img/s",
                    metrics["test_accuracy"], metrics["precision_macro"], metrics["recall_macro"],
                    metrics["train_seconds"], metrics["images_per_second"] or 0,
                )
        except RunCancelled as cancelled:
            log.info("cancelled after %d finished epoch(s)", cancelled.epochs_done)
            store.write_status(run_dir, state="cancelled", message=None, error=str(cancelled))
            return "cancelled"
        except FerError as error:
            log.error("failed: %s", error)
            store.write_status(run_dir, state="failed", message=None, error=str(error))
            return "failed"
        except Exception as error:  # noqa: BLE001  (a bug or a backend failure: the traceback goes to the log)
            log.error("failed:\n%s", traceback.format_exc())
            store.write_status(run_dir, state="failed", message=None, error=f"{type(error).__name__}: {error}")
            return "failed"
        store.write_status(run_dir, state="completed", progress=1.0, eta_s=0.0, message=None, error=None)
        shutil.rmtree(run_dir / "backup", ignore_errors=True)
        (run_dir / "best.weights.h5").unlink(missing_ok=True)
        return "completed"


def train(
    config: RunConfig,
    run_dir: Path,
    log: logging.Logger | None = None,
    on_status: StatusCallback | None = None,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> dict[str, Any]:
    """Train ``config`` into ``run_dir`` and write its model and results; return the metrics."""
    log = log or logging.getLogger(__name__)
    started = time.perf_counter()
    with _seeded(config.seed), precision_policy(resolve_precision(config.precision)):
        with data_parallel(config) as devices:
            # Prepare the data: the protocol's splits, the training split without held-out copies and balanced as asked.
            dataset = load_dataset(config.data)
            _pin_data(run_dir, config.data, dataset)
            splits = protocol_splits(dataset, config.protocol)
            kept = training_faces(dataset, splits, config.drop_copies)
            if len(kept) < len(splits["train"]):
                kinds = "copies" if config.drop_copies == "exact" else "copies or near copies"
                log.info("left out %d Training faces that are %s of held-out faces", len(splits["train"]) - len(kept), kinds)
            splits["train"] = kept
            eval_split = "validation" if config.protocol == "standard" else "test"
            balanced = balance(dataset.labels[splits["train"]], config.balance)
            x_train, y_train = _inputs(dataset, splits["train"][balanced.indices], len(devices))
            x_eval, y_eval = _inputs(dataset, splits[eval_split], len(devices))
            steps_per_epoch = -(-len(x_train) // config.batch_size)

            # Build the model.
            model = build_model(config.arch, config.input_size, config.weights, config.augment, seed=config.seed)
            model.compile(
                optimizer=make_optimizer(config, steps_per_epoch),
                loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
                metrics=["accuracy"],
            )

            # Train, resuming from the backup if there is one.
            history = store.read_history(run_dir)
            recorder = RunRecorder(run_dir, config, eval_split, steps_per_epoch, history, log, on_status)
            log.info(
                "%s on %s: %d training images (balance %s), %d %s images, %s, %s, %s weights",
                config.label, dataset.source, len(x_train), config.balance, len(x_eval), eval_split,
                ", ".join(devices) if len(devices) > 1 else _device(), keras.mixed_precision.global_policy().name,
                config.weights,
            )
            model.fit(
                x_train, y_train, batch_size=config.batch_size, epochs=config.epochs,
                validation_data=(x_eval, y_eval), class_weight=balanced.class_weight,
                # The recorder first: an epoch's row is written before its backup, so a kill between the
                # two leaves a row that resuming drops and trains again, never a backed-up epoch without one.
                callbacks=[recorder, *_keras_callbacks(config, run_dir, history), *(callbacks or [])], verbose=0,
            )
            if config.protocol == "standard" and (run_dir / "best.weights.h5").exists():
                model.load_weights(run_dir / "best.weights.h5")
            save_inference_model(model, config, run_dir / "model.keras")

        # Evaluate the reported epoch as saved, on one device: the numbers are what the file gives.
        store.write_status(run_dir, message="evaluating on the test set")
        test = splits["test"]
        saved = load_classifier(run_dir / "model.keras")
        probabilities = classify_faces(saved, dataset.images[test], tta=config.tta)
        reported_epoch = recorder.best_epoch() if config.protocol == "standard" else len(recorder.history)
        metrics = classification_metrics(dataset.labels[test], probabilities)
        if eval_split == "validation":
            shares = learnt_shares(dataset.labels[splits["train"]], config.balance)
            metrics |= validation_fits(saved, dataset, splits, probabilities, config.tta, shares)
        correct = probabilities.argmax(axis=1) == dataset.labels[test]
        metrics[store.SEEN_IN_TRAINING] = seen_in_training(dataset, test, splits["train"], correct)
        metrics |= _run_facts(config, dataset, test, recorder.history, reported_epoch, len(x_train), devices)
        # Data, compilation, training and the test, in this process (a resumed run: since the resume).
        metrics["wall_seconds"] = time.perf_counter() - started
    store.write_results(run_dir, metrics, probabilities, dataset.labels[test])
    return metrics


def make_optimizer(config: RunConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The run's optimizer; a cosine schedule decays to 0 over all of the run's steps."""
    rate: Any = config.learning_rate
    if config.schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=config.epochs * steps_per_epoch)
    decay = config.weight_decay or None
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9, nesterov=True, weight_decay=decay)
    return keras.optimizers.Adam(rate, weight_decay=decay)


def _pin_data(run_dir: Path, data: str, dataset: FaceDataset) -> None:
    """Record at a run's first start which faces it trains on, and refuse to resume it on other
    ones (FER2013 imported again, from another source, since): one run's epochs would have
    trained on two datasets, and its metrics would describe only the second."""
    faces = fingerprint(dataset.images, dataset.labels, dataset.usage)
    pinned = store.read_status(run_dir).get("data_fingerprint")
    if pinned is None:
        store.write_status(run_dir, data_fingerprint=faces)
    elif pinned != faces:
        raise FerError(
            f"the {data} data changed since this run started (imported again, from {dataset.source}): its finished "
            "epochs trained on other faces, so it can't be resumed; start a new run"
        )


def _keras_callbacks(config: RunConfig, run_dir: Path, history: list[dict[str, Any]]) -> list[Any]:
    """Backups; the best epoch and early stopping when there is a validation split."""
    # The backup is removed by run_training once the results are safe, not by Keras at the end
    # of fit; double_checkpoint keeps the previous backup if a kill cuts the latest one short.
    callbacks: list[Any] = [PeriodicBackup(run_dir / "backup", double_checkpoint=True, delete_checkpoint=False)]
    if config.protocol == "standard":
        best_so_far = max((row["validation_accuracy"] for row in history), default=None)
        callbacks.append(
            keras.callbacks.ModelCheckpoint(
                run_dir / "best.weights.h5", monitor="val_accuracy", mode="max", save_best_only=True,
                save_weights_only=True, initial_value_threshold=best_so_far,
            )
        )
    if config.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping("val_accuracy", patience=config.early_stopping, mode="max", verbose=0)
        )
    return callbacks


def _inputs(dataset: FaceDataset, indices: np.ndarray, devices: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """uint8 faces ``(N, 48, 48, 1)`` and one-hot float32 targets for categorical cross-entropy.

    On several devices each batch, the last one too, must split evenly between them: the last
    ``N % devices`` images (fewer than the devices) are left out.
    """
    indices = indices[: len(indices) - len(indices) % devices]
    faces = dataset.images[indices][..., None]
    targets = np.eye(len(CLASSES), dtype="float32")[dataset.labels[indices]]
    return faces, targets


def save_inference_model(model: keras.Model, config: RunConfig, path: Path) -> None:
    """Save the weights without optimizer state or augmentation: float16 for the compact
    networks (small enough to ship; :func:`fer.inference.load_classifier` computes in float32),
    float32 for ResNet50 and VGG19, whose unnormalised activations can overflow float16's range.
    """
    with precision_policy("float16" if config.arch in COMPACT_ARCHITECTURES else "float32"):
        inference = build_model(config.arch, config.input_size, "none", "none", seed=config.seed)
    inference.set_weights(model.get_weights())
    partial = path.with_name("model.partial.keras")
    inference.save(partial)
    partial.replace(path)


def _device() -> str:
    return (gpu_names() or ("GPU",))[0] if on_gpu() else f"CPU: {cpu_name()}"


def _run_facts(
    config: RunConfig,
    dataset: FaceDataset,
    test: np.ndarray,
    history: list[dict[str, Any]],
    reported_epoch: int,
    train_images: int,
    devices: list[str],
) -> dict[str, Any]:
    """What a reader of the numbers needs to judge them: data, timing, hardware, versions."""
    train_seconds = float(sum(row["train_seconds"] for row in history))
    weights = f"{config.weights} ({WEIGHTS[config.weights]})" if config.weights in WEIGHTS else f"file {config.weights}"
    return {
        "test_set": fingerprint(dataset.images[test], dataset.labels[test]),
        "scenario": config.scenario,
        "label": config.label,
        "protocol": config.protocol,
        "test_split": store.TEST_SPLITS[config.protocol],
        "dataset": dataset.name,
        "dataset_source": dataset.source,
        "train_images": train_images,
        "epochs_run": len(history),
        "reported_epoch": reported_epoch,
        "train_accuracy": float(history[reported_epoch - 1]["accuracy"]) if history else None,
        "train_seconds": train_seconds,
        "eval_seconds": float(sum(row["eval_seconds"] for row in history)),
        "images_per_second": train_images * len(history) / train_seconds if train_seconds else None,
        "tta": config.tta,
        "backend": keras.backend.backend(),
        "precision_policy": keras.mixed_precision.global_policy().name,
        "device": _device(),
        "devices": devices,
        "global_batch": config.batch_size,
        "per_device_batch": config.batch_size // len(devices),
        "weights": weights,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
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


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed Python's ``random``, NumPy's global generator and the backend for the block (Keras'
    ``set_random_seed``), then give ``random`` and NumPy back the states they had.

    Why: a run trained in a process that goes on (a foreground ``--seeds 3``, a script, a test)
    would otherwise leave every later draw of that process fixed by the run's seed. The
    backend's seeds (TensorFlow's global seed, Keras' global seed generator) can't be read back
    through a public API, so they can't be restored: they stay as the run set them.
    """
    python_state, numpy_state = random.getstate(), np.random.get_state()
    keras.utils.set_random_seed(seed)
    try:
        yield
    finally:
        random.setstate(python_state)
        np.random.set_state(numpy_state)


@contextmanager
def _run_log(run_dir: Path) -> Iterator[logging.Logger]:
    """A logger that appends to the run's ``train.log`` (the worker's output goes there too)
    within the block; the file is closed when it ends, so a process training run after run
    (a foreground ``--seeds N``) does not keep N log files open."""
    log = logging.getLogger(f"fer.run.{run_dir.name}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(run_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    log.addHandler(handler)
    try:
        yield log
    finally:
        log.removeHandler(handler)
        handler.close()
