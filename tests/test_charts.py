"""Every figure, mosaic and display table of :mod:`fer.charts`, checked value for value against
the real data it was drawn from: the shipped sample and a real finished run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import pytest

from fer import balance, charts, dataset, runs, store, study
from fer.dataset import FaceDataset
from fer.errors import FerError
from fer.scenarios import SCENARIOS
from fer.significance import accuracy_interval, per_class_intervals
from fer.vocab import CLASSES

from .conftest import as_study_scenario, markdown_rows, tiny


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
    examples = dataset.class_examples(sample, per_class=8, seed=0)
    assert list(examples) == list(CLASSES)
    for name, faces in examples.items():
        pool = {face.tobytes() for face in dataset.faces_of_class(sample, name)}
        assert len(pool) == int(np.sum(sample.labels == CLASSES.index(name)))
        assert faces.shape == (8, 48, 48)
        assert {face.tobytes() for face in faces} <= pool
        assert len({face.tobytes() for face in faces}) == 8
    other = dataset.class_examples(sample, per_class=8, seed=1)
    assert any(not np.array_equal(examples[n], other[n]) for n in CLASSES)
    assert np.array_equal(examples["happy"], dataset.class_examples(sample, per_class=8, seed=0)["happy"])
    few = tiny(sample)  # 6 faces per class: asking for 8 gives all 6, each once
    for name, faces in dataset.class_examples(few, per_class=8, seed=0).items():
        assert sorted(f.tobytes() for f in faces) == sorted(f.tobytes() for f in dataset.faces_of_class(few, name))


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
        dashes = {t.name: t.line.dash for t in figure.data}
        assert dashes == {"mine train": "solid", "mine test": "dash"}
    standard = history.rename(columns={"test_loss": "validation_loss", "test_accuracy": "validation_accuracy"})
    figure = charts.history_figure({"a": history, "b": standard}, "accuracy")
    assert sorted(t.name for t in figure.data) == ["a test", "a train", "b train", "b validation"]
    assert trace_values(figure, "b validation") == pytest.approx(history["test_accuracy"].tolist())


def test_one_epoch_curves_tell_train_from_test_by_marker_on_whole_epoch_ticks(run: runs.Run) -> None:
    """A one-epoch run is one point per split in the run's one colour: the marker tells them apart
    (a dash does not show on a point), and the x axis ticks whole epochs, not 0.5 and 1.5."""
    history = run.history()
    assert history["epoch"].tolist() == [1]
    for metric in ("accuracy", "loss"):
        figure = charts.history_figure({"mine": history}, metric)
        symbols = {t.name: t.marker.symbol for t in figure.data}
        assert symbols == {"mine train": "circle", "mine test": "diamond"}
        assert {t.mode for t in figure.data} == {"lines+markers"} and all(t.showlegend is not False for t in figure.data)
        axis = figure.layout.xaxis
        assert (axis.tickmode, axis.tick0, axis.dtick) == ("linear", 0, 1)
    grouped = charts.history_figure({"a": history, "b": history}, "loss", groups={"a + 1 other seed": ["a", "b"]})
    means = {t.name: t.marker.symbol for t in grouped.data if t.name.endswith("mean of 2")}
    assert means == {"a + 1 other seed train mean of 2": "circle", "a + 1 other seed test mean of 2": "diamond"}


def test_epoch_ticks_are_whole_and_at_most_ten() -> None:
    assert [charts.epoch_ticks(n) for n in (1, 10, 11, 40, 100, 101)] == [1, 1, 2, 5, 10, 20]
    hundred = charts.history_figure({"mine": epochs({"loss": list(np.linspace(2, 1, 100))})}, "loss")
    assert hundred.layout.xaxis.dtick == 10


def test_history_legend_sits_beside_the_plot_never_over_the_axis_title(run: runs.Run) -> None:
    for figure in (charts.history_figure({"mine": run.history()}, "loss"), charts.per_class_figure({"mine": run.metrics()}, "f1")):
        legend = figure.layout.legend
        assert legend.orientation == "v" and legend.x > 1 and legend.xanchor == "left"
        assert figure.layout.xaxis.title.text


def epochs(values: dict[str, list[float]]) -> pd.DataFrame:
    """A history.csv frame with the given columns over epochs 1, 2, ..."""
    length = len(next(iter(values.values())))
    return pd.DataFrame({"epoch": range(1, length + 1), **values})


def test_smoothing_is_tensorboards_debiased_moving_average() -> None:
    # By hand at weight 0.6: 1; (0.4*0.6 + 0.4*2) / (1 - 0.36) = 1.625; then 2.3265306...
    assert charts.smooth([1, 2, 3], 0.6) == pytest.approx([1.0, 1.625, 1.04 * 0.6 / 0.784 + 0.4 * 3 / 0.784])
    values = [0.2, 0.5, 0.4, 0.9, 0.7]
    assert charts.smooth(values, 0.0) == pytest.approx(values)
    assert charts.smooth([0.3] * 4, 0.9) == pytest.approx([0.3] * 4)  # constant: as TensorBoard, untouched
    with_gap = charts.smooth([1.0, np.nan, 3.0], 0.5)
    assert np.isnan(with_gap[1]) and with_gap[2] == pytest.approx((0.5 * 0.5 + 0.5 * 3) / 0.75)
    assert charts.smooth([], 0.5).size == 0
    with pytest.raises(FerError, match="smoothing"):
        charts.smooth(values, 1.0)


def test_smoothed_curves_are_drawn_smoothed(run: runs.Run) -> None:
    history = epochs({"accuracy": [0.2, 0.5, 0.4, 0.9], "test_accuracy": [0.1, 0.3, 0.2, 0.4]})
    figure = charts.history_figure({"mine": history}, "accuracy", smoothing=0.8)
    assert trace_values(figure, "mine train") == pytest.approx(charts.smooth(history["accuracy"], 0.8))
    assert trace_values(figure, "mine test") == pytest.approx(charts.smooth(history["test_accuracy"], 0.8))
    assert trace_values(figure, "mine train") != pytest.approx(history["accuracy"].tolist())


def test_per_class_bars_carry_their_resampled_intervals_where_the_run_kept_its_confusion_matrix(
    committed_references: Path,
) -> None:
    """The default model's disgust F1 stands on 55 PrivateTest faces: its whisker spans about 20
    points, happy's (879 faces) about 3; a run without a confusion matrix gets bars without whiskers."""
    (default,) = [reference for reference in store.reference_runs() if reference.model_path.exists()]
    metrics = default.metrics()
    blind = {key: value for key, value in metrics.items() if key != "confusion_matrix"}
    traces = {trace.name: trace for trace in charts.per_class_figure({"default": metrics, "blind": blind}, "recall").data}
    bars = traces["default"]
    low, high = per_class_intervals(metrics["confusion_matrix"])["recall"]
    assert list(bars.x) == list(CLASSES)
    np.testing.assert_allclose(np.asarray(bars.y) - np.asarray(bars.error_y.arrayminus), low)
    np.testing.assert_allclose(np.asarray(bars.y) + np.asarray(bars.error_y.array), high)
    spans = dict(zip(CLASSES, high - low))
    assert spans["disgust"] == pytest.approx(0.25, abs=0.05) and spans["happy"] == pytest.approx(0.04, abs=0.01)
    assert np.isnan(np.asarray(traces["blind"].error_y.array, float)).all()


