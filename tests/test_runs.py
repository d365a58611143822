"""Training runs on the shipped sample: files written, protocols, background life cycle, resume.

The compact CNN keeps most runs to seconds on a CPU; one VGG19 run at 32x32 shows the study's
architectures train through the same path.
"""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pandas as pd
import pytest

from fer import compare, data, processes, runs, store
from fer.calibrate import FITS, calibrate_run
from fer.dataset import FaceDataset, protocol_splits
from fer.errors import FerError
from fer.evaluate import calibration, fingerprint
from fer.hardware import gpu_names
from fer.inference import classify_faces, load_classifier
from fer.quiet import ABSL_BANNER, NATIVE_LOG_LINE, start_backend_quietly
from fer.scenarios import SCENARIOS, RunConfig, scenario
from fer.temperature import fit_temperature, tempered
from fer.vocab import CLASSES, COPY_DROPS, USAGES

from .conftest import copy_run, planted, write_parquet


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


def wait_until(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for_epochs(run_id: str, epochs: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        history = runs.get_run(run_id).history()
        if history is not None and len(history) >= epochs:
            return
        time.sleep(0.3)
    raise AssertionError(f"{run_id} did not finish {epochs} epoch(s): {runs.get_run(run_id).log_tail()}")


def test_study_scenarios_are_the_four_of_the_study() -> None:
    assert {name: (c.arch, c.balance, c.augment, c.optimizer, c.epochs) for name, c in SCENARIOS.items()} == {
        "S1": ("resnet50", "none", "study", "adam", 100),
        "S2": ("vgg19", "none", "study", "adam", 100),
        "S3": ("resnet50", "oversample", "study", "adam", 100),
        "S4": ("vgg19", "oversample", "study", "adam", 100),
    }
    with pytest.raises(FerError, match="fixes the architecture"):
        scenario("S1", arch="vgg19")
    with pytest.raises(FerError, match="fixes the architecture"):
        scenario("S2", recipe="fer")
    with pytest.raises(FerError, match="epochs"):
        scenario("S2", epochs=0)


def test_recipes_fill_a_custom_run_and_explicit_settings_win() -> None:
    fer = scenario("custom", arch="fer_cnn")
    assert (fer.optimizer, fer.schedule, fer.augment, fer.label_smoothing, fer.tta) == (
        "sgd", "cosine", "crop_flip", 0.1, "shift"
    )
    assert scenario("custom", arch="vgg19").optimizer == "adam"
    assert scenario("custom", recipe="study", arch="fer_cnn", learning_rate=0.01).learning_rate == 0.01
    with pytest.raises(FerError, match="unknown recipe"):
        scenario("custom", recipe="magic")
    # Runs written before augmentation had names stored a bool.
    assert RunConfig.from_dict({"arch": "cnn", "augment": False}).augment == "none"


def test_vgg19_run_writes_every_file_and_its_numbers_agree(sample: FaceDataset) -> None:
    policy = keras.mixed_precision.global_policy().name
    run = runs.start(scenario("S4", epochs=1, batch_size=64, input_size=32, data="sample"), background=False)
    assert run.state == "completed", run.status
    assert keras.mixed_precision.global_policy().name == policy  # the run's policy did not leak
    assert {"config.json", "status.json", "history.csv", "metrics.json", "probabilities.npz", "test_labels.npz", "model.keras"} <= {
        p.name for p in run.path.iterdir()
    }
    assert not (run.path / "backup").exists()
    config = json.loads((run.path / "config.json").read_text())
    assert config["scenario"] == "S4" and config["data"] == "sample" and config["seed"] == 42

    history = run.history()
    assert list(history["epoch"]) == [1]
    assert {"loss", "accuracy", "test_loss", "test_accuracy", "learning_rate", "train_seconds"} <= set(history)

    metrics = run.metrics()
    test = protocol_splits(sample, "thesis")["test"]
    probabilities = run.probabilities()
    assert probabilities.shape == (len(test), len(CLASSES)) and np.load(run.path / "probabilities.npz")["probabilities"].dtype == np.float16
    np.testing.assert_array_equal(run.test_labels(), sample.labels[test])
    # The metrics are those of the kept probabilities (float16 rounding aside).
    assert (probabilities.argmax(1) == sample.labels[test]).mean() == pytest.approx(metrics["test_accuracy"], abs=2 / len(test))
    assert np.asarray(metrics["confusion_matrix"]).sum() == len(test)
    assert np.trace(metrics["confusion_matrix"]) == round(metrics["test_accuracy"] * len(test))
    # Oversampled training split: every class as large as happy (152 in the sample), 7 * 152 images.
    assert metrics["train_images"] == 7 * 152
    assert metrics["backend"] == keras.backend.backend() and metrics["weights"].startswith("none")
    assert metrics["train_accuracy"] == pytest.approx(history["accuracy"].iloc[-1])
    assert metrics["test_loss"] == pytest.approx(history["test_loss"].iloc[-1], rel=1e-3)
    assert runs.get_run(run.run_id).status["progress"] == 1.0


def test_drop_copies_trains_without_the_training_copies_of_held_out_faces(sample: FaceDataset, tmp_path: Path) -> None:
    dataset, _ = planted(sample)  # a PrivateTest and a PublicTest face are copies of Training faces, another a near copy
    data.import_dataset(write_parquet(tmp_path / "planted.parquet", dataset))
    trained, logs, seen = {}, {}, {}
    for drop in COPY_DROPS:
        run = runs.start(scenario("custom", arch="cnn", epochs=1, batch_size=64, drop_copies=drop), background=False)
        assert run.state == "completed", run.status
        trained[drop], logs[drop] = run.metrics()["train_images"], (run.path / "train.log").read_text()
        assert run.config.summary.count("dropped from training") == (drop != "none")
        # The run keeps its score split by what it saw; worked out again from its probabilities, it is the same.
        seen[drop] = store.seen_in_training(run.metrics())
        copied = copy_run(run.run_id, "unkept", metrics={store.SEEN_IN_TRAINING: None})
        assert compare.run_seen_in_training(runs.get_run(copied)) == seen[drop]
    # Of the 28 test faces, two are copies of Training faces and one a near copy, until the run drops them.
    assert {drop: (split["test_images"], split["copies"], split["near_copies"]) for drop, split in seen.items()} == {
        "none": (28, 2, 1), "exact": (28, 0, 1), "near": (28, 0, 0)
    }
    assert seen["near"]["accuracy_copies"] is None and seen["near"]["accuracy_near"] is None
    assert seen["near"]["accuracy_others"] == runs.get_run(run.run_id).metrics()["test_accuracy"]
    # The two Training faces copied in held-out splits are left out, then the near copy's original; the pair within Training stays.
    assert trained == {"none": 14, "exact": 12, "near": 11}
    assert "left out 2 Training faces that are copies of held-out faces" in logs["exact"]
    assert "left out 3 Training faces that are copies or near copies of held-out faces" in logs["near"]
    assert "left out" not in logs["none"]


def test_a_standard_protocol_run_on_data_without_private_test_is_refused_before_any_folder(sample: FaceDataset) -> None:
    keep = sample.usage != USAGES.index("PrivateTest")
    data.save_cache(FaceDataset(sample.images[keep], sample.labels[keep], sample.usage[keep], "no-private"))
    with pytest.raises(FerError, match="the standard protocol needs PrivateTest images, and no-private has none"):
        runs.create_run(tiny(protocol="standard", data="full"))
    assert runs.list_runs() == []
    assert runs.create_run(tiny(protocol="thesis", data="full")).config.data == "full"


def test_standard_protocol_reports_the_best_validation_epoch_on_private_test(sample: FaceDataset) -> None:
    run = runs.start(tiny(epochs=3, protocol="standard", balance="class_weight"), background=False)
    assert run.state == "completed", run.status
    history, metrics = run.history(), run.metrics()
    assert {"validation_loss", "validation_accuracy"} <= set(history) and "test_accuracy" not in history
    assert metrics["test_images"] == len(protocol_splits(sample, "standard")["test"])
    assert metrics["test_split"] == "PrivateTest"
    assert metrics["reported_epoch"] == int(history["validation_accuracy"].idxmax()) + 1
    assert not (run.path / "best.weights.h5").exists()
    # The saved model is the reported epoch's: its PublicTest accuracy is that epoch's.
    validation = protocol_splits(sample, "standard")["validation"]
    predicted = classify_faces(load_classifier(run.model_path), sample.images[validation]).argmax(1)
    best = history["validation_accuracy"].max()
    assert (predicted == sample.labels[validation]).mean() == pytest.approx(best, abs=3 / len(validation))  # bf16 vs float32
    # It fitted its temperature on those PublicTest faces, and scored the scaled PrivateTest ones.
    scaling = metrics["temperature_scaling"]
    assert (scaling["fitted_on"], scaling["fitted_images"]) == ("PublicTest", len(validation))
    tta = run.config.tta
    again = classify_faces(load_classifier(run.model_path), sample.images[validation], tta=tta)
    assert scaling["temperature"] == pytest.approx(fit_temperature(sample.labels[validation], again), rel=1e-3)
    test = protocol_splits(sample, "standard")["test"]
    scaled = tempered(run.probabilities(), scaling["temperature"])  # the kept probabilities are the network's own
    assert store.temperature_scaling(metrics)[1] == pytest.approx(calibration(sample.labels[test], scaled)["ece"], abs=2e-3)
    # Class weights made it learn the emotions evenly: its balanced answers take nothing out (strength 0).
    balanced = store.balanced_answers(metrics)
    assert balanced.strength == 0.0 and balanced.metrics["fitted_images"] == len(validation)
    assert balanced.metrics["shares"] == pytest.approx([1 / len(CLASSES)] * len(CLASSES))
    assert balanced.metrics["test_accuracy"] == metrics["test_accuracy"]
    # Fitted again from the model file, as for a run trained before runs kept them: the same fits.
    store.write_metrics(run.path, {key: value for key, value in metrics.items() if key not in FITS})
    assert store.balanced_answers(run.metrics()) is None
    heard: list[tuple[float, str]] = []
    calibrate_run(runs.get_run(run.run_id), progress=lambda fraction, message: heard.append((fraction, message)))
    assert [fraction for fraction, _ in heard] == [0.0, 0.5, 1.0]
    assert heard[1][1] == f"classifying its {len(validation):,} validation faces and fitting"
    again = run.metrics()
    for key in FITS:
        assert again[key]["temperature"] == pytest.approx(metrics[key]["temperature"], rel=1e-4)
        assert again[key]["ece"] == pytest.approx(metrics[key]["ece"], abs=1e-4)
    assert {key: again[key] for key in metrics if key not in FITS} == {key: metrics[key] for key in metrics if key not in FITS}


def test_only_a_completed_standard_protocol_run_with_its_model_is_calibrated(finished_run: str) -> None:
    thesis = runs.get_run(finished_run)
    with pytest.raises(FerError, match="thesis protocol, whose test faces were its only held-out faces"):
        calibrate_run(thesis)
    elsewhere = runs.get_run(copy_run(finished_run, "other", config={"protocol": "standard"}, metrics={"test_set": "0" * 16}))
    with pytest.raises(FerError, match="scored on other test faces than those of the shipped sample"):
        calibrate_run(elsewhere)
    standard = runs.get_run(copy_run(finished_run, "standard", config={"protocol": "standard"}))
    standard.model_path.unlink()
    with pytest.raises(FerError, match="kept no model file"):
        calibrate_run(standard)
    queued = runs.create_run(tiny(protocol="standard"))
    with pytest.raises(FerError, match="has not completed"):
        calibrate_run(queued)
    assert not (queued.path / "metrics.json").exists()


def test_a_compact_run_fine_tunes_another_runs_model(finished_run: str) -> None:
    """A run whose weights are a finished run's ``model.keras`` starts where that run ended: at a
    learning rate too small to move them, its saved kernels are that run's; a fresh start's are not."""
    source = runs.get_run(finished_run)
    settings = {"augment": "photo", "learning_rate": 1e-7}
    tuned = runs.start(tiny(weights=str(source.model_path), **settings), background=False)
    fresh = runs.start(tiny(**settings), background=False)
    assert tuned.state == fresh.state == "completed", tuned.status
    assert tuned.metrics()["weights"] == f"file {source.model_path}"

    def kernels(run: runs.Run) -> list[np.ndarray]:  # batch normalisation's running statistics left out: they move
        return [weight.numpy() for weight in load_classifier(run.model_path).weights if weight.path.endswith("kernel")]

    start = kernels(source)
    assert all(np.abs(tuned_kernel - kernel).max() < 1e-4 for tuned_kernel, kernel in zip(kernels(tuned), start, strict=True))
    assert all(np.abs(fresh_kernel - kernel).max() > 5e-3 for fresh_kernel, kernel in zip(kernels(fresh), start, strict=True))


def test_saved_run_model_loads_safely_and_reproduces_its_metrics(finished_run: str, sample: FaceDataset) -> None:
    run = runs.get_run(finished_run)
    assert run.config.tta == "shift"  # the compact CNN's recipe: the metrics are with its 10 views
    model = load_classifier(run.model_path)
    assert getattr(model, "optimizer", None) is None  # inference copy: no optimizer state to carry
    assert {weight.dtype for weight in model.weights} == {"float32"}  # stored as float16, computed in float32
    test = protocol_splits(sample, "thesis")["test"]
    predicted = classify_faces(model, sample.images[test], tta="shift").argmax(axis=1)
    assert (predicted == sample.labels[test]).mean() == pytest.approx(run.metrics()["test_accuracy"])


@pytest.mark.slow
def test_background_run_goes_queued_running_completed_and_is_reaped() -> None:
    run = runs.start(tiny(epochs=2), background=True)
    assert run.state in ("queued", "running")  # returned at once
    pid = json.loads((run.path / "pid.json").read_text())["pid"]  # the worker's, written as it was launched
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
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), 10, "the finished worker to be reaped (no <defunct> child)")
    assert not (run.path / "pid.json").exists()  # a finished worker leaves no pid behind (see delete)


