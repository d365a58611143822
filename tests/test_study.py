"""Runs set beside the study, and one run's numbers as text: what the pages and the CLI share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fer import study
from fer.paths import atomic_write_json
from fer.store import Run


def finished(folder: Path, metrics: dict[str, Any]) -> Run:
    """A run folder holding only its ``metrics.json``: all the study's tables read of a run."""
    folder.mkdir()
    atomic_write_json(folder / "metrics.json", metrics)
    return Run(folder, None, {"state": "completed"})


def test_run_rows_keep_the_runs_order_and_can_leave_out_custom_runs(tmp_path: Path) -> None:
    chosen = {
        "mine": finished(tmp_path / "mine", {"scenario": "custom", "test_accuracy": 0.5}),
        "as S2": finished(tmp_path / "s2", {"scenario": "S2", "test_accuracy": 0.7, "test_images": 7178, "dataset": "full"}),
    }
    rows = study.run_rows(chosen)
    assert [(row["run"], row["scenario"], row["test_accuracy"]) for row in rows] == [("mine", "custom", 0.5), ("as S2", "S2", 0.7)]
    assert rows[1]["data"] == "full (7,178 test images)"
    (only,) = study.run_rows(chosen, study_scenarios_only=True)
    assert only["run"] == "as S2"


def test_run_metric_texts_round_as_the_study_and_mark_what_is_missing() -> None:
    shown = study.run_metric_texts(
        {"test_accuracy": 0.712345, "train_seconds": 1234.56, "images_per_second": 299.6, "test_images": 7178,
         "precision_macro": "not a number", "device": "CPU"}
    )
    assert set(shown) == set(study.RUN_METRIC_FORMATS)
    assert (shown["test_accuracy"], shown["train_seconds"], shown["images_per_second"], shown["test_images"]) == (
        "0.7123", "1,234.6", "300", "7,178"
    )
    assert (shown["precision_macro"], shown["recall_macro"], shown["device"]) == ("—", "—", "CPU")