def test_each_run_keeps_its_colour_in_every_chart(run: runs.Run) -> None:
    names = ["first", "second", "third"]
    colors = charts.run_colors(names)
    assert len(set(colors.values())) == 3 and charts.run_colors(names) == colors
    history, metrics = run.history(), run.metrics()
    curves = charts.history_figure({name: history for name in names}, "loss", colors)
    for trace in curves.data:
        assert trace.line.color == colors[trace.name.rsplit(" ", 1)[0]]
    bars = charts.per_class_figure({name: metrics for name in names}, "f1")
    assert {trace.name: trace.marker.color for trace in bars.data} == colors


def test_seed_groups_are_drawn_as_mean_and_sd_band() -> None:
    histories = {
        "s42": epochs({"accuracy": [0.2, 0.4, 0.5], "test_accuracy": [0.1, 0.3, 0.4]}),
        "s43": epochs({"accuracy": [0.4, 0.6, 0.7], "test_accuracy": [0.3, 0.3, 0.2]}),
        "other": epochs({"accuracy": [0.3, 0.3], "test_accuracy": [0.2, 0.2]}),
    }
    colors = charts.run_colors(list(histories))
    groups = {"s42 + 1 other seed": ["s42", "s43"], "other": ["other"]}
    figure = charts.history_figure(histories, "accuracy", colors, groups=groups)
    mean = trace_values(figure, "s42 + 1 other seed train mean of 2")
    assert mean == pytest.approx([0.3, 0.5, 0.6])
    spread = np.std([[0.2, 0.4, 0.5], [0.4, 0.6, 0.7]], axis=0, ddof=1)
    assert trace_values(figure, "s42 + 1 other seed train + sd") == pytest.approx(np.add(mean, spread))
    assert trace_values(figure, "s42 + 1 other seed train − sd") == pytest.approx(np.subtract(mean, spread))
    assert trace_values(figure, "s42 + 1 other seed test mean of 2") == pytest.approx([0.2, 0.3, 0.3])
    band = next(t for t in figure.data if t.name == "s42 + 1 other seed train − sd")
    assert band.fill == "tonexty" and band.fillcolor == "rgba({}, {}, {}, 0.2)".format(*px.colors.hex_to_rgb(colors["s42"]))
    assert trace_values(figure, "other train") == pytest.approx([0.3, 0.3])
    assert not [t for t in figure.data if t.name.startswith("s43")]


