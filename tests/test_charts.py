"""Every figure, mosaic and display table of :mod:`fer.charts`, checked value for value against
the real data it was drawn from: the shipped sample and a real finished run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fer import balance, charts, runs, study
from fer.data import CLASSES, FaceDataset
from fer.paths import atomic_write_json
from fer.scenarios import SCENARIOS

from .test_data import tiny


def as_study_scenario(run_folder: Path, destination: Path, scenario: str) -> Path:
    """A copy of a real run's result files (as a reference run has them) under ``destination``,
    tagged as ``scenario``: its numbers stay real, only the study row it is set beside changes."""
    target = destination / run_folder.name
    target.mkdir(parents=True)
    for name in runs.REFERENCE_FILES:
        shutil.copy2(run_folder / name, target / name)
    for name in ("config.json", "metrics.json"):
        values = json.loads((target / name).read_text())
        atomic_write_json(target / name, {**values, "scenario": scenario})
    return target


def trace_values(figure, name: str, axis: str = "y") -> list[float]:  # noqa: ANN001 (plotly figure)
    (trace,) = [t for t in figure.data if t.name == name]
    return list(np.asarray(getattr(trace, axis), dtype=float))


# ---------------------------------------------------------------------------------------------
# Data figures


def test_class_distribution_bars_are_the_real_counts(sample: FaceDataset) -> None:
    counts = balance.class_counts(sample, "standard", "oversample")
    figure = charts.class_distribution_figure(counts, "oversample")
    # One trace per (stage, split facet); the facet is the trace's x axis, named in layout annotations.
    facets = {"x" if i == 0 else f"x{i + 1}": a.text for i, a in enumerate(figure.layout.annotations)}
    drawn = {
        (trace.name, facets[trace.xaxis]): dict(zip(trace.x, np.asarray(trace.y).tolist())) for trace in figure.data
    }
    expected = {}
    for (split, stage), group in counts.groupby(["split", "stage"]):
        if stage == "before" or split == "train":
            label = "as is" if stage == "before" else "after oversample"
            expected[(label, split)] = dict(zip(group["class"], group["count"]))
    assert drawn == expected
    assert set(drawn[("after oversample", "train")].values()) == {152}  # the sample's largest class
    assert drawn[("as is", "train")]["disgust"] == int(np.sum((sample.labels == 1) & (sample.usage == 0)))


def test_face_mosaic_tiles_faces_in_order_and_pads_blank(sample: FaceDataset) -> None:
    faces = sample.images[:5]
    mosaic = charts.face_mosaic(faces, columns=3, scale=2)
    assert mosaic.shape == (2 * 48 * 2, 3 * 48 * 2) and mosaic.dtype == np.uint8
    small = mosaic[::2, ::2]
    assert np.array_equal(small[:48, 48:96], faces[1])
    assert np.array_equal(small[48:, 48:96], faces[4])
    assert np.all(small[48:, 96:] == 255)
    assert np.array_equal(charts.face_mosaic(faces[:1], columns=1, scale=1), faces[0])


def test_class_examples_are_distinct_faces_of_their_class(sample: FaceDataset) -> None:
    examples = charts.class_examples(sample, per_class=8, seed=0)
    assert list(examples) == list(CLASSES)
    for name, faces in examples.items():
        pool = {face.tobytes() for face in charts.faces_of_class(sample, name)}
        assert len(pool) == int(np.sum(sample.labels == CLASSES.index(name)))
        assert faces.shape == (8, 48, 48)
        assert {face.tobytes() for face in faces} <= pool
        assert len({face.tobytes() for face in faces}) == 8
    other = charts.class_examples(sample, per_class=8, seed=1)
    assert any(not np.array_equal(examples[n], other[n]) for n in CLASSES)
    assert np.array_equal(examples["happy"], charts.class_examples(sample, per_class=8, seed=0)["happy"])
    few = tiny(sample)  # 6 faces per class: asking for 8 gives all 6, each once
    for name, faces in charts.class_examples(few, per_class=8, seed=0).items():
        assert sorted(f.tobytes() for f in faces) == sorted(f.tobytes() for f in charts.faces_of_class(few, name))


# ---------------------------------------------------------------------------------------------
# Run figures, on a real finished run


@pytest.fixture
def run(finished_run: str) -> runs.Run:
    return runs.get_run(finished_run)


def test_history_figure_draws_train_and_test_per_epoch(run: runs.Run) -> None:
    history = run.history()
    for metric in ("accuracy", "loss"):
        figure = charts.history_figure({"mine": history}, metric)
        assert sorted(t.name for t in figure.data) == ["mine test", "mine train"]
        assert trace_values(figure, "mine train") == pytest.approx(history[metric].tolist())
        assert trace_values(figure, "mine test") == pytest.approx(history[f"test_{metric}"].tolist())
        assert trace_values(figure, "mine train", "x") == history["epoch"].tolist()
    standard = history.rename(columns={"test_loss": "validation_loss", "test_accuracy": "validation_accuracy"})
    figure = charts.history_figure({"a": history, "b": standard}, "accuracy")
    assert sorted(t.name for t in figure.data) == ["a test", "a train", "b train", "b validation"]
    assert trace_values(figure, "b validation") == pytest.approx(history["test_accuracy"].tolist())


def test_confusion_matrix_counts_and_row_fractions(run: runs.Run) -> None:
    matrix = np.array(run.metrics()["confusion_matrix"], dtype=float)
    counts = charts.confusion_matrix_figure(matrix.tolist(), normalize=False).data[0]
    assert np.array_equal(np.asarray(counts.z), matrix)
    assert list(counts.x) == list(CLASSES) and list(counts.y) == list(CLASSES)
    fractions = np.asarray(charts.confusion_matrix_figure(matrix.tolist(), normalize=True).data[0].z)
    assert fractions.sum(axis=1) == pytest.approx(np.ones(len(CLASSES)))  # every class is in the test split
    assert fractions == pytest.approx(matrix / matrix.sum(axis=1, keepdims=True))


def test_per_class_bars_are_the_run_scores(run: runs.Run) -> None:
    metrics = run.metrics()
    for score in ("precision", "recall", "f1"):
        figure = charts.per_class_figure({"mine": metrics}, score)
        (trace,) = figure.data
        assert list(trace.x) == list(CLASSES)
        assert list(trace.y) == pytest.approx([metrics["per_class"][c][score] for c in CLASSES])


def test_versus_study_bars_put_the_study_beside_its_scenario(run: runs.Run, tmp_path: Path) -> None:
    tagged = as_study_scenario(run.path, tmp_path, "S2")
    rows = [
        study.run_row("custom run", run.metrics()),
        study.run_row("as S2", json.loads((tagged / "metrics.json").read_text())),
    ]
    table = study.comparison_table(rows)
    figures = {"train_seconds": charts.training_time_figure(table), "test_accuracy": charts.test_accuracy_figure(table)}
    for column, figure in figures.items():
        bars = {t.name: dict(zip(t.x, t.y)) for t in figure.data}
        ours = run.metrics()[column]
        assert bars["this project"] == pytest.approx({"custom run": ours, "as S2": ours})
        assert bars["study"] == pytest.approx({"as S2": study.STUDY_TABLE.loc["S2", column]})


# ---------------------------------------------------------------------------------------------
# Runs and tables as the pages show them


def test_comparable_runs_are_completed_runs_then_reference_runs(
    run: runs.Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert list(runs.comparable_runs()) == [f"CNN · {run.run_id}"]
    runs.write_status(run.path, state="cancelled")
    assert runs.comparable_runs() == {}
    runs.write_status(run.path, state="completed")
    monkeypatch.setattr(runs, "REFERENCE_DIR", tmp_path / "reference")
    as_study_scenario(run.path, tmp_path / "reference", "custom")
    found = runs.comparable_runs()
    assert list(found) == [f"CNN · {run.run_id}", f"reference run · CNN · {run.run_id}"]
    assert found[f"reference run · CNN · {run.run_id}"].reference


def test_scenarios_table_is_the_configured_scenarios() -> None:
    table = study.scenarios_table().set_index("scenario")
    assert list(table.index) == list(SCENARIOS)
    for name, config in SCENARIOS.items():
        assert table.loc[name, "model"] == study.STUDY_TABLE.loc[name, "model"]
        assert table.loc[name, "balancing"] == config.balance
        assert table.loc[name, "epochs"] == config.epochs == 100
        assert table.loc[name, "batch size (not stated by the study)"] == config.batch_size
        assert table.loc[name, "Adam learning rate (not stated by the study)"] == config.learning_rate


def test_number_formats_cover_numeric_columns_only() -> None:
    table = pd.DataFrame({"run": ["a"], "test_accuracy": [0.5], "train_seconds diff": [-3.0], "epochs": [2]})
    formats = charts.number_formats(table)
    assert formats == {"test_accuracy": "{:.4f}", "train_seconds diff": "{:+,.0f}"}
    assert formats["train_seconds diff"].format(-1234.4) == "-1,234"
