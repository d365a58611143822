"""The Keras callbacks of our own that a training run uses (:func:`fer.train.train`).

* :class:`PeriodicBackup` - Keras' ``BackupAndRestore``, backing up after an epoch only when
  saving costs little beside the training time (so a killed run resumes where it stopped
  without a big model's backups doubling the run), and resuming from the earlier copy when a
  kill cut the latest one's record short;
* :class:`RunRecorder` - writes ``status.json`` and ``history.csv`` atomically as training goes
  (CSVLogger appends rows as they come: after a resume it would repeat the epochs that the
  backup had not kept), and stops a cancelled run at its next batch by raising
  :class:`RunCancelled` from inside ``fit``.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import keras
import numpy as np

from fer import store
from fer.errors import FerError
from fer.scenarios import RunConfig
from fer.store import StatusCallback
from fer.vocab import epochs_text

STATUS_INTERVAL_S = 2.0  # how often status.json is rewritten during an epoch


class PeriodicBackup(keras.callbacks.BackupAndRestore):
    """``BackupAndRestore`` that skips an epoch's backup when saving would cost more than
    ``max_overhead`` of the training time since the last one.

    Why: VGG19's backup with Adam's state is 240 MB and takes 0.27-0.63 s to write
    (``benchmarks/README.md``), while an epoch of S2 on an H200 trains in about half a second; a
    backup after every epoch would nearly double the run. On a CPU, where an epoch takes minutes, every epoch is still backed up. A
    kill loses at most about ``1 / max_overhead`` times one save's duration of training.
    """

    def __init__(self, backup_dir: str | Path, max_overhead: float = 0.1, **kwargs: Any) -> None:
        super().__init__(backup_dir, **kwargs)
        self.max_overhead = max_overhead
        self.saves = 0
        self._save_seconds = 0.0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        try:
            super().on_train_begin(logs)
        except (ValueError, KeyError, TypeError) as error:
            self._restore_previous(error)
        self._saved_at = time.perf_counter()

    def _restore_previous(self, error: Exception) -> None:
        """Resume from the backup before the latest when the latest's ``training_metadata.json``
        can't be read: Keras writes it in place, so a kill can leave it empty or cut short, and
        falls back on the earlier copy (``double_checkpoint``) only for unreadable weights."""
        previous = (Path(self._prev_weights_path), Path(self._prev_training_metadata_path))
        if not all(path.exists() for path in previous):
            raise FerError(
                f"this run's backup is damaged ({type(error).__name__}: {error}) and has no earlier copy: "
                f"delete {self.backup_dir} to train the run again from its first epoch"
            ) from error
        shutil.copyfile(previous[0], self._weights_path)
        shutil.copyfile(previous[1], self._training_metadata_path)
        self._load_model()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._current_epoch = epoch + 1  # what BackupAndRestore.on_epoch_end sets before saving
        self._last_batch_seen = 0
        if (time.perf_counter() - self._saved_at) * self.max_overhead >= self._save_seconds:
            started = time.perf_counter()
            self._save_model()
            self._saved_at = time.perf_counter()
            self._save_seconds = self._saved_at - started
            self.saves += 1


class RunCancelled(Exception):
    """Raised from inside ``fit`` to stop at once, without finishing the epoch. Its message is
    what the cancelled run's status says: how far it got and where a resume starts."""

    def __init__(self, epochs_done: int, epochs: int | None = None) -> None:
        if epochs_done:
            done = f"{epochs_done}/{epochs_text(epochs)}" if epochs else epochs_text(epochs_done)
            text = f"cancelled after {done}; resume continues from epoch {epochs_done + 1}"
        else:  # "resume continues from epoch 1" would suggest that something was kept to continue from
            text = "cancelled before the first epoch finished; resume starts it again"
        super().__init__(text)
        self.epochs_done = epochs_done


class RunRecorder(keras.callbacks.Callback):
    """Writes ``history.csv`` and ``status.json`` as training goes, and stops a cancelled run."""

    def __init__(
        self,
        run_dir: Path,
        config: RunConfig,
        eval_split: str,
        steps_per_epoch: int,
        history: list[dict[str, Any]],
        log: logging.Logger,
        on_status: StatusCallback | None,
    ) -> None:
        super().__init__()
        self.run_dir, self.config, self.eval_split, self.batches = run_dir, config, eval_split, steps_per_epoch
        self.history, self.log, self.on_status = history, log, on_status
        self._last_status = 0.0

    def best_epoch(self) -> int:
        """The first epoch with the highest evaluation accuracy (as ModelCheckpoint keeps it)."""
        scores = [row[f"{self.eval_split}_accuracy"] for row in self.history]
        return int(np.argmax(scores)) + 1

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._started = time.perf_counter()
        self._start_fraction: float | None = None

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        # BackupAndRestore has set where training restarts: rows after it are being retrained.
        del self.history[epoch:]
        if self._start_fraction is None:
            self._start_fraction = epoch / self.config.epochs
        self._epoch_started, self._eval_seconds = time.perf_counter(), 0.0
        self._status(epoch, 0, force=True)

    def on_train_batch_begin(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        # Batch begin, not end: a batch-end hook makes Keras pull every step's logs off the
        # device synchronously, which stalls a GPU between steps.
        if (self.run_dir / "cancel").exists():
            raise RunCancelled(len(self.history), self.config.epochs)
        self._status(len(self.history), batch)

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
        self.history.append(row)
        store.write_history(self.run_dir, self.history)
        self.log.info(
            "epoch %d/%d: loss %.4f acc %.4f, %s loss %.4f acc %.4f, %.1f s (%.0f img/s)",
            epoch + 1, self.config.epochs, row["loss"], row["accuracy"], self.eval_split,
            row[f"{self.eval_split}_loss"], row[f"{self.eval_split}_accuracy"], seconds,
            self.batches * self.config.batch_size / max(row["train_seconds"], 1e-9),
        )
        self._status(epoch + 1, 0, force=True)

    def _status(self, epoch: int, batch: int, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_status < STATUS_INTERVAL_S:
            return
        self._last_status = now
        fraction = min(1.0, (epoch + batch / self.batches) / self.config.epochs)
        done_here = fraction - (self._start_fraction or 0.0)
        eta = (now - self._started) * (1 - fraction) / done_here if done_here > 0 else None
        status = store.write_status(
            self.run_dir, state="running", epoch=epoch, epochs=self.config.epochs, batch=batch,
            batches=self.batches, progress=fraction, eta_s=eta, message=None, error=None,
        )
        if self.on_status:
            self.on_status(status)
