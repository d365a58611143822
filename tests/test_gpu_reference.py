"""The GPU machine's one program (scripts/gpu_reference.py), run here on the sample with the
compact CNN: what it brings back, and how it keeps to its time budget."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from fer import robustness

ROOT = Path(__file__).resolve().parents[1]


def gpu_reference(out_dir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "scripts.gpu_reference", "--data-dir", "fer/sample", "--out-dir", str(out_dir), *options]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


@pytest.mark.slow
def test_each_completed_run_comes_back_as_its_own_reference_archive(tmp_path: Path) -> None:
    done = gpu_reference(tmp_path, "--scenarios", "cnn", "--cnn-epochs", "2", "--photo-epochs", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    kept = {}
    for name in ("cnn", "cnn_photo"):
        with tarfile.open(tmp_path / f"reference-{name}.tar.gz") as archive:
            names = archive.getnames()
            (run_id,) = {name.split("/")[1] for name in names if name.count("/") == 2}
            expected = {"config.json", "status.json", "history.csv", "metrics.json", "probabilities.npz", "test_labels.npz", "model.keras",
                        "robustness.npz"}  # measured on worse photos there: see below
            assert {name.rsplit("/", 1)[1] for name in names if name.count("/") == 2} == expected
            kept[name] = (run_id, *(json.load(archive.extractfile(f"reference/{run_id}/{file}")) for file in ("config.json", "metrics.json")))
    (base_id, _, metrics), (_, tuned, tuned_metrics) = kept["cnn"], kept["cnn_photo"]
    assert metrics["epochs_run"] == 2 and metrics["protocol"] == "standard" and metrics["wall_seconds"] > 0
    # The second stage: the first run's model fine-tuned with the photo augmentation, named where a commit puts it.
    assert (tuned["augment"], tuned["learning_rate"], tuned_metrics["epochs_run"]) == ("photo", 0.01, 1)
    assert tuned["weights"] == str(tmp_path / "no-reference-runs" / base_id / "model.keras")  # FER_REFERENCE, in tests
    assert "balanced_answers" in tuned_metrics and "temperature_scaling" in tuned_metrics
    # Both models that could become the default were measured on worse photos, on the GPU machine.
    assert robustness.stored(metrics) is not None and robustness.stored(tuned_metrics).tta == tuned["tta"]
    log = (tmp_path / "progress.log").read_text()
    assert "cnn: test accuracy" in log and "wrote reference-cnn.tar.gz" in log and "wrote reference-cnn_photo.tar.gz" in log
    assert "cnn_photo: on worse photos (" in log


def test_a_run_that_cannot_fit_the_budget_is_not_started(tmp_path: Path) -> None:
    done = gpu_reference(tmp_path, "--scenarios", "cnn", "--budget-s", "10")
    assert done.returncode == 0, done.stderr[-3000:]
    assert not list(tmp_path.glob("reference-*"))
    assert "cnn: not started at batch 128" in (tmp_path / "progress.log").read_text()


@pytest.mark.slow
def test_a_run_whose_epochs_show_it_cannot_finish_is_cancelled_then_tried_at_batch_256(tmp_path: Path) -> None:
    done = gpu_reference(tmp_path, "--scenarios", "cnn", "--cnn-epochs", "1000", "--budget-s", "75")
    assert done.returncode == 0, done.stderr[-3000:]
    log = (tmp_path / "progress.log").read_text()
    assert "cnn: cancelled at batch 128: would need" in log
    assert "cnn: not started at batch 256" in log or "cnn: cancelled at batch 256" in log
    assert not list(tmp_path.glob("reference-*"))
