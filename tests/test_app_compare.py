"""The Compare page through the app's router, on a real finished run and a reference run."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from fer import charts, robustness, runs, store, study
from fer.paths import runs_dir
from fer.study import STUDY_TABLE
from fer.vocab import CLASSES

from .conftest import (
    as_study_scenario,
    better_copy,
    better_on_worse_photos,
    chart,
    copy_run,
    open_page,
    rerun,
    texts,
)


def test_compare_without_runs_says_how_to_get_them() -> None:
    at = open_page("app_pages/compare.py")
    assert "python -m fer train --scenario S2 --epochs 1 --data sample" in texts(at)
    assert "Train page" in texts(at)
    assert not at.dataframe and not at.get("plotly_chart") and not at.multiselect


def test_a_run_that_cant_be_split_on_copies_says_why(finished_run: str) -> None:
    # A run trained before runs kept the split has it recounted, which needs the FER2013 it was scored on, not imported here.
    full = copy_run(finished_run, "full", {"data": "full"}, {store.SEEN_IN_TRAINING: None})
    at = open_page("app_pages/compare.py")
    seen = at.dataframe[1].value
    assert list(seen["run"]) == [f"CNN · {finished_run}"]
    (note,) = [c.value for c in at.caption if c.value.startswith("Not split: ")]
    assert full in note and "imported FER2013, which this machine does not have" in note


def test_a_fresh_clone_splits_and_pairs_the_shipped_models_without_fer2013(committed_references: Path) -> None:
    """The committed reference runs kept their split, calibration and test labels when they were
    scored, so the page shows them where FER2013 is not imported (as here) rather than asking for
    the data: the default model and the run it was fine-tuned from, side by side."""
    at = open_page("app_pages/compare.py")
    rows = {row["run"].split(" · ")[1]: row for row in at.dataframe[1].value.to_dict("records")}
    assert set(rows) == {"FER-CNN fine-tuned", "FER-CNN"}
    for name, split in (("FER-CNN fine-tuned", (0.6743, 0.8958, 0.7819)), ("FER-CNN", (0.6710, 0.9167, 0.7785))):
        row = rows[name]
        assert row["run"].startswith("reference run · ")
        assert (row["test images"], row["copies"], row["near copies"]) == (3_589, 288, 298)
        assert (row["accuracy on the others"], row["on copies"], row["on near copies"]) == pytest.approx(split, abs=5e-5)
    assert not [c.value for c in at.caption if c.value.startswith("Not split: ")]
    # Their calibration too: a reliability curve of each run, beside the diagonal.
    diagonal, *curves = chart(at, "reliability")["data"]
    assert diagonal["name"] == "calibrated"
    assert sorted(curve["name"].split(" · ")[-1] for curve in curves) == ["ECE 0.019", "ECE 0.033", "ECE 0.043"]
    assert all(sum(curve["customdata"]) == 3_589 for curve in curves)
    # The default model's also scaled by the temperature it fitted on PublicTest: dotted, in its color.
    (scaled,) = [curve for curve in curves if curve["line"].get("dash") == "dot"]
    (network,) = [curve for curve in curves if "fine-tuned" in curve["name"] and curve is not scaled]
    assert scaled["name"] == network["name"].replace(" · ECE 0.043", ", temperature 0.915 · ECE 0.019")
    assert scaled["line"]["color"] == network["line"]["color"]
    assert not [c.value for c in at.caption if c.value.startswith("No reliability diagram: ")]
    # And paired on the same 3,589 faces, by the test labels they kept: B (the default) against A.
    (verdict,) = [i.value for i in at.info if i.value.startswith("B is ")]
    assert verdict == (
        "B is 0.1 points more accurate than A (95% CI −0.7 to 1.0); McNemar p = 0.79: the difference is not significant at 5%"
    )
    assert "No paired test for these two runs" not in texts(at)
    emotions = {trace["name"]: trace["y"] for trace in chart(at, "paired_emotions")["data"]}
    assert emotions == {"B better": ["fear", "sad"], "A better": ["angry", "neutral", "surprise"], "within chance": ["disgust", "happy"]}
    (table,) = [frame.value for frame in at.dataframe if "emotion" in frame.value.columns]
    assert list(table["emotion"]) == list(CLASSES) and table["test faces"].sum() == 3_589
    # On worse photos, only the default was measured: why there is no pairing there.
    (base,) = [run for run in store.reference_runs() if not run.model_path.exists()]
    assert (
        f"No paired comparison on worse photos: {base.display_name} was not measured on worse photos with its answers "
        "kept: it kept no model file, so it can't be."
    ) in texts(at)


def test_two_runs_measured_on_worse_photos_are_paired_there(finished_run: str, few_conditions: None) -> None:
    robustness.measure_run(runs.get_run(finished_run))
    better = better_on_worse_photos(finished_run, "deblurred", "Gaussian blur, sigma 4 px", gained=12)
    at = open_page("app_pages/compare.py")
    at.selectbox(key="compare_a").set_value(f"CNN · {finished_run}")
    at = rerun(at.selectbox(key="compare_b").set_value(f"CNN · {better}"))
    drawn = {trace["name"]: list(trace["y"]) for trace in chart(at, "paired_robustness")["data"]}
    unchanged = [robustness.ROUND_TRIP, "JPEG quality 10", "noise, sigma 25 grey levels"]
    assert drawn == {"B better": ["Gaussian blur, sigma 4 px"], "within chance": unchanged}
    assert "No paired comparison on worse photos" not in texts(at)


def test_compare_shows_a_finished_run_in_table_curves_and_matrices(finished_run: str) -> None:
    run = runs.get_run(finished_run)
    metrics, history = run.metrics(), run.history()
    name = f"CNN · {finished_run}"
    at = open_page("app_pages/compare.py")
    assert at.multiselect(key="compare_runs").value == [name]

    table, seen, settings = (d.value for d in at.dataframe)
    row = table.set_index("run").loc[name]
    shown_as = {"test accuracy": "test_accuracy", "precision (macro)": "precision_macro",
                "recall (macro)": "recall_macro", "train seconds": "train_seconds", "epochs": "epochs_run"}
    for column, key in shown_as.items():
        assert row[column] == pytest.approx(metrics[key])
    assert pd.isna(row["study test accuracy"]) and at.dataframe[0].proto.placeholder == "—"
    assert settings.set_index("run").loc[name, "seed"] == str(run.config.seed)
    # The sample holds no face twice: all of the test faces are "other" faces.
    seen = seen.set_index("run").loc[name]
    assert seen["copies"] == seen["near copies"] == 0
    assert pd.isna(seen["on copies"]) and pd.isna(seen["on near copies"])
    assert seen["accuracy on the others"] == pytest.approx(metrics["test_accuracy"])
    rerun(at.toggle(key="compare_differences").set_value(True))
    assert len(at.dataframe) == 2 and "The chosen runs share every setting" in texts(at)
    rerun(at.toggle(key="compare_differences").set_value(False))
    assert "No two chosen runs differ only in their seed" in texts(at)
    assert "Choose two or more runs above to test one against another" in texts(at)

    curves = {trace["name"]: trace for trace in chart(at, "accuracy_curves")["data"]}
    assert list(curves[f"{name} train"]["y"]) == pytest.approx(history["accuracy"].tolist())
    assert list(curves[f"{name} test"]["y"]) == pytest.approx(history["test_accuracy"].tolist())
    # One epoch: one point per split, told apart by marker; whole epochs on the axis.
    assert (curves[f"{name} train"]["marker"]["symbol"], curves[f"{name} test"]["marker"]["symbol"]) == ("circle", "diamond")
    assert chart(at, "accuracy_curves")["layout"]["xaxis"]["dtick"] == 1
    assert "dashed line, diamonds: the evaluation split" in texts(at)
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

    _, curve = chart(at, "reliability")["data"]
    ece, bins = store.calibration(metrics)
    assert curve["name"] == f"{name} · ECE {ece:.3f}" and list(curve["customdata"]) == [b["faces"] for b in bins if b["faces"]]

    downloads = {button.key for button in at.download_button}
    charts_drawn = ("accuracy_curves", "loss_curves", "training_time", "confusion_0", "per_class", "reliability")
    assert downloads == {"compare_csv", *(f"{key}_html" for key in charts_drawn)}


def test_compare_sets_a_study_scenario_beside_the_study(
    finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FER_REFERENCE", str(tmp_path / "reference"))
    reference = as_study_scenario(runs.get_run(finished_run).path, tmp_path / "reference", "S4", like_the_study=True)
    metrics = runs.get_run(finished_run).metrics()
    ours, theirs = f"CNN · {finished_run}", f"reference run · S4 CNN · {reference.name}"
    at = open_page("app_pages/compare.py")
    assert at.multiselect(key="compare_runs").value == [ours, theirs]
    table = at.dataframe[0].value.set_index("run")
    for column, label in study.METRIC_COLUMNS.items():
        assert table.loc[theirs, f"study {label}"] == STUDY_TABLE.loc["S4", column]
        difference = table.loc[theirs, label] - STUDY_TABLE.loc["S4", column]
        assert table.loc[theirs, f"{label} − study"] == pytest.approx(difference)
    bars = {trace["name"]: dict(zip(trace["x"], trace["y"])) for trace in chart(at, "training_time")["data"]}
    assert bars["study"] == pytest.approx({theirs: STUDY_TABLE.loc["S4", "train_seconds"]})
    matrices = {c.key for c in at.get("plotly_chart") if c.key.startswith("confusion_")}
    assert matrices == {"confusion_0", "confusion_1", "confusion_difference"}
    assert f"**{theirs}**" in [m.value for m in at.markdown]  # a heading that wraps, not a cut-off plot title
    assert not chart(at, "confusion_1")["layout"].get("title", {}).get("text")
    # The copy kept no probabilities (as reference runs made before they were kept): refused, with why.
    assert "No paired test for these two runs" in texts(at)
    assert f"{theirs} did not keep its test-set probabilities" in texts(at)
    assert chart(at, "confusion_difference")  # the confusions still compare

    rerun(at.multiselect(key="compare_runs").unselect(ours))
    assert list(at.dataframe[0].value["run"]) == [theirs]
    assert metrics["test_accuracy"] == pytest.approx(at.dataframe[0].value["test accuracy"][0])
    rerun(at.multiselect(key="compare_runs").unselect(theirs))
    assert "Choose at least one run" in texts(at) and not at.dataframe


def test_compare_tests_two_runs_diffs_their_settings_and_groups_seeds(finished_run: str) -> None:
    better = better_copy(finished_run, "seed43", gained=10, seed=43)
    other = copy_run(finished_run, "lr", {"learning_rate": 0.01})
    original, improved, changed = (f"CNN · {run_id}" for run_id in (finished_run, better, other))
    at = open_page("app_pages/compare.py")
    assert set(at.multiselect(key="compare_runs").value) == {original, improved, changed}

    # Run B against run A: the paired test, in a sentence.
    at.selectbox(key="compare_a").set_value(original)
    rerun(at.selectbox(key="compare_b").set_value(improved))
    n = runs.get_run(finished_run).metrics()["test_images"]
    (verdict,) = at.success
    assert verdict.value.startswith(f"B is {1000 / n:.1f} points more accurate than A (95% CI ")
    assert verdict.value.endswith("McNemar p = 0.002: the difference is significant at 5%")
    assert "Only A right on 0 images, only B right on 10" in texts(at)
    difference = np.asarray(chart(at, "confusion_difference")["data"][0]["z"])
    assert difference.sum(axis=1) == pytest.approx(np.zeros(len(CLASSES)))  # each row's fractions move, sum 1 still
    assert np.abs(difference).max() > 0
    rerun(at.selectbox(key="compare_b").set_value(changed))  # the same predictions: no difference
    assert "B and A are equally accurate" in at.info[0].value and "not significant" in at.info[0].value

    # Settings: all of them, or only those that differ.
    settings = at.dataframe[2].value.set_index("run")
    assert settings.loc[improved, "seed"] == "43" and settings.loc[changed, "learning rate"] == "0.01"
    rerun(at.toggle(key="compare_differences").set_value(True))
    differences = at.dataframe[2].value
    assert list(differences.columns) == ["run", "learning rate", "seed"]

    # Seeds: the original and its seed-43 copy are one group, summarised and drawn as a band.
    group = f"{improved} + 1 other seed"  # the copy is listed first (newest)
    seeds = at.dataframe[3].value.set_index("group")
    assert list(seeds.index) == [group] and seeds.loc[group, "seeds"] == "43, 42"
    names = {trace["name"] for trace in chart(at, "accuracy_curves")["data"]}
    assert {f"{group} train mean of 2", f"{group} test mean of 2", f"{changed} train"} <= names
    rerun(at.toggle(key="compare_bands").set_value(False))
    names = {trace["name"] for trace in chart(at, "accuracy_curves")["data"]}
    assert {f"{original} train", f"{improved} train", f"{changed} test"} <= names and not any("mean" in n for n in names)

    # Smoothing moves the curves; every chart keeps each run's colour.
    history = runs.get_run(finished_run).history()
    rerun(at.slider(key="compare_smoothing").set_value(0.5))
    curves = {trace["name"]: trace for trace in chart(at, "loss_curves")["data"]}
    assert list(curves[f"{original} train"]["y"]) == pytest.approx(charts.smooth(history["loss"], 0.5).tolist())
    line_colors = {trace["name"].rsplit(" ", 1)[0]: trace["line"]["color"] for trace in curves.values()}
    bar_colors = {trace["name"]: trace["marker"]["color"] for trace in chart(at, "per_class")["data"]}
    assert line_colors == bar_colors and len(set(bar_colors.values())) == 3


def _damage(folder: Path, name: str, edit: Callable[[str], str | None]) -> None:
    """Rewrite the run file ``folder/name`` as ``edit`` makes its text; None removes it."""
    text = edit((folder / name).read_text())
    if text is None:
        (folder / name).unlink()
    else:
        (folder / name).write_text(text)


def _metrics_edit(edit: Callable[[dict], dict]) -> Callable[[str], str]:
    return lambda text: json.dumps(edit(json.loads(text)))


def _without(key: str) -> Callable[[str], str]:
    return _metrics_edit(lambda metrics: {k: v for k, v in metrics.items() if k != key})


def _loss_as_text(history: str) -> str:
    header, first, *rest = history.splitlines()
    values = first.split(",")
    values[header.split(",").index("loss")] = "abc"
    return "\n".join([header, ",".join(values), *rest]) + "\n"


NO_HISTORY = "its history.csv is missing or damaged"
NO_MATRIX = "its metrics.json holds no readable confusion matrix"
NO_SCORES = "its metrics.json holds no readable per-class scores"


@pytest.mark.parametrize(
    ("name", "edit", "damage"),
    [
        ("history.csv", lambda text: "", NO_HISTORY),
        ("history.csv", lambda text: None, NO_HISTORY),
        ("history.csv", lambda text: "foo,bar\n1,2\n", NO_HISTORY),
        ("history.csv", _loss_as_text, NO_HISTORY),
        ("metrics.json", _without("confusion_matrix"), NO_MATRIX),
        ("metrics.json", _metrics_edit(lambda m: {**m, "confusion_matrix": [["a"] * 7] * 7}), NO_MATRIX),
        ("metrics.json", _metrics_edit(lambda m: {**m, "confusion_matrix": m["confusion_matrix"][:6]}), NO_MATRIX),
        ("metrics.json", _without("per_class"), NO_SCORES),
        ("metrics.json", _metrics_edit(lambda m: {**m, "per_class": {"angry": "good"}}), NO_SCORES),
    ],
    ids=["history-empty", "history-removed", "history-other-columns", "history-text", "no-matrix", "matrix-of-text",
         "matrix-6x7", "no-per-class", "per-class-damaged"],
)
def test_a_damaged_file_leaves_its_run_out_of_what_it_draws_and_the_rest_of_the_page_works(
    finished_run: str, name: str, edit: Callable[[str], str | None], damage: str
) -> None:
    damaged = copy_run(finished_run, "damaged", {"seed": 43})
    _damage(runs_dir() / damaged, name, edit)
    ours, theirs = f"CNN · {finished_run}", f"CNN · {damaged}"
    at = open_page("app_pages/compare.py")
    assert at.multiselect(key="compare_runs").value == [theirs, ours]
    warnings = [w.value for w in at.warning]
    assert f"**{theirs}** is left out here: {damage}." in warnings
    assert not [w for w in warnings if w.startswith(f"**{ours}**")]
    assert list(at.dataframe[0].value["run"]) == [theirs, ours]  # the table still holds both

    curves = {trace["name"] for trace in chart(at, "loss_curves")["data"]}
    matrices = {c.key for c in at.get("plotly_chart") if c.key.startswith("confusion_")}
    bars = {trace["name"]: trace["marker"]["color"] for trace in chart(at, "per_class")["data"]}
    if damage == NO_HISTORY:  # the two are seeds of one group: what is left of it is our run alone
        assert curves == {f"{ours} train", f"{ours} test"}
    else:
        assert {f"{theirs} + 1 other seed {split} mean of 2" for split in ("train", "test")} <= curves
    drawn = {"confusion_1"} if damage == NO_MATRIX else {"confusion_0", "confusion_1", "confusion_difference"}
    assert matrices == drawn
    colors = charts.run_colors([theirs, ours])
    assert bars == ({ours: colors[ours]} if damage == NO_SCORES else colors)  # each run keeps its colour


def test_a_damaged_reference_run_is_left_out_of_what_its_files_draw(
    finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FER_REFERENCE", str(tmp_path / "reference"))
    reference = as_study_scenario(runs.get_run(finished_run).path, tmp_path / "reference", "S4", like_the_study=True)
    _damage(reference, "history.csv", _loss_as_text)
    _damage(reference, "metrics.json", _metrics_edit(lambda m: {**m, "confusion_matrix": "none", "per_class": []}))
    ours, theirs = f"CNN · {finished_run}", f"reference run · S4 CNN · {reference.name}"
    at = open_page("app_pages/compare.py")
    assert at.multiselect(key="compare_runs").value == [ours, theirs]
    for damage in (NO_HISTORY, NO_MATRIX, NO_SCORES):
        assert f"**{theirs}** is left out here: {damage}." in [w.value for w in at.warning]
    assert {trace["name"] for trace in chart(at, "accuracy_curves")["data"]} == {f"{ours} train", f"{ours} test"}
    assert {c.key for c in at.get("plotly_chart") if c.key.startswith("confusion_")} == {"confusion_0"}
    assert [trace["name"] for trace in chart(at, "per_class")["data"]] == [ours]
    table = at.dataframe[0].value.set_index("run")
    assert table.loc[theirs, "study test accuracy"] == STUDY_TABLE.loc["S4", "test_accuracy"]


def test_the_faces_behind_a_confusion_start_at_the_commonest_and_follow_the_choice(finished_run: str) -> None:
    from fer import compare

    run = runs.get_run(finished_run)
    at = open_page("app_pages/compare.py")
    true, predicted = compare.commonest_confusion(run)
    assert at.selectbox(key=f"confused_true_{finished_run}").value == true
    assert at.selectbox(key=f"confused_predicted_{finished_run}").value == predicted
    faces = compare.confused_faces(run, true, predicted)
    (sentence,) = [m.value for m in at.markdown if "test faces were" in m.value]
    assert sentence.startswith(f"{faces.total:,} of the {faces.of_true:,} **{true}** test faces were answered **{predicted}**")
    assert len(faces.images) > 0
    assert [caption for image in at.image for caption in image.captions] == [f"{p:.0%}" for p in faces.probabilities]

    at = rerun(at.selectbox(key=f"confused_predicted_{finished_run}").set_value(true))
    right = compare.confused_faces(run, true, true)
    (sentence,) = [m.value for m in at.markdown if "test faces were" in m.value]
    assert f"{right.total:,} of the {right.of_true:,} **{true}** test faces were rightly answered **{true}**" in sentence


def test_a_fresh_clone_says_why_it_shows_no_faces_behind_the_shipped_models_confusions(committed_references: Path) -> None:
    at = open_page("app_pages/compare.py")
    (note,) = [i.value for i in at.info if i.value.startswith("No faces to show for ")]
    assert "imported FER2013, which this machine does not have" in note and not at.image


def test_the_map_of_a_runs_test_faces_is_drawn_when_asked_coloured_as_asked(
    finished_run: str, downloads: dict[str, bytes]
) -> None:
    from fer import feature_map

    at = open_page("app_pages/compare.py")
    assert not [c for c in at.get("plotly_chart") if c.key.startswith("map_")]  # t-SNE takes seconds: only when asked
    at = rerun(at.toggle(key="map_drawn").set_value(True))
    drawn = feature_map.feature_map(runs.get_run(finished_run))
    for colour_by, emotions in (("true", drawn.labels), ("answered", drawn.answers)):
        if colour_by == "answered":
            at = rerun(at.radio(key="map_colour").set_value("answered"))
        traces = chart(at, f"map_{finished_run}")["data"]
        counts = np.bincount(emotions, minlength=len(CLASSES))
        assert [trace["name"] for trace in traces] == [f"{e} ({n:,})" for e, n in zip(CLASSES, counts)]
        assert [len(trace.get("x", [])) for trace in traces] == list(counts)
    assert "Draw a lasso around faces on the map" in texts(at)
    answered, true, _ = drawn.agreement()
    assert f"mostly share its answer for **{answered:.1%}** of the faces, and its true emotion for **{true:.1%}**" in texts(at)
    table = pd.read_csv(io.BytesIO(downloads[f"map_{finished_run}.csv"]))
    expected = drawn.table()
    assert table[["face", "true", "answered"]].equals(expected[["face", "true", "answered"]])
    assert table[["x", "y"]].to_numpy() == pytest.approx(expected[["x", "y"]].to_numpy(), abs=1e-3)

    runs.get_run(finished_run).model_path.unlink()  # a run kept without its model is not offered
    at = rerun(at.radio(key="map_colour").set_value("true"))
    assert "None of the chosen runs kept its model file, which the map needs." in texts(at)
    assert not [c for c in at.get("plotly_chart") if c.key.startswith("map_")]


def test_the_faces_inside_a_lasso_on_the_map_are_shown_with_their_answers(
    finished_run: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AppTest can't draw on a chart, so the chart answers as the browser does once a lasso is drawn:
    the points inside it, each with the face number the page put in its customdata."""
    import streamlit as st

    from fer import feature_map

    drawn = feature_map.feature_map(runs.get_run(finished_run))
    lassoed = [*range(0, 90, 2), 5]  # 46 faces: more than the page shows
    plotly_chart = st.plotly_chart

    def drawing_a_lasso(figure: Any, *args: Any, **kwargs: Any) -> Any:
        shown = plotly_chart(figure, *args, **kwargs)
        if not str(kwargs.get("key")).startswith("map_"):
            return shown
        return SimpleNamespace(selection=SimpleNamespace(points=[{"customdata": [i, "", "", 0.0]} for i in lassoed]))

    monkeypatch.setattr(st, "plotly_chart", drawing_a_lasso)
    at = rerun(open_page("app_pages/compare.py").toggle(key="map_drawn").set_value(True))
    right = int((drawn.answers[lassoed] == drawn.labels[lassoed]).sum())
    assert f"**46 faces** in the lasso, {right} answered rightly; the first 40, true → answered:" in texts(at)
    shown = lassoed[:40]
    assert list(at.image[-1].captions) == [f"{CLASSES[drawn.labels[i]]} → {CLASSES[drawn.answers[i]]}" for i in shown]