def test_a_run_without_a_history_is_left_out_of_its_seed_group(run: runs.Run) -> None:
    """The Compare page passes only the readable histories; the groups still name every chosen run."""
    colors = charts.run_colors(["s43", "s42", "gone"])
    groups = {"s43 + 1 other seed": ["s43", "s42"], "gone": ["gone"]}
    figure = charts.history_figure({"s42": run.history()}, "loss", colors, groups=groups)
    assert sorted(t.name for t in figure.data) == ["s42 test", "s42 train"]  # a lone run: no band
    assert {t.line.color for t in figure.data} == {colors["s42"]}
    assert trace_values(figure, "s42 train") == pytest.approx(run.history()["loss"].tolist())


def test_confusion_matrix_counts_and_row_fractions(run: runs.Run) -> None:
    matrix = np.array(run.metrics()["confusion_matrix"], dtype=float)
    counts = charts.confusion_matrix_figure(matrix.tolist(), normalize=False).data[0]
    assert np.array_equal(np.asarray(counts.z), matrix)
    assert list(counts.x) == list(CLASSES) and list(counts.y) == list(CLASSES)
    fractions = np.asarray(charts.confusion_matrix_figure(matrix.tolist(), normalize=True).data[0].z)
    assert fractions.sum(axis=1) == pytest.approx(np.ones(len(CLASSES)))  # every class is in the test split
    assert fractions == pytest.approx(matrix / matrix.sum(axis=1, keepdims=True))


