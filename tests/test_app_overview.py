"""The Overview page through the app's router: the study, its scenarios, and runs beside Table 4.2.

Also holds the helpers the other page tests share: opening a page and reading its charts back.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from fer import runs, store
from fer.paths import atomic_write_json, runs_dir
from fer.scenarios import SCENARIOS
from fer.study import STUDY_TABLE, STUDY_WEIGHTS
from fer.vocab import CLASSES

from .conftest import as_study_scenario, better_copy, chart, copy_run, like_the_study, open_page, texts

# ---------------------------------------------------------------------------------------------


def test_overview_without_runs_shows_the_study_and_how_to_get_runs() -> None:
    at = open_page("app_pages/overview.py")
    assert [h.value for h in at.header] == ["The four scenarios", "Results beside the study's Table 4.2"]
    scenarios, study_table, differences, speeds = (d.value for d in at.dataframe)
    assert list(scenarios["scenario"]) == list(SCENARIOS)
    assert list(scenarios["balancing"]) == [c.balance for c in SCENARIOS.values()]
    assert list(scenarios["batch size"]) == [128] * 4
    assert list(scenarios["learning rate (Adam)"]) == [1e-4] * 4
    assert list(scenarios["weights"]) == ["none"] * 4
    assert "S1–S4 start from scratch (weights none: ImageNet weights" in texts(at) and STUDY_WEIGHTS in texts(at)
    assert list(study_table.columns) == ["scenario", "model", "balancing", "test accuracy", "precision (macro)",
                                         "recall (macro)", "train accuracy", "train seconds"]
    assert study_table.to_numpy().tolist() == STUDY_TABLE.reset_index().to_numpy().tolist()
    # How sure the study's differences are: oversampling's gains are inside the test set's noise.
    assert [s.value for s in at.subheader][:3] == [
        "The study's Table 4.2", "How sure are the study's differences?", "What its training times say"
    ]
    assert speeds.set_index("scenario").loc["S2", "img/s if 100 epochs"] == 4795 and "28 epochs" in texts(at)
    verdicts = dict(zip(differences["difference"], differences["verdict"]))
    assert verdicts == {"S3 − S1": "within test-set noise", "S4 − S2": "within test-set noise",
                        "S2 − S1": "beyond test-set noise", "S4 − S3": "beyond test-set noise"}
    assert "fewer than 13% of the images" in texts(at)
    assert "python -m fer train" in texts(at) and "Train page" in texts(at)
    assert not at.get("plotly_chart")


def test_overview_sets_finished_and_reference_runs_beside_the_study(
    finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FER_REFERENCE", str(tmp_path / "reference"))
    reference = as_study_scenario(runs.get_run(finished_run).path, tmp_path / "reference", "S2", like_the_study=True)
    metrics = runs.get_run(finished_run).metrics()
    at = open_page("app_pages/overview.py")
    table = at.dataframe[1].value.set_index("run")
    ours, theirs = f"CNN · {finished_run}", f"reference run · S2 CNN · {reference.name}"
    assert list(table.index) == [ours, theirs]
    assert table.loc[ours, "test accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert table.loc[ours, "precision (macro)"] == pytest.approx(metrics["precision_macro"])
    assert pd.isna(table.loc[ours, "study test accuracy"])  # a custom run has no study counterpart
    assert table.loc[theirs, "study test accuracy"] == STUDY_TABLE.loc["S2", "test_accuracy"]
    assert table.loc[theirs, "study train seconds"] == STUDY_TABLE.loc["S2", "train_seconds"]
    assert "tensorflow" in table.loc[ours, "backend / device"] and "sample" in table.loc[ours, "data"]
    assert not any(column.endswith(" − study") or "_" in column for column in table.columns)
    assert at.dataframe[1].proto.placeholder == "—"  # what the empty study cells of a custom run show
    bars = {trace["name"]: dict(zip(trace["x"], trace["y"])) for trace in chart(at, "overview_accuracy")["data"]}
    # Each bar says which test images it was scored on: 296 sample faces are not the study's 7,178.
    on_sample, like = f"{ours}<br>(all 296 test images of the sample data)", f"{theirs}<br>(all 7,178 test images)"
    assert bars["this project"] == pytest.approx({on_sample: metrics["test_accuracy"], like: metrics["test_accuracy"]})
    assert bars["study"] == pytest.approx({like: STUDY_TABLE.loc["S2", "test_accuracy"]})
    assert "python -m fer train" not in texts(at)


def test_a_fresh_clone_shows_the_committed_reference_runs(committed_references: Path) -> None:
    committed = store.reference_runs()
    assert committed, "the repository ships at least one reference run"
    at = open_page("app_pages/overview.py")
    table = at.dataframe[1].value.set_index("run")
    for run in committed:
        name = f"reference run · {run.config.label} · {run.run_id}"
        assert table.loc[name, "test accuracy"] == pytest.approx(run.metrics()["test_accuracy"])
        assert "full" in run.config.data and "full" in table.loc[name, "data"]


def test_a_study_scenario_run_on_the_sample_is_not_set_beside_the_study(finished_run: str) -> None:
    on_sample = copy_run(finished_run, "s2", metrics={"scenario": "S2"})
    at = open_page("app_pages/overview.py")
    row = at.dataframe[1].value.set_index("run").loc[f"CNN · {on_sample}"]
    assert row["scenario"] == "S2" and pd.isna(row["study test accuracy"])
    assert row["beside the study"] == "not like for like: sample data" and row["data"].startswith("sample, thesis")
    assert {trace["name"] for trace in chart(at, "overview_accuracy")["data"]} == {"this project"}  # no study bar
    assert "full FER2013, thesis protocol, all 7,178 test images" in texts(at)


def test_the_default_models_score_on_all_test_images_is_beside_the_study(committed_references: Path) -> None:
    (default,) = [run for run in store.reference_runs() if run.model_path.exists()]
    metrics, name = default.metrics(), default.display_name
    at = open_page("app_pages/overview.py")
    bars = {trace["name"]: dict(zip(trace["y"], trace["x"])) for trace in chart(at, "overview_published")["data"]}
    assert bars["this project"][f"{name} (PrivateTest)"] == pytest.approx(metrics["test_accuracy"])
    thesis = metrics["other_protocols"]["thesis"]["test_accuracy"]
    assert bars["this project"][f"{name} (all 7,178 test images)"] == pytest.approx(thesis) == pytest.approx(0.6911, abs=1e-4)
    assert "gets two bars, each named by its test images" in texts(at)


def test_a_run_on_the_sample_gets_no_bar_beside_published_results(finished_run: str, committed_references: Path) -> None:
    """The caption says sample runs compare with none of the published results: the chart agrees,
    while the table above still lists the run."""
    on_sample = copy_run(finished_run, "s2", metrics={"scenario": "S2"})
    at = open_page("app_pages/overview.py")
    assert f"CNN · {on_sample}" in set(at.dataframe[1].value["run"])
    results = {trace["name"]: list(trace["y"]) for trace in chart(at, "overview_published")["data"]}
    assert sorted(results["this project"]) == sorted(  # the full-data reference runs, each on both test sets
        f"{reference.display_name} ({test})"
        for reference in store.reference_runs() for test in ("PrivateTest", "all 7,178 test images")
    )
    assert not any(finished_run in name for names in results.values() for name in names)
    assert "runs on the shipped sample are scored on a few hundred faces, compare with none of these and are left out" in texts(at)


def test_runs_of_the_study_scenarios_are_compared_paired_beside_the_studys_differences(finished_run: str) -> None:
    at = open_page("app_pages/overview.py")
    assert "once this project has runs of S1–S4 scored like the study" in texts(at)  # none yet
    s2 = like_the_study(copy_run(finished_run, "s2"), "S2")
    s4 = like_the_study(better_copy(finished_run, "s4", gained=20), "S4")
    at = open_page("app_pages/overview.py")
    (paired,) = [frame.value for frame in at.dataframe if "McNemar p" in frame.value.columns]
    (row,) = paired.to_dict("records")
    assert (row["difference"], row["verdict"], row["study (points)"]) == ("S4 − S2", "significant at 5%", 0.84)
    assert row["runs"] == f"{runs.get_run(s4).display_name} against {runs.get_run(s2).display_name}"
    assert "Not made: oversampling, ResNet50 (S3 − S1): no run of S1 nor S3 scored like the study yet." in texts(at)
    # Emotion by emotion: S4's 20 extra right answers, each raising its emotion's recall, none lowering one.
    assert [e.label for e in at.expander if e.label.startswith("Emotion by emotion")] == [
        "Emotion by emotion: oversampling, VGG19 (S4 − S2)"
    ]
    traces = chart(at, "overview_emotions_S2_S4")["data"]
    assert sorted(emotion for trace in traces for emotion in trace["y"]) == sorted(CLASSES)
    assert all(points >= 0 for trace in traces for points in trace["x"]) and {t["name"] for t in traces} <= {"S4 better", "within chance"}
    # Runs that can't be paired say why, though no table is drawn.
    atomic_write_json(runs_dir() / s4 / "metrics.json", {**runs.get_run(s4).metrics(), "test_set": "another"})
    at = open_page("app_pages/overview.py")
    assert not [frame for frame in at.dataframe if "McNemar p" in frame.value.columns]
    assert "Not made: oversampling, VGG19 (S4 − S2): " in texts(at) and "different test images" in texts(at)
    assert "no run of S1 nor S3" not in texts(at)  # the runs still to come are what the first sentence says
    assert not [c for c in at.get("plotly_chart") if c.key == "overview_emotions_S2_S4"]