@pytest.mark.slow
def test_queue_trains_one_run_per_slot_and_cancel_stops_a_run() -> None:
    slots = max(1, len(gpu_names()))  # one run per GPU, one on a CPU-only machine
    first = [runs.start(tiny(epochs=50), background=True) for _ in range(slots)]
    waiting = runs.start(tiny(epochs=1), background=True)
    for run in first:
        wait_for_epochs(run.run_id, 1)
    assert runs.get_run(waiting.run_id).state == "queued"  # every slot is taken
    runs.cancel(first[0].run_id)
    cancelled = wait_for(first[0].run_id, ("cancelled", "failed"), timeout=60)
    assert cancelled.state == "cancelled" and "resume continues" in cancelled.status["error"]
    assert len(cancelled.history()) < 50
    assert wait_for(waiting.run_id, ("completed", "failed")).state == "completed"
    for run in first[1:]:
        runs.cancel(run.run_id)
    with pytest.raises(FerError, match="only queued or running"):
        runs.cancel(first[0].run_id)


RESUME_TWICE = """
import sys
from fer import runs
from fer.errors import FerError
try:
    print(runs.resume(sys.argv[1], background=True).state)
except FerError as error:
    print("refused:", error)
"""


@pytest.mark.slow
def test_two_resumes_at_once_start_one_worker_and_a_finishing_run_is_not_deleted(monkeypatch: pytest.MonkeyPatch) -> None:
    run = runs.start(tiny(epochs=30), background=True)
    wait_for(run.run_id, ("running",), timeout=60)
    runs.cancel(run.run_id)
    wait_for(run.run_id, ("cancelled",), timeout=60)
    both = [subprocess.Popen([sys.executable, "-c", RESUME_TWICE, run.run_id], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    said = sorted(process.communicate(timeout=120)[0].strip() for process in both)
    assert said[0] in ("queued", "running") and said[1].startswith(f"refused: run {run.run_id} is "), said
    assert said[1].endswith("only failed or cancelled runs can be resumed")
    runs.cancel(run.run_id)
    cancelled = wait_for(run.run_id, ("cancelled",), timeout=60)
    assert cancelled.status["message"] is None
    # Finished, but as if its process were still removing its backup: delete waits for it.
    runs._write_pid(run.path, os.getpid())
    with pytest.raises(FerError, match="its process is still finishing: delete it in a moment"):
        runs.delete(run.run_id)
    (run.path / "pid.json").unlink()
    runs.delete(run.run_id)
    assert not run.path.exists()


@pytest.mark.slow
def test_cancel_a_queued_run_and_delete_rules() -> None:
    blockers = [runs.start(tiny(epochs=50), background=True) for _ in range(max(1, len(gpu_names())))]
    waiting = runs.start(tiny(epochs=1), background=True)
    for blocker in blockers:
        wait_for(blocker.run_id, ("running",), timeout=60)
    with pytest.raises(FerError, match="cancel it before deleting"):
        runs.delete(waiting.run_id)
    runs.cancel(waiting.run_id)
    assert wait_for(waiting.run_id, ("cancelled",), timeout=30).status["error"] == "cancelled while queued"
    for blocker in blockers:
        runs.cancel(blocker.run_id)
        wait_for(blocker.run_id, ("cancelled",), timeout=60)
    runs.delete(waiting.run_id)
    assert {r.run_id for r in runs.list_runs()} == {blocker.run_id for blocker in blockers}
    with pytest.raises(FerError, match="no run named"):
        runs.get_run(waiting.run_id)


@pytest.mark.slow
def test_killed_run_shows_failed_and_resumes_from_its_last_epoch() -> None:
    run = runs.start(tiny(epochs=4), background=True)
    wait_for_epochs(run.run_id, 2)
    pid = json.loads((run.path / "pid.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    failed = wait_for(run.run_id, ("failed",), timeout=10)
    assert "ended without a final state" in failed.status["error"]
    assert failed.status["message"] is None  # not the progress it last reported, as if still going
    kept = len(failed.history())
    backed_up = json.loads((run.path / "backup" / "training_metadata.json").read_text())["epoch"]
    # The history row is written before the backup: a kill between them leaves one extra row,
    # which resuming drops and trains again.
    assert kept - 1 <= backed_up <= kept and backed_up >= 1

    resumed = runs.resume(run.run_id, background=False)
    assert resumed.state == "completed", resumed.status
    assert list(resumed.history()["epoch"]) == [1, 2, 3, 4]  # no epoch lost or repeated
    assert resumed.metrics()["epochs_run"] == 4
    assert not (run.path / "backup").exists()


KILL_AT_THE_SECOND_ROW = """
import os
from fer import runs, store
from fer.scenarios import scenario
write_history = store.write_history
store.write_history = lambda path, rows: os._exit(9) if len(rows) == 2 else write_history(path, rows)
runs.start(scenario("custom", arch="cnn", epochs=3, batch_size=64, data="sample"), background=False)
"""


@pytest.mark.slow
def test_a_run_killed_as_it_records_an_epoch_resumes_without_a_gap() -> None:
    """Killed while writing epoch 2's row: that epoch is trained again, never skipped (its backup
    must not be on disk before its row is)."""
    killed = subprocess.run([sys.executable, "-c", KILL_AT_THE_SECOND_ROW], check=False, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 9, killed.stderr[-2000:]
    (run,) = runs.list_runs()
    assert run.state == "failed" and list(run.history()["epoch"]) == [1]
    resumed = runs.resume(run.run_id, background=False)
    assert resumed.state == "completed", resumed.status
    assert list(resumed.history()["epoch"]) == [1, 2, 3] and resumed.metrics()["epochs_run"] == 3


KILL_BEFORE_RESULTS = """
import os, sys
from fer import data, runs, store
from fer.scenarios import scenario
store.write_results = lambda *args: os._exit(9)  # killed after the model, before the metrics
runs.start(scenario("custom", arch="cnn", epochs=2, batch_size=64, data="sample"), background=False)
"""


@pytest.mark.slow
def test_a_run_killed_at_its_end_is_never_trained_again() -> None:
    """Killed after the model was saved but before the metrics: resume only evaluates again.
    Killed after the metrics but before the final state: it is complete as it stands."""
    killed = subprocess.run([sys.executable, "-c", KILL_BEFORE_RESULTS], check=False, capture_output=True, text=True, timeout=300)
    assert killed.returncode == 9, killed.stderr[-2000:]
    (run,) = runs.list_runs()
    assert run.state == "failed" and (run.path / "model.keras").exists() and run.metrics() is None
    resumed = runs.resume(run.run_id, background=False)
    assert resumed.state == "completed", resumed.status
    assert list(resumed.history()["epoch"]) == [1, 2]
    assert resumed.log_tail(50).count("epoch 2/2:") == 1  # trained once, before the kill

    # As if killed between the metrics and the final state: the process is gone, the results are there.
    finished = subprocess.Popen(["true"])
    finished.wait()
    store.write_status(run.path, state="running")
    (run.path / "pid.json").write_text(json.dumps({"pid": finished.pid, "start": "0"}))
    assert runs.get_run(run.run_id).state == "completed"


def test_an_unreadable_run_is_listed_with_its_reason(finished_run: str) -> None:
    broken = runs.get_run(finished_run).path.parent / "20990101-000000-custom-cnn-dead"
    broken.mkdir()
    (broken / "config.json").write_text('{"arch": "transformer"}')
    listed = {run.run_id: run for run in runs.list_runs()}
    assert listed[broken.name].state == "unreadable" and "architecture must be one of" in listed[broken.name].status["error"]
    assert listed[finished_run].state == "completed"
    assert runs.runs_table(list(listed.values())).set_index("run").loc[broken.name, "state"] == "unreadable"


def test_reference_runs_export_and_list(finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_REFERENCE", str(tmp_path / "reference"))
    exported = store.export_reference(runs.get_run(finished_run), store.reference_dir())
    assert sorted(p.name for p in exported.iterdir()) == sorted([*store.REFERENCE_FILES, "probabilities.npz", "test_labels.npz"])
    (reference,) = store.reference_runs()
    assert reference.reference and reference.state == "completed"
    assert reference.metrics() == runs.get_run(finished_run).metrics()
    np.testing.assert_array_equal(reference.test_labels(), runs.get_run(finished_run).test_labels())
    # Committed probabilities are one byte each: within a step of 1/255 (1.5 for a lifted near-tie), top class exact.
    kept, trained = reference.probabilities(), runs.get_run(finished_run).probabilities()
    assert np.load(exported / "probabilities.npz")["probabilities"].dtype == np.uint8
    np.testing.assert_array_equal(kept.argmax(1), trained.argmax(1))
    np.testing.assert_allclose(kept, trained, atol=1.5 / store.PROBABILITY_STEPS)


def test_compact_probabilities_keep_every_top_class_and_steps_of_1_255() -> None:
    near_tie = np.array([100.3, 100.4, 54.3, 0, 0, 0, 0]) / 255  # both leaders round to 100 steps
    compact = store.compact_probabilities(np.array([near_tie, [0, 0, 0, 0, 0, 0, 1]]))
    assert compact.dtype == np.uint8
    assert compact.tolist() == [[100, 101, 54, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 255]]  # the true leader lifted a step
    rows = np.random.default_rng(0).dirichlet(np.full(7, 0.3), size=5000)
    compact = store.compact_probabilities(rows)
    np.testing.assert_array_equal(compact.argmax(1), rows.argmax(1))
    assert np.abs(compact / store.PROBABILITY_STEPS - rows).max() <= 1.5 / store.PROBABILITY_STEPS


def test_cli_train_json_and_bad_options(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "fer", "train", "--arch", "cnn", "--epochs", "1", "--data", "sample", "--json"]
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(result.stdout)
    assert document["status"]["state"] == "completed"
    assert ABSL_BANNER not in result.stderr  # the backend's start-up chatter is not shown
    assert not [line for line in result.stderr.splitlines() if (m := NATIVE_LOG_LINE.match(line)) and m["level"] in "IW"]
    metrics = document["metrics"]
    assert np.trace(metrics["confusion_matrix"]) == round(metrics["test_accuracy"] * metrics["test_images"])
    listed = subprocess.run([sys.executable, "-m", "fer", "runs", "--json"], check=False, capture_output=True, text=True)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [document["run_id"]]

    for bad in (["train", "--epochs", "0"], ["train", "--data", "full"], ["cancel", "nope"], ["resume", "../x"]):
        failed = subprocess.run([sys.executable, "-m", "fer", *bad], check=False, capture_output=True, text=True)
        assert failed.returncode == 2, (bad, failed.stderr)
        assert failed.stderr.startswith("error:") and "Traceback" not in failed.stderr


STARTUP_LINES = [
    ABSL_BANNER,
    "I0000 00:00:1795930971.337833   23967 port.cc:153] oneDNN custom operations are on.",
    "E0000 00:00:1795930973.595601   23967 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)",
    "W0000 00:00:1795930973.595601   23967 util.cc:10] TF_ENABLE_ONEDNN_OPTS is not set to either '0' or '1'",
    "E0000 00:00:1795930973.595601   23967 other.cc:1] a real error",
    "/x/keras/src/backend.py:3: UserWarning: something the user should see",
]


@pytest.mark.parametrize("gpus", [(), ("NVIDIA H200",)])
def test_backend_start_up_chatter_is_dropped_and_the_rest_passed_on(
    gpus: tuple[str, ...], monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("fer.hardware.gpu_names", lambda: gpus)
    monkeypatch.setattr(keras.ops, "convert_to_numpy", lambda x: os.write(2, "\n".join(STARTUP_LINES).encode() + b"\n"))
    start_backend_quietly()
    kept = capfd.readouterr().err.splitlines()
    # The cuInit failure is expected noise only where there is no GPU for CUDA to find.
    assert kept == ([STARTUP_LINES[2]] if gpus else []) + STARTUP_LINES[3:]
    os.write(2, b"stderr is back\n")
    assert capfd.readouterr().err == "stderr is back\n"


def test_a_backend_that_fails_to_start_says_why(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    def fail(x: object) -> None:
        os.write(2, "\n".join(STARTUP_LINES[3:5]).encode() + b"\n")
        raise RuntimeError("no backend")

    monkeypatch.setattr(keras.ops, "convert_to_numpy", fail)
    with pytest.raises(RuntimeError, match="no backend"):
        start_backend_quietly()
    assert capfd.readouterr().err.splitlines() == STARTUP_LINES[3:5]
    unknown = subprocess.run(
        [sys.executable, "-m", "fer", "train", "--arch", "cnn", "--epochs", "1", "--data", "sample"],
        check=False, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "nonexistent"},
    )
    assert unknown.returncode == 2 and unknown.stderr == "error: Keras can't start its backend (Unable to import backend : nonexistent)\n"


ABORTING = """
import os, keras
from fer.quiet import start_backend_quietly
def abort(x):
    os.write(2, b"F0000 00:00:1795930973.595601   23967 flags.cc:7] Unknown flag in TF_XLA_FLAGS: --bogus\\n")
    os.abort()
keras.ops.convert_to_numpy = abort
start_backend_quietly()
"""


def test_a_start_up_that_aborts_the_process_still_shows_its_reason() -> None:
    done = subprocess.run(
        [sys.executable, "-c", ABORTING], check=False, capture_output=True, text=True, cwd=Path(__file__).parents[1]
    )
    assert done.returncode != 0 and "Unknown flag in TF_XLA_FLAGS: --bogus" in done.stderr


def test_history_is_replaced_whole_or_not_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reader polling history.csv mid-run sees the old rows or the new ones, never half a file."""
    store.write_history(tmp_path, [{"epoch": 1, "loss": 1.5}])
    monkeypatch.setattr(os, "replace", lambda *args: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        store.write_history(tmp_path, [{"epoch": 1, "loss": 1.5}, {"epoch": 2, "loss": 1.2}])
    assert pd.read_csv(tmp_path / "history.csv").to_dict("records") == [{"epoch": 1, "loss": 1.5}]
    assert [p.name for p in tmp_path.iterdir()] == ["history.csv"]  # no temporary file left behind


def test_a_run_is_never_resumed_on_other_faces_than_it_started_on(sample: FaceDataset) -> None:
    done = runs.start(tiny(epochs=1), background=False)
    assert done.status["data_fingerprint"] == fingerprint(sample.images, sample.labels, sample.usage)
    run = runs.create_run(tiny(epochs=1))
    store.write_status(run.path, state="failed", data_fingerprint="0123456789abcdef")  # as if FER2013 was imported again
    refused = runs.resume(run.run_id, background=False)
    assert refused.state == "failed" and refused.history() is None
    assert refused.status["error"].startswith("the sample data changed since this run started (imported again, from")


def test_a_run_executed_with_extra_callbacks_is_seen_running_as_it_trains(monkeypatch: pytest.MonkeyPatch) -> None:
    """A script's own callbacks (the default model's time-to-accuracy) go through :func:`runs.execute`,
    so the run has a live pid file: without it, it would read as failed, with a Resume button that
    starts a second trainer on the same folder."""
    monkeypatch.setattr(processes, "PID_GRACE_S", 0.0)  # no grace: only a live process keeps a run active
    run = runs.create_run(tiny(epochs=2))
    seen: list[str] = []

    class Watch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seen.append(runs.get_run(run.run_id).state)

    assert runs.execute(run.run_id, callbacks=[Watch()]) == "completed"
    assert seen == ["running", "running"]  # the callback ran at each epoch, the run read as running
    assert not (run.path / "pid.json").exists()


def test_the_default_model_script_trains_as_a_queued_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """``make_default_model train``, on the sample with a mark at minute 0: the run is running while it
    trains (not failed for want of a pid file), and the time-to-accuracy row is written."""
    from scripts import make_default_model

    monkeypatch.setattr(processes, "PID_GRACE_S", 0.0)
    monkeypatch.setattr(make_default_model, "scenario", lambda *args, **settings: tiny(epochs=1))
    monkeypatch.setattr(make_default_model, "MARKS_MINUTES", (0,))
    sample_only = SimpleNamespace(load_dataset=lambda name: data.load_sample())  # its PrivateTest faces
    monkeypatch.setattr(make_default_model, "data", sample_only)
    seen: list[str] = []
    record = make_default_model.TimeToAccuracy.on_epoch_end

    def watched(self: keras.callbacks.Callback, epoch: int, logs: dict | None = None) -> None:
        seen.extend(run.state for run in runs.list_runs())
        record(self, epoch, logs)

    monkeypatch.setattr(make_default_model.TimeToAccuracy, "on_epoch_end", watched)
    make_default_model.train(epochs=1)
    (run,) = runs.list_runs()
    assert seen == ["running"] and run.state == "completed", run.status
    rows = (run.path / "time_to_accuracy.csv").read_text().splitlines()
    assert rows[0] == "minutes_trained,epoch,privatetest_accuracy" and rows[1].split(",")[1] == "1"


def test_a_run_in_this_process_leaves_its_random_generators_and_logging_as_they_were() -> None:
    """A foreground run (``--seeds N``, a script, a test) gives the process back its random
    states and closes its log: later draws are not fixed by the run's seed, and N runs do not
    keep N log files open."""
    from fer.train import run_training

    def draws() -> tuple[float, float]:
        return random.random(), float(np.random.random())

    done = runs.create_run(tiny(epochs=1))
    refused = runs.create_run(tiny(epochs=1))
    store.write_status(refused.path, data_fingerprint="0123456789abcdef")  # fails as it starts, after seeding
    for run, state in ((done, "completed"), (refused, "failed")):
        random.seed(7)
        np.random.seed(7)
        expected = draws()
        random.seed(7)
        np.random.seed(7)
        assert run_training(run.path) == state
        assert draws() == expected, state
        log_file = str(run.path / "train.log")
        handlers = logging.getLogger(f"fer.run.{run.run_id}").handlers
        assert not [handler for handler in handlers if getattr(handler, "baseFilename", "") == log_file]
        assert log_file not in {os.path.realpath(fd) for fd in Path("/proc/self/fd").glob("*")}, "train.log left open"


def test_only_the_worker_process_pins_itself_to_its_slots_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    """:func:`runs.execute` is a library call and leaves the environment alone; the worker, a process
    that exists for one run, hides the GPUs of other slots from the backend it is about to start."""
    from fer import hardware, train, worker

    def two_gpus() -> tuple[str, ...]:
        return ("GPU 0", "GPU 1")

    monkeypatch.setattr(runs, "gpu_names", two_gpus)
    monkeypatch.setattr(hardware, "gpu_names", two_gpus)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)  # and restored after the test
    visible: list[str | None] = []

    def record(path: Path, on_status: object = None, callbacks: object = None) -> str:
        visible.append(os.environ.get("CUDA_VISIBLE_DEVICES"))
        store.write_status(path, state="completed")
        return "completed"

    monkeypatch.setattr(train, "run_training", record)
    assert runs.execute(runs.create_run(tiny()).run_id) == "completed"
    assert "CUDA_VISIBLE_DEVICES" not in os.environ
    assert worker.main([runs.create_run(tiny()).run_id]) == 0
    assert visible == [None, "0"]


@pytest.mark.slow
def test_runs_on_jax_keep_their_compiled_steps_for_later_processes(artifacts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A background run (the worker) and a foreground one (``python -m fer``) share JAX's
    compilation cache under the artifacts folder: the same network and batch again compiles
    nothing new, another batch size adds its own steps."""
    pytest.importorskip("jax", reason="JAX is not installed (requirements-dev.txt installs it for CPU)")
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")  # keep even the CNN's quick compiles
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    cache = artifacts / "cache" / "jax"

    def kept() -> set[str]:
        return {path.name for path in cache.iterdir()} if cache.exists() else set()

    def foreground(batch_size: int) -> None:
        command = [sys.executable, "-m", "fer", "train", "--arch", "cnn", "--epochs", "1", "--data", "sample",
                   "--batch-size", str(batch_size), "--json"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-2000:]

    run = runs.start(tiny(), background=True)  # batch 64, in the worker
    assert wait_for(run.run_id, ("completed", "failed")).state == "completed", run.log_tail()
    after_worker = kept()
    assert any(name.startswith("jit_train_step") for name in after_worker), sorted(after_worker)
    foreground(64)  # found every step it needed: wrote none
    assert kept() == after_worker
    foreground(32)  # the same cache, other shapes: new steps
    assert any(name.startswith("jit_train_step") for name in kept() - after_worker)


def test_a_user_chosen_compilation_cache_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from fer.hardware import keep_compilations

    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", "/mine")
    keep_compilations(tmp_path)
    assert os.environ["JAX_COMPILATION_CACHE_DIR"] == "/mine"
    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR")
    keep_compilations(tmp_path)
    assert os.environ["JAX_COMPILATION_CACHE_DIR"] == str(tmp_path)


@pytest.mark.parametrize(
    ("finished", "said"),
    [
        (0, "cancelled before the first epoch finished; resume starts it again"),
        (1, "cancelled after 1/3 epochs; resume continues from epoch 2"),
    ],
)
def test_a_cancelled_run_says_how_far_it_got_and_where_a_resume_starts(
    finished: int, said: str, tmp_path: Path
) -> None:
    """A run cancelled in its first epoch kept nothing: "resume continues from epoch 1" would
    suggest otherwise. The recorder stops the run at its next batch with the status's words."""
    from fer.callbacks import RunCancelled, RunRecorder

    history = [{"epoch": epoch + 1} for epoch in range(finished)]
    recorder = RunRecorder(tmp_path, tiny(epochs=3), "test", 10, history, logging.getLogger("test"), None)
    (tmp_path / "cancel").touch()
    with pytest.raises(RunCancelled) as cancelled:
        recorder.on_train_batch_begin(0)
    assert str(cancelled.value) == said and cancelled.value.epochs_done == finished


def test_a_status_line_counts_epochs_in_words() -> None:
    assert runs.status_summary({"state": "completed", "epoch": 1, "epochs": 1}) == "completed after 1/1 epoch"
    assert runs.status_summary({"state": "failed", "epoch": 2, "epochs": 5}) == "failed after 2/5 epochs"
    assert runs.status_summary({"state": "running", "epoch": 1, "epochs": 1}) == "training done (1 epoch), evaluating"
    assert runs.state_summary({"state": "queued", "message": "waiting for a free slot"}) == "queued: waiting for a free slot"
    assert runs.state_summary({"state": "unreadable", "error": "bad config"}) == "unreadable"