def test_confusion_difference_is_b_minus_a_by_row_on_a_symmetric_white_centred_scale(run: runs.Run) -> None:
    a = np.array(run.metrics()["confusion_matrix"], dtype=float)
    b = a.copy()
    b[3, 3] += 20  # B recognises 20 more happy faces, which A called sad
    b[3, 5] -= 20
    heatmap = charts.confusion_difference_figure(a.tolist(), b.tolist()).data[0]
    expected = b / b.sum(axis=1, keepdims=True) - a / a.sum(axis=1, keepdims=True)
    assert np.asarray(heatmap.z) == pytest.approx(expected)
    assert np.asarray(heatmap.z)[[0, 1, 2, 4, 5, 6]] == pytest.approx(np.zeros((6, 7)))
    assert heatmap.zmin == -heatmap.zmax == pytest.approx(-20 / a[3].sum()) and heatmap.zmid == 0
    assert heatmap.colorscale[1][1].upper() == "#FFFFFF" and heatmap.colorscale[1][0] == 0.5
    assert heatmap.text[3][3] == f"{20 / a[3].sum():+.2f}"
    same = charts.confusion_difference_figure(a, a).data[0]
    assert not np.any(same.z) and same.zmax > 0


def test_the_paired_emotion_chart_colours_each_emotion_by_the_run_its_test_favours(committed_references: Path) -> None:
    from fer import compare

    from .conftest import BASE_ID, REFERENCE_ID

    by_emotion = compare.paired_by_emotion(*(store.reference_run(name) for name in (BASE_ID, REFERENCE_ID)))
    figure = charts.paired_forest_figure(by_emotion)
    traces = {trace.name: trace for trace in figure.data}
    assert {name: list(trace.y) for name, trace in traces.items()} == {
        "B better": ["fear", "sad"], "A better": ["angry", "neutral", "surprise"], "within chance": ["disgust", "happy"],
    }
    assert traces["B better"].marker.color == charts.PAIRED_COLORS["B"] != traces["A better"].marker.color
    for trace in figure.data:  # each dot B − A in points, its whisker the paired 95% interval
        for emotion, x, above, below in zip(trace.y, trace.x, trace.error_x.array, trace.error_x.arrayminus, strict=True):
            result = by_emotion[emotion]
            assert x == pytest.approx(result.difference * 100)
            assert (x + above, x - below) == pytest.approx((result.ci_high * 100, result.ci_low * 100))
            assert (result.ci_low > 0 or result.ci_high < 0) == (trace.name != "within chance")
    assert list(figure.layout.yaxis.categoryarray) == list(CLASSES)[::-1]  # angry on top, as in the table
    named = charts.paired_forest_figure(by_emotion, a="S2", b="S4")
    assert [trace.name for trace in named.data] == ["S4 better", "S2 better", "within chance"]
    assert named.layout.xaxis.title.text == "S4 − S2 recall (points), 95% paired interval"


def test_confusion_matrices_have_readable_axes_and_no_long_title(run: runs.Run) -> None:
    matrix = run.metrics()["confusion_matrix"]
    for figure in (charts.confusion_matrix_figure(matrix, True), charts.confusion_difference_figure(matrix, matrix)):
        assert figure.layout.xaxis.title.text == "predicted emotion"
        assert figure.layout.yaxis.title.text == "true emotion"
        assert not figure.layout.title.text


def test_per_class_bars_are_the_run_scores(run: runs.Run) -> None:
    metrics = run.metrics()
    for score in ("precision", "recall", "f1"):
        figure = charts.per_class_figure({"mine": metrics}, score)
        (trace,) = figure.data
        assert list(trace.x) == list(CLASSES)
        assert list(trace.y) == pytest.approx([metrics["per_class"][c][score] for c in CLASSES])


def test_per_class_bars_take_the_pages_colours_in_the_class_order(run: runs.Run) -> None:
    metrics = run.metrics()
    reordered = {**metrics, "per_class": dict(reversed(metrics["per_class"].items()))}
    (trace,) = charts.per_class_figure({"mine": reordered}, "f1", {"other": "#000000", "mine": "#123456"}).data
    assert trace.marker.color == "#123456" and list(trace.x) == list(CLASSES)
    assert list(trace.y) == pytest.approx([metrics["per_class"][c]["f1"] for c in CLASSES])


