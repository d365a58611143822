"""The Compare page through the app's router, on a real finished run and a reference run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fer import runs
from fer.data import CLASSES
from fer.study import STUDY_TABLE

from .test_app_overview import chart, open_page, rerun, texts
from .test_charts import as_study_scenario


def test_compare_without_runs_says_how_to_get_them() -> None:
    at = open_page("app_pages/compare.py")
    assert "python -m fer train --scenario S2 --epochs 1 --data sample" in texts(at)
    assert "Train page" in texts(at)
    assert not at.dataframe and not at.get("plotly_chart") and not at.multiselect


def test_compare_shows_a_finished_run_in_table_curves_and_matrices(finished_run: str) -> None:
    run = runs.get_run(finished_run)
    metrics, history = run.metrics(), run.history()
    name = f"CNN · {finished_run}"
    at = open_page("app_pages/compare.py")
    assert at.multiselect(key="compare_runs").value == [name]

    (table,) = (d.value for d in at.dataframe)
    row = table.set_index("run").loc[name]
    shown_as = {"test_accuracy": "test_accuracy", "precision": "precision_macro", "recall": "recall_macro",
                "train_seconds": "train_seconds", "epochs": "epochs_run"}
    for column, key in shown_as.items():
        assert row[column] == pytest.approx(metrics[key])

    curves = {trace["name"]: trace for trace in chart(at, "accuracy_curves")["data"]}
    assert list(curves[f"{name} train"]["y"]) == pytest.approx(history["accuracy"].tolist())
    assert list(curves[f"{name} test"]["y"]) == pytest.approx(history["test_accuracy"].tolist())
    losses = {trace["name"]: trace for trace in chart(at, "loss_curves")["data"]}
    assert list(losses[f"{name} test"]["y"]) == pytest.approx(history["test_loss"].tolist())
    (seconds,) = chart(at, "training_time")["data"]  # a custom run: no study bar beside it
    assert list(seconds["y"]) == pytest.approx([metrics["train_seconds"]])

    matrix = np.array(metrics["confusion_matrix"], dtype=float)
    assert np.array_equal(chart(at, "confusion_0")["data"][0]["z"], matrix)
    rerun(at.toggle(key="compare_normalize").set_value(True))
    fractions = np.asarray(chart(at, "confusion_0")["data"][0]["z"])
    assert fractions.sum(axis=1) == pytest.approx(np.ones(len(CLASSES)))
    assert fractions == pytest.approx(matrix / matrix.sum(axis=1, keepdims=True))

    (f1,) = chart(at, "per_class")["data"]
    assert list(f1["y"]) == pytest.approx([metrics["per_class"][c]["f1"] for c in CLASSES])
    rerun(at.button_group(key="compare_score").set_value("recall"))
    (recall,) = chart(at, "per_class")["data"]
    assert list(recall["y"]) == pytest.approx([metrics["per_class"][c]["recall"] for c in CLASSES])

    downloads = {button.key for button in at.download_button}
    charts_drawn = ("accuracy_curves", "loss_curves", "training_time", "confusion_0", "per_class")
    assert downloads == {"compare_csv", *(f"{key}_html" for key in charts_drawn)}


def test_compare_sets_a_study_scenario_beside_the_study(
    finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "REFERENCE_DIR", tmp_path / "reference")
    reference = as_study_scenario(runs.get_run(finished_run).path, tmp_path / "reference", "S4")
    metrics = runs.get_run(finished_run).metrics()
    ours, theirs = f"CNN · {finished_run}", f"reference run · S4 CNN · {reference.name}"
    at = open_page("app_pages/compare.py")
    assert at.multiselect(key="compare_runs").value == [ours, theirs]
    table = at.dataframe[0].value.set_index("run")
    for column in ("test_accuracy", "precision", "recall", "train_accuracy", "train_seconds"):
        assert table.loc[theirs, f"study {column}"] == STUDY_TABLE.loc["S4", column]
        difference = table.loc[theirs, column] - STUDY_TABLE.loc["S4", column]
        assert table.loc[theirs, f"{column} diff"] == pytest.approx(difference)
    bars = {trace["name"]: dict(zip(trace["x"], trace["y"])) for trace in chart(at, "training_time")["data"]}
    assert bars["study"] == pytest.approx({theirs: STUDY_TABLE.loc["S4", "train_seconds"]})
    assert len([c for c in at.get("plotly_chart") if c.key.startswith("confusion_")]) == 2
    assert chart(at, "confusion_1")["layout"]["title"]["text"] == theirs

    rerun(at.multiselect(key="compare_runs").unselect(ours))
    assert list(at.dataframe[0].value["run"]) == [theirs]
    assert metrics["test_accuracy"] == pytest.approx(at.dataframe[0].value["test_accuracy"][0])
    rerun(at.multiselect(key="compare_runs").unselect(theirs))
    assert "Choose at least one run" in texts(at) and not at.dataframe
