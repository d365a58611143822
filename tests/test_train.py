"""The training core's own callbacks, on a small model and random faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fer.callbacks import PeriodicBackup
from fer.errors import FerError
from fer.models import build_model


def _fit(backup: PeriodicBackup, epochs: int) -> list[int]:
    """The epochs (from 0) that this fit trained."""
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 256, (64, 48, 48, 1), dtype=np.uint8)
    targets = np.eye(7, dtype="float32")[rng.integers(0, 7, 64)]
    model = build_model("cnn", augment="none", seed=0)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    return model.fit(faces, targets, batch_size=32, epochs=epochs, callbacks=[backup], verbose=0).epoch


def _backed_up_epoch(folder: Path) -> int:
    return json.loads((folder / "training_metadata.json").read_text())["epoch"]


def test_periodic_backup_saves_every_epoch_when_saving_is_cheap(tmp_path: Path) -> None:
    backup = PeriodicBackup(tmp_path / "backup", max_overhead=1e9, delete_checkpoint=False)
    _fit(backup, epochs=3)
    assert backup.saves == 3 and _backed_up_epoch(tmp_path / "backup") == 3


def test_periodic_backup_skips_epochs_that_saving_would_slow_down(tmp_path: Path) -> None:
    """With no time to spare for saving, only the first epoch is backed up (it always is), and a
    new fit resumes after that epoch, not from the start."""
    backup = PeriodicBackup(tmp_path / "backup", max_overhead=1e-9, delete_checkpoint=False)
    _fit(backup, epochs=3)
    assert backup.saves == 1 and _backed_up_epoch(tmp_path / "backup") == 1

    resumed = PeriodicBackup(tmp_path / "backup", max_overhead=1e9, delete_checkpoint=False)
    assert _fit(resumed, epochs=3) == [1, 2]  # the 2nd and 3rd epochs, trained again
    assert resumed.saves == 2


def test_a_backup_whose_epoch_record_was_cut_short_resumes_from_the_one_before(tmp_path: Path) -> None:
    """Keras writes training_metadata.json in place: a kill can leave it empty. The double
    checkpoint's earlier copy is used then, as Keras does only for damaged weights."""
    folder = tmp_path / "backup"
    _fit(PeriodicBackup(folder, max_overhead=1e9, double_checkpoint=True, delete_checkpoint=False), epochs=3)
    (folder / "training_metadata.json").write_text("")
    resumed = PeriodicBackup(folder, max_overhead=1e9, double_checkpoint=True, delete_checkpoint=False)
    assert _fit(resumed, epochs=4) == [2, 3]  # the earlier backup was after epoch 2
    (folder / "training_metadata.json").write_text("")
    for earlier in folder.glob("*.bkp"):
        earlier.unlink()
    with pytest.raises(FerError, match="backup is damaged .* and has no earlier copy: delete .*backup to train"):
        _fit(PeriodicBackup(folder, double_checkpoint=True, delete_checkpoint=False), epochs=4)