def test_reliability_diagram_draws_each_runs_filled_bins_beside_the_diagonal(run: runs.Run) -> None:
    ece, bins = store.calibration(run.metrics())
    figure = charts.reliability_figure({"mine": (ece, bins)}, {"mine": "#123456"})
    diagonal, (trace,) = figure.data[0], figure.data[1:]
    assert (list(diagonal.x), list(diagonal.y)) == ([0, 1], [0, 1])
    filled = [row for row in bins if row["faces"]]
    assert trace.name == f"mine · ECE {ece:.3f}" and trace.line.color == "#123456"
    assert list(trace.x) == pytest.approx([row["confidence"] for row in filled])
    assert list(trace.y) == pytest.approx([row["accuracy"] for row in filled])
    assert list(trace.customdata) == [row["faces"] for row in filled]
    # A run that fitted a temperature also gets its scaled curve, dotted in its color.
    scaled_bins = [dict(row, accuracy=row["confidence"]) for row in bins]
    figure = charts.reliability_figure({"mine": (ece, bins)}, {"mine": "#123456"}, {"mine": (1.25, 0.0, scaled_bins)})
    _, network, scaled = figure.data
    assert network.name == trace.name and scaled.name == "mine, temperature 1.25 · ECE 0.000"
    assert (scaled.line.color, scaled.line.dash) == ("#123456", "dot") and list(scaled.x) == list(scaled.y)


def test_probability_bars_put_the_top_emotion_on_top_each_in_its_colour() -> None:
    probabilities = np.array([0.05, 0.01, 0.04, 0.6, 0.2, 0.07, 0.03], np.float32)
    (bars,) = charts.probability_figure(probabilities).data
    assert list(bars.y)[-1] == "happy" and list(bars.x) == pytest.approx(sorted(probabilities))  # the top one on top
    safe = dict(zip(CLASSES, px.colors.qualitative.Safe))  # the colours boxes on photos are drawn in, as Plotly has them
    assert list(bars.marker.color) == [safe[name] for name in bars.y]


def test_versus_study_bars_put_the_study_beside_its_scenario(run: runs.Run, tmp_path: Path) -> None:
    tagged = as_study_scenario(run.path, tmp_path, "S2", like_the_study=True)
    rows = [
        study.run_row("custom run", run.metrics()),
        study.run_row("as S2", json.loads((tagged / "metrics.json").read_text())),
    ]
    table = study.comparison_table(rows)
    ours = run.metrics()["train_seconds"]
    bars = {t.name: dict(zip(t.x, t.y)) for t in charts.training_time_figure(table).data}
    assert bars["this project"] == pytest.approx({"custom run": ours, "as S2": ours})
    assert bars["study"] == pytest.approx({"as S2": study.STUDY_TABLE.loc["S2", "train_seconds"]})
    ours, like = run.metrics()["test_accuracy"], "as S2<br>(all 7,178 test images)"
    bars = {t.name: dict(zip(t.x, t.y)) for t in charts.test_accuracy_figure(rows).data}
    assert bars["this project"] == pytest.approx({"custom run<br>(all 296 test images of the sample data)": ours, like: ours})
    assert bars["study"] == pytest.approx({like: study.STUDY_TABLE.loc["S2", "test_accuracy"]})


