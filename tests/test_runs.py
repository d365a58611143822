"""Training runs on the shipped sample: files written, protocols, background life cycle, resume.

The compact CNN keeps most runs to seconds on a CPU; one VGG19 run at 32x32 shows the study's
architectures train through the same path.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from fer import runs
from fer.data import CLASSES, FaceDataset, protocol_splits
from fer.errors import FerError
from fer.predict import classify_faces, load_classifier
from fer.scenarios import SCENARIOS, RunConfig, scenario


def tiny(**overrides: object) -> RunConfig:
    settings = {"arch": "cnn", "epochs": 1, "batch_size": 64, "data": "sample", **overrides}
    return scenario("custom", **settings)


def wait_for(run_id: str, states: tuple[str, ...], timeout: float = 180) -> runs.Run:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = runs.get_run(run_id)
        if run.state in states:
            return run
        time.sleep(0.5)
    raise AssertionError(f"{run_id} still {runs.get_run(run_id).state} after {timeout} s: {runs.get_run(run_id).log_tail()}")


def wait_for_epochs(run_id: str, epochs: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = runs.get_run(run_id).history()
        if history is not None and len(history) >= epochs:
            return
        time.sleep(0.3)
    raise AssertionError(f"{run_id} did not finish {epochs} epoch(s): {runs.get_run(run_id).log_tail()}")


def test_study_scenarios_are_the_four_of_the_study() -> None:
    assert {name: (c.arch, c.balance, c.augment, c.epochs) for name, c in SCENARIOS.items()} == {
        "S1": ("resnet50", "none", True, 100),
        "S2": ("vgg19", "none", True, 100),
        "S3": ("resnet50", "oversample", True, 100),
        "S4": ("vgg19", "oversample", True, 100),
    }
    with pytest.raises(FerError, match="fixes the architecture"):
        scenario("S1", arch="vgg19")
    with pytest.raises(FerError, match="epochs"):
        scenario("S2", epochs=0)
    assert scenario("custom", arch="cnn").learning_rate == 1e-3


def test_vgg19_run_writes_every_file_with_sane_values(sample: FaceDataset) -> None:
    run = runs.start(scenario("S4", epochs=1, batch_size=64, input_size=32, data="sample"), background=False)
    assert run.state == "completed", run.status
    assert {"config.json", "status.json", "history.csv", "metrics.json", "model.keras", "train.log"} <= {
        p.name for p in run.path.iterdir()
    }
    assert not (run.path / "backup").exists()
    config = json.loads((run.path / "config.json").read_text())
    assert config["scenario"] == "S4" and config["data"] == "sample" and config["seed"] == 42

    history = run.history()
    assert list(history["epoch"]) == [1]
    assert {"loss", "accuracy", "test_loss", "test_accuracy", "learning_rate", "train_seconds"} <= set(history)
    assert history[["accuracy", "test_accuracy"]].stack().between(0, 1).all()
    assert (history["train_seconds"] > 0).all()

    metrics = run.metrics()
    test_size = len(protocol_splits(sample, "thesis")["test"])
    assert metrics["test_images"] == test_size
    assert 0 <= metrics["test_accuracy"] <= 1 and 0 <= metrics["precision_macro"] <= 1
    assert np.asarray(metrics["confusion_matrix"]).sum() == test_size
    assert np.trace(metrics["confusion_matrix"]) == round(metrics["test_accuracy"] * test_size)
    assert set(metrics["per_class"]) == set(CLASSES)
    # Oversampled training split: every class as large as happy (152 in the sample), 7 * 152 images.
    assert metrics["train_images"] == 7 * 152
    assert metrics["backend"] == keras.backend.backend() and metrics["weights"].startswith("none")
    assert metrics["train_accuracy"] == pytest.approx(history["accuracy"].iloc[-1])
    assert metrics["test_loss"] == pytest.approx(history["test_loss"].iloc[-1], rel=1e-3)
    assert runs.get_run(run.run_id).status["progress"] == 1.0


def test_standard_protocol_reports_the_best_validation_epoch_on_private_test(sample: FaceDataset) -> None:
    run = runs.start(tiny(epochs=3, protocol="standard", balance="class_weight"), background=False)
    assert run.state == "completed", run.status
    history, metrics = run.history(), run.metrics()
    assert {"validation_loss", "validation_accuracy"} <= set(history) and "test_accuracy" not in history
    assert metrics["test_images"] == len(protocol_splits(sample, "standard")["test"])
    assert metrics["test_split"] == "PrivateTest"
    assert metrics["reported_epoch"] == int(history["validation_accuracy"].idxmax()) + 1
    assert not (run.path / "best.weights.h5").exists()


def test_saved_run_model_loads_safely_and_reproduces_its_metrics(finished_run: str, sample: FaceDataset) -> None:
    run = runs.get_run(finished_run)
    model = load_classifier(run.model_path)
    test = protocol_splits(sample, "thesis")["test"]
    predicted = classify_faces(model, sample.images[test]).argmax(axis=1)
    assert (predicted == sample.labels[test]).mean() == pytest.approx(run.metrics()["test_accuracy"])
    assert getattr(model, "optimizer", None) is None  # inference copy: no Adam state to carry


def test_background_run_goes_queued_running_completed() -> None:
    run = runs.start(tiny(epochs=2), background=True)
    assert run.state in ("queued", "running")  # returned at once
    seen = set()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        state = runs.get_run(run.run_id).state
        seen.add(state)
        if state in ("completed", "failed"):
            break
        time.sleep(0.2)
    assert "running" in seen and state == "completed", runs.get_run(run.run_id).log_tail()
    assert "completed: test accuracy" in runs.get_run(run.run_id).log_tail()


def test_queue_runs_one_at_a_time_and_cancel_stops_a_run() -> None:
    first = runs.start(tiny(epochs=50), background=True)
    second = runs.start(tiny(epochs=1), background=True)
    wait_for_epochs(first.run_id, 1)
    assert runs.get_run(second.run_id).state == "queued"  # the CPU is taken by the first run
    runs.cancel(first.run_id)
    cancelled = wait_for(first.run_id, ("cancelled", "failed"), timeout=60)
    assert cancelled.state == "cancelled" and "resume continues" in cancelled.status["error"]
    assert len(cancelled.history()) < 50
    assert wait_for(second.run_id, ("completed", "failed")).state == "completed"
    with pytest.raises(FerError, match="only queued or running"):
        runs.cancel(first.run_id)


def test_cancel_a_queued_run_and_delete_rules() -> None:
    blocker = runs.start(tiny(epochs=50), background=True)
    waiting = runs.start(tiny(epochs=1), background=True)
    wait_for(blocker.run_id, ("running",), timeout=60)
    with pytest.raises(FerError, match="cancel it before deleting"):
        runs.delete(waiting.run_id)
    runs.cancel(waiting.run_id)
    assert wait_for(waiting.run_id, ("cancelled",), timeout=30).status["error"] == "cancelled while queued"
    runs.cancel(blocker.run_id)
    wait_for(blocker.run_id, ("cancelled",), timeout=60)
    runs.delete(waiting.run_id)
    assert [r.run_id for r in runs.list_runs()] == [blocker.run_id]
    with pytest.raises(FerError, match="no run named"):
        runs.get_run(waiting.run_id)


def test_killed_run_shows_failed_and_resumes_from_its_last_epoch() -> None:
    run = runs.start(tiny(epochs=4), background=True)
    wait_for_epochs(run.run_id, 2)
    pid = json.loads((run.path / "pid.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    failed = wait_for(run.run_id, ("failed",), timeout=10)
    assert "ended without a final state" in failed.status["error"]
    kept = len(failed.history())
    backed_up = int(max(p.name for p in (run.path / "backup").glob("epoch-*.weights.h5"))[6:10])
    # The history row is written before the backup: a kill between them leaves one extra row,
    # which resuming drops and trains again.
    assert kept - 1 <= backed_up <= kept and backed_up >= 1

    resumed = runs.resume(run.run_id, background=False)
    assert resumed.state == "completed", resumed.status
    history = resumed.history()
    assert list(history["epoch"]) == [1, 2, 3, 4]  # no epoch lost or repeated
    assert f"from epoch {backed_up + 1}" in resumed.log_tail(50)
    assert resumed.metrics()["epochs_run"] == 4


def test_reference_runs_export_and_list(finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runs, "REFERENCE_DIR", tmp_path / "reference")
    exported = runs.export_reference(finished_run, tmp_path / "reference")
    assert sorted(p.name for p in exported.iterdir()) == sorted(runs.REFERENCE_FILES)
    (reference,) = runs.reference_runs()
    assert reference.reference and reference.state == "completed"
    assert reference.metrics() == runs.get_run(finished_run).metrics()


def test_cli_train_json_and_bad_options(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "fer", "train", "--arch", "cnn", "--epochs", "1", "--data", "sample", "--json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(result.stdout)
    assert document["status"]["state"] == "completed" and 0 <= document["metrics"]["test_accuracy"] <= 1
    listed = subprocess.run([sys.executable, "-m", "fer", "runs", "--json"], capture_output=True, text=True)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [document["run_id"]]

    for bad in (["train", "--epochs", "0"], ["train", "--data", "full"], ["cancel", "nope"], ["resume", "../x"]):
        failed = subprocess.run([sys.executable, "-m", "fer", *bad], capture_output=True, text=True)
        assert failed.returncode == 2, (bad, failed.stderr)
        assert failed.stderr.startswith("error:") and "Traceback" not in failed.stderr


def test_history_survives_reading_mid_run_as_a_table() -> None:
    """history.csv is replaced atomically: a reader polling it never sees a partial file."""
    run = runs.start(tiny(epochs=3), background=True)
    seen = 0
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and runs.get_run(run.run_id).state in ("queued", "running"):
        history = runs.get_run(run.run_id).history()
        if history is not None:
            assert list(history["epoch"]) == list(range(1, len(history) + 1))
            assert not history.isna().any().any()
            seen = max(seen, len(history))
        time.sleep(0.05)
    assert runs.get_run(run.run_id).state == "completed" and seen >= 1
    assert isinstance(runs.get_run(run.run_id).history(), pd.DataFrame)