def test_accuracy_bars_carry_the_95_percent_interval_of_their_test_images(run: runs.Run, tmp_path: Path) -> None:
    """Whiskers as wide as each bar's test images allow: ±5 points on the sample's 296 faces, ±1 on 7,178."""
    tagged = as_study_scenario(run.path, tmp_path, "S2", like_the_study=True)
    rows = [study.run_row("custom run", run.metrics()), study.run_row("as S2", json.loads((tagged / "metrics.json").read_text()))]
    traces = {trace.name: trace for trace in charts.test_accuracy_figure(rows).data}
    for trace in traces.values():
        for name, accuracy, above, below in zip(trace.x, trace.y, trace.error_y.array, trace.error_y.arrayminus):
            n = 296 if "296" in name else 7178
            low, high = accuracy_interval(accuracy, n)
            assert (accuracy - below, accuracy + above) == pytest.approx((low, high))
            assert above + below == pytest.approx(0.105 if n == 296 else 0.021, abs=0.01)
    assert len(traces["study"].x) == 1 and len(traces["this project"].x) == 2
    unrecorded = {**run.metrics(), "test_images": None}
    (unknown,) = charts.test_accuracy_figure([study.run_row("no count", unrecorded)]).data
    assert unknown.error_y.array == (None,)  # no images recorded: no whisker rather than a made-up one


def test_accuracy_bars_say_which_test_images_each_run_was_scored_on(
    run: runs.Run, committed_references: Path
) -> None:
    """A sample score, a PrivateTest score and the study's on all 7,178 images share one axis:
    each of our bars is named by its test images, as the landscape's are."""
    (default,) = [reference for reference in store.reference_runs() if reference.model_path.exists()]
    on_sample = {**run.metrics(), "scenario": "S2"}
    rows = [study.run_row("S2 VGG19 · r1", on_sample), study.run_row("default", default.metrics())]
    (ours,) = charts.test_accuracy_figure(rows).data  # neither is like the study: no study bars
    assert dict(zip(ours.x, ours.y)) == pytest.approx({
        f"S2 VGG19 · r1<br>(all {on_sample['test_images']} test images of the sample data)": on_sample["test_accuracy"],
        "default<br>(PrivateTest)": default.metrics()["test_accuracy"],
    })
    assert on_sample["test_images"] == 296 and default.metrics()["test_images"] == 3589


def test_versus_study_bars_stay_narrow_for_one_run(run: runs.Run, tmp_path: Path) -> None:
    """A run's bar takes at most a fifth of the plot, not all of it, with or without the study's
    bar beside it; many runs' bars fill the plot."""
    metrics = run.metrics()
    as_s2 = json.loads((as_study_scenario(run.path, tmp_path, "S2") / "metrics.json").read_text())
    for rows in ([study.run_row("mine", metrics)], [study.run_row("as S2", as_s2)], [study.run_row("mine", metrics)] * 6):
        figure = charts.training_time_figure(study.comparison_table(rows))
        bars = len(rows) * len(figure.data)  # runs x sources (ours, the study's)
        filled = 1 - figure.layout.bargap  # of the plot, shared by the bars
        assert filled / bars <= 0.2 + 1e-9 if bars < 5 else filled >= 0.85


# ---------------------------------------------------------------------------------------------
# Runs and tables as the pages show them


def test_comparable_runs_are_completed_runs_then_reference_runs(
    run: runs.Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert list(runs.comparable_runs()) == [f"CNN · {run.run_id}"]
    store.write_status(run.path, state="cancelled")
    assert runs.comparable_runs() == {}
    store.write_status(run.path, state="completed")
    monkeypatch.setenv("FER_REFERENCE", str(tmp_path / "reference"))
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
        assert table.loc[name, "batch size"] == config.batch_size
        assert table.loc[name, "learning rate (Adam)"] == config.learning_rate
        assert table.loc[name, "weights"] == config.weights == "none"  # from scratch; the study does not say
    assert list(table.columns)[-1] == "augmentation"  # the long text last: the numbers stay in view


def test_number_formats_cover_numeric_columns_only() -> None:
    seconds = study.difference_column("train_seconds")
    table = pd.DataFrame({"run": ["a"], "test accuracy": [0.5], seconds: [-3.0], "epochs": [2]})
    formats = study.number_formats(table)
    assert formats == {"test accuracy": "{:.4f}", "train seconds − study": "{:+,.0f}"}
    assert formats[seconds].format(-1234.4) == "-1,234"


def test_comparison_table_names_columns_readably_and_leaves_missing_values_empty(run: runs.Run) -> None:
    metrics = run.metrics()
    old = {key: value for key, value in metrics.items() if key not in ("dataset", "protocol", "backend", "weights")}
    table = study.comparison_table([study.run_row("mine", metrics), study.run_row("old", old)])
    assert "_" not in "".join(table.columns)
    assert {"test accuracy", "study test accuracy", "test accuracy − study", "precision (macro)"} <= set(table.columns)
    mine, older = table.set_index("run").loc["mine"], table.set_index("run").loc["old"]
    assert mine["data"] == f"sample, thesis ({metrics['test_images']} test images)"
    assert older["data"] == f"{metrics['test_images']} test images"
    assert older["backend / device"] == metrics["device"] and pd.isna(older["weights"])
    assert not table.isin(["None", "nan"]).any().any()  # missing is missing (the page shows "—"), never a word
    assert "test accuracy − study" not in study.comparison_table([study.run_row("mine", metrics)], differences=False)
    assert mine[study.WALL_SECONDS] == pytest.approx(metrics["wall_seconds"])
    assert mine[study.WALL_SECONDS] > mine["train seconds"]  # plus loading, compiling and the test


def test_study_command_prints_runs_of_the_study_scenarios_beside_it_as_markdown(
    run: runs.Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fer.cli import main

    assert main(["study"]) == 0  # only a custom run so far: the study's own table
    assert [row["test accuracy"] for row in markdown_rows(capsys.readouterr().out.split("\n", 1)[1])] == [
        "0.6698", "0.7074", "0.6707", "0.7158"
    ]
    monkeypatch.setenv("FER_REFERENCE", str(tmp_path / "reference"))
    metrics = json.loads((as_study_scenario(run.path, tmp_path / "reference", "S2", like_the_study=True) / "metrics.json").read_text())
    assert main(["study"]) == 0
    (row,) = markdown_rows(capsys.readouterr().out)
    assert row["scenario"] == "S2" and row["study test accuracy"] == "0.7074" and row["study train seconds"] == "599"
    assert row["test accuracy"] == f"{metrics['test_accuracy']:.4f}" and row["epochs"] == str(metrics["epochs_run"])
    assert row["wall-clock seconds"] == f"{metrics['wall_seconds']:,.0f}"
    assert main(["study", "--all"]) == 0
    assert [row["scenario"] for row in markdown_rows(capsys.readouterr().out)] == ["custom", "S2"]


def test_a_videos_timeline_is_drawn_smoothed_with_gaps_where_no_face_was_found() -> None:
    rng = np.random.default_rng(0)
    probabilities = rng.dirichlet(np.ones(len(CLASSES)), size=6)
    found = np.array([True, True, False, True, True, True])
    timeline = pd.DataFrame(probabilities, columns=list(CLASSES))
    timeline.loc[~found, list(CLASSES)] = np.nan
    timeline.insert(0, "time_s", np.arange(6) * 0.5)
    timeline.insert(1, "face_found", found)
    figure = charts.emotion_timeline_figure(timeline, smoothing=0.6)
    assert [trace.name for trace in figure.data] == [*CLASSES, "no face found"]
    for index, emotion in enumerate(CLASSES):
        drawn = trace_values(figure, emotion)
        np.testing.assert_allclose(drawn, charts.smooth(timeline[emotion], 0.6))
        assert np.isnan(drawn[2]) and drawn[3] != pytest.approx(probabilities[3, index])  # a gap; smoothed
    assert trace_values(figure, "no face found", "x") == [1.0]
    every_face = charts.emotion_timeline_figure(timeline.assign(face_found=True).fillna(0.1))
    assert [trace.name for trace in every_face.data] == list(CLASSES)
    np.testing.assert_allclose(trace_values(every_face, "happy"), timeline["happy"].fillna(0.1))
