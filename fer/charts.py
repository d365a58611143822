"""Plotly figures and face mosaics for the dashboard, from the library's own data.

Each function takes data in the shape the library produces (``class_counts`` long tables,
``history.csv`` frames, ``metrics.json`` dicts, datasets) and returns a figure or an image, so
pages stay thin and everything they show can be built and checked in tests without Streamlit.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from fer import store, study
from fer.errors import FerError
from fer.significance import PairedComparison, per_class_intervals, recorded_interval
from fer.vocab import CLASS_COLORS, CLASSES

LEGEND_BESIDE = {"orientation": "v", "x": 1.02, "xanchor": "left", "y": 1, "yanchor": "top"}
"""A legend to the right of the plot: a horizontal one under it covers the x axis's title."""


def class_distribution_figure(counts: pd.DataFrame, strategy: str) -> go.Figure:
    """Per-class counts of each split, training split before and after balancing side by side.

    ``counts`` is :func:`fer.balance.class_counts` output (the study's figures 4.1 and 4.9).
    """
    shown = counts[(counts["stage"] == "before") | (counts["split"] == "train")].copy()
    shown["stage"] = shown["stage"].map({"before": "as is", "after": f"after {strategy}"})
    tall = shown["count"] >= 0.15 * shown.groupby("split")["count"].transform("max")
    shown["label_at"] = np.where(tall, "inside", "outside")  # a short bar can't hold its label
    figure = px.bar(
        shown,
        x="class",
        y="count",
        color="stage",
        barmode="group",
        facet_col="split",
        facet_col_spacing=0.06,  # room for each facet's own y-axis labels
        custom_data=["label_at"],
        category_orders={"class": list(CLASSES), "split": list(shown["split"].unique())},  # the protocol's splits only
        color_discrete_sequence=["#4C78A8", "#F58518"],
    )
    # Upright labels of side-by-side bars ran into each other ("7215 7215"): turned, they fit in a
    # bar's width, inside the top of the bar (above a short one), clear of the facet titles.
    figure.update_traces(
        texttemplate="%{y:,}", insidetextanchor="end", textangle=-90, textfont_size=11, constraintext="none",
        cliponaxis=False,
    )
    figure.for_each_trace(lambda trace: trace.update(
        textposition=list(trace.customdata[:, 0]),
        alignmentgroup=trace.xaxis,  # a split's lone bars centred on their class, not beside an empty slot
    ))
    figure.update_yaxes(matches=None, showticklabels=True)
    figure.for_each_annotation(lambda a: a.update(text=a.text.replace("split=", "")))
    figure.update_layout(legend_title_text="training split", margin={"t": 40})
    return figure


def run_colors(names: Sequence[str]) -> dict[str, str]:
    """One colour per run, by position: every chart of a page that is given the runs in the same
    order draws each run in the same colour (10 distinct colours, then they repeat)."""
    palette = px.colors.qualitative.Plotly
    return {name: palette[i % len(palette)] for i, name in enumerate(names)}


def smooth(values: Sequence[float] | np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's scalar smoothing: an exponential moving average, debiased.

    Each point is ``last = last * weight + (1 - weight) * value`` divided by
    ``1 - weight ** count`` (the first points would otherwise be pulled towards 0). As in
    TensorBoard, non-finite points and constant series stay as they are; weight 0 is the raw series.
    """
    if not 0 <= weight < 1:
        raise FerError(f"smoothing must be from 0 up to (not including) 1, not {weight}")
    raw = np.asarray(values, dtype=float)
    smoothed = raw.copy()
    if np.all(raw == raw[:1]):
        return smoothed
    last, count = 0.0, 0
    for i, value in enumerate(raw):
        if np.isfinite(value):
            last = last * weight + (1 - weight) * value
            count += 1
            smoothed[i] = last / (1 - weight**count)
    return smoothed


def history_figure(
    histories: Mapping[str, pd.DataFrame],
    metric: str,
    colors: Mapping[str, str] | None = None,
    smoothing: float = 0.0,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> go.Figure:
    """Train (solid, circles) and test/validation (dashed, diamonds) ``loss`` or ``accuracy`` per
    epoch, one colour per run (``colors``, by default :func:`run_colors` in the order given),
    smoothed as TensorBoard does (:func:`smooth`). Whole epochs on the x axis (:func:`epoch_ticks`).

    ``groups`` (group name -> run names, :func:`fer.compare.group_runs`) draws each group of two
    or more seeds as its mean with a band of ± one standard deviation, in its first run's colour.
    A grouped run missing from ``histories`` (its ``history.csv`` damaged) is left out of its group.
    The study's figures 4.11 (accuracy) and 4.13 (loss).
    """
    colors = colors or run_colors(list(histories))
    groups = groups or {name: [name] for name in histories}
    figure = go.Figure()
    for group, names in groups.items():
        drawn = [name for name in names if name in histories]
        curves = [_curves(histories[name], metric, smoothing) for name in drawn]
        if len(curves) == 1:
            _add_run_curves(figure, drawn[0], curves[0], colors[drawn[0]])
        elif curves:
            _add_band_curves(figure, group, curves, colors[drawn[0]])
    last_epoch = max((int(history["epoch"].max()) for history in histories.values() if len(history)), default=1)
    figure.update_layout(
        xaxis_title="epoch", yaxis_title=metric, hovermode="x unified", margin={"t": 30}, legend=LEGEND_BESIDE,
    )
    figure.update_xaxes(tickmode="linear", tick0=0, dtick=epoch_ticks(last_epoch))
    if metric == "accuracy":
        figure.update_yaxes(range=[0, 1])
    return figure


def _curves(history: pd.DataFrame, metric: str, smoothing: float) -> pd.DataFrame:
    """``epoch`` and the smoothed series of ``metric`` named by split: ``train`` and, where the
    run has one, ``test`` or ``validation``."""
    evaluated = next((c for c in history.columns if c.endswith(f"_{metric}") and c != metric), None)
    columns = {"train": metric} | ({evaluated.split("_")[0]: evaluated} if evaluated else {})
    return pd.DataFrame({"epoch": history["epoch"], **{s: smooth(history[c], smoothing) for s, c in columns.items()}})


def epoch_ticks(last_epoch: int) -> int:
    """The step between epoch ticks: 1, 2, 5, 10, 20, 50, ... with at most 10 ticks.

    Why: Plotly's own ticks for a run of one or a few epochs fall between them (0.5, 1.5), and
    an epoch is a whole number."""
    steps = (digit * 10**power for power in itertools.count() for digit in (1, 2, 5))
    return next(step for step in steps if last_epoch <= 10 * step)


def _split_style(split: str) -> tuple[dict[str, str], str]:
    """The line dash and marker symbol of a split's curve: solid circles for training, dashed
    diamonds for test/validation. Why: a run of one epoch is a single point per split, in the
    run's one colour, where only the marker tells the two apart."""
    return ({"dash": "solid"}, "circle") if split == "train" else ({"dash": "dash"}, "diamond")


def _add_run_curves(figure: go.Figure, name: str, curves: pd.DataFrame, color: str) -> None:
    for split in curves.columns.drop("epoch"):
        line, symbol = _split_style(split)
        figure.add_scatter(
            x=curves["epoch"], y=curves[split], name=f"{name} {split}", mode="lines+markers",
            line={"color": color, **line}, marker={"symbol": symbol, "size": 8}, legendgroup=name,
        )


def _add_band_curves(figure: go.Figure, name: str, curves: list[pd.DataFrame], color: str) -> None:
    """Mean line and a translucent mean ± sd band per split, over the runs at each epoch."""
    stats = pd.concat(curves).groupby("epoch").agg(["mean", "std"])
    fill = "rgba({}, {}, {}, 0.2)".format(*px.colors.hex_to_rgb(color))
    for split in curves[0].columns.drop("epoch"):
        mean, sd = stats[(split, "mean")], stats[(split, "std")].fillna(0.0)  # one run at an epoch: no spread
        label = f"{name} {split}"
        figure.add_scatter(x=stats.index, y=mean + sd, name=f"{label} + sd", mode="lines", line={"width": 0},
                           legendgroup=name, showlegend=False, hoverinfo="skip")
        figure.add_scatter(x=stats.index, y=mean - sd, name=f"{label} − sd", mode="lines", line={"width": 0},
                           fill="tonexty", fillcolor=fill, legendgroup=name, showlegend=False, hoverinfo="skip")
        line, symbol = _split_style(split)
        figure.add_scatter(x=stats.index, y=mean, name=f"{label} mean of {len(curves)}", mode="lines+markers",
                           line={"color": color, **line}, marker={"symbol": symbol, "size": 8}, legendgroup=name)


def _row_fractions(matrix: list[list[int]] | np.ndarray) -> np.ndarray:
    """Each true class's row as fractions of that class (an empty row stays 0)."""
    counts = np.asarray(matrix, dtype=float)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


def confusion_matrix_figure(matrix: list[list[int]] | np.ndarray, normalize: bool, title: str = "") -> go.Figure:
    """Heatmap of true (rows) against predicted (columns) classes; counts or row fractions.

    Keep ``title`` short (a run's name belongs in a heading above the chart: a long plot title
    is cut off in a narrow column)."""
    values = _row_fractions(matrix) if normalize else np.asarray(matrix, dtype=float)
    text = [[f"{v:.2f}" if normalize else f"{int(v)}" for v in row] for row in values]
    figure = go.Figure(
        go.Heatmap(
            z=values, x=list(CLASSES), y=list(CLASSES), text=text, texttemplate="%{text}",
            colorscale="Blues", zmin=0, zmax=1 if normalize else None, colorbar={"thickness": 12},
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>",
        )
    )
    return _confusion_layout(figure, title)


def confusion_difference_figure(matrix_a: list[list[int]] | np.ndarray, matrix_b: list[list[int]] | np.ndarray) -> go.Figure:
    """Run B's row-normalised confusion matrix minus run A's, white at zero on a symmetric scale:
    blue cells are where B puts more of a true class, red where it puts less (on the diagonal,
    blue is B recognising that class more often)."""
    difference = _row_fractions(matrix_b) - _row_fractions(matrix_a)
    limit = float(np.abs(difference).max()) or 1.0
    text = [[f"{v:+.2f}" for v in row] for row in difference]
    figure = go.Figure(
        go.Heatmap(
            z=difference, x=list(CLASSES), y=list(CLASSES), text=text, texttemplate="%{text}",
            colorscale=[[0.0, "#B2182B"], [0.5, "#FFFFFF"], [1.0, "#2166AC"]], zmin=-limit, zmax=limit, zmid=0,
            colorbar={"title": "B − A", "thickness": 12},
            hovertemplate="true %{y}<br>predicted %{x}<br>B − A: %{text}<extra></extra>",
        )
    )
    return _confusion_layout(figure, "")


PAIRED_COLORS = {"B": "#2166AC", "A": "#B2182B", "neither": "#9E9E9E"}
"""Which run a paired test favours, as :func:`confusion_difference_figure` colours it (blue: B)."""


def paired_forest_figure(
    paired: Mapping[str, PairedComparison], a: str = "A", b: str = "B", measure: str = "recall"
) -> go.Figure:
    """B − A ``measure`` per row with its 95% paired interval: per emotion
    (:func:`fer.compare.paired_by_emotion`), or per degradation (:mod:`fer.robustness`); blue
    where B is significantly better at 5%, red where A is, grey where the interval spans chance;
    ``a`` and ``b`` name the two in the legend and the axis. A forest plot: the eye finds which
    rows moved, and how surely."""
    figure = go.Figure()
    for favoured, color in PAIRED_COLORS.items():
        rows = {name: result for name, result in paired.items() if _favoured(result) == favoured}
        if not rows:
            continue
        points = [result.difference * 100 for result in rows.values()]
        figure.add_trace(go.Scatter(
            x=points, y=list(rows), mode="markers", marker={"color": color, "size": 10},
            name={"B": f"{b} better", "A": f"{a} better", "neither": "within chance"}[favoured],
            error_x={
                "type": "data", "symmetric": False, "color": color,
                "array": [r.ci_high * 100 - x for r, x in zip(rows.values(), points, strict=True)],
                "arrayminus": [x - r.ci_low * 100 for r, x in zip(rows.values(), points, strict=True)],
            },
            customdata=[[r.accuracy_a, r.accuracy_b, r.n, r.p_value] for r in rows.values()],
            hovertemplate=f"%{{y}}: {b} − {a} %{{x:+.1f}} points<br>{measure} {a} %{{customdata[0]:.1%}}, "
            f"{b} %{{customdata[1]:.1%}}<br>%{{customdata[2]:,}} test faces, McNemar p = %{{customdata[3]:.2g}}<extra></extra>",
        ))
    figure.add_vline(x=0, line={"color": "#555555", "width": 1})
    figure.update_yaxes(categoryorder="array", categoryarray=list(paired)[::-1])
    figure.update_layout(
        xaxis_title=f"{b} − {a} {measure} (points), 95% paired interval", yaxis_title=None,
        height=max(320, 110 + 30 * len(paired)), margin={"t": 30}, legend=LEGEND_BESIDE,
    )
    return figure


def _favoured(result: PairedComparison) -> str:
    if not result.significant:
        return "neither"
    return "B" if result.difference > 0 else "A"


def _confusion_layout(figure: go.Figure, title: str) -> go.Figure:
    figure.update_layout(
        title=title, xaxis_title="predicted emotion", yaxis_title="true emotion", yaxis_autorange="reversed",
        margin={"t": 40 if title else 10},
    )
    return figure


def per_class_figure(
    metrics_by_run: Mapping[str, dict[str, Any]], score: str, colors: Mapping[str, str] | None = None
) -> go.Figure:
    """Per-class ``precision``, ``recall`` or ``f1`` of several runs as grouped bars, each run in
    its colour (``colors``, by default :func:`run_colors` in the order given: the same as in
    :func:`history_figure` for the same runs), one bar per class of :data:`~fer.vocab.CLASSES`.

    A run whose metrics hold its confusion matrix gets whiskers: each score's 95% interval over
    resamples of its test images (:func:`fer.significance.per_class_intervals`), wide for the rare
    classes, so that two runs' bars are not read as different where chance alone parts them."""
    rows = [row for name, metrics in metrics_by_run.items() for row in _per_class_rows(name, metrics, score)]
    return _per_class_bars(rows, score, colors or run_colors(list(metrics_by_run)))


def per_emotion_figure(metrics: dict[str, Any]) -> go.Figure:
    """One model's precision and recall per emotion, with their whiskers as in :func:`per_class_figure`:
    for a reader of its answers, how often an answer of each emotion is right, and how many of the
    faces showing it it finds."""
    meanings = {"precision": "right when it answers it (precision)", "recall": "finds it when shown (recall)"}
    rows = [
        {**row, "value": row.pop(score)}
        for score, meaning in meanings.items() for row in _per_class_rows(meaning, metrics, score)
    ]
    colors = dict(zip(meanings.values(), ("#4C78A8", "#F58518")))
    figure = _per_class_bars(rows, "value", colors)
    figure.update_layout(xaxis_title="emotion", yaxis_title=None, legend_title_text=None, height=320)
    return figure


def _per_class_rows(name: str, metrics: dict[str, Any], score: str) -> list[dict[str, Any]]:
    """One bar per class of ``metrics``' ``score`` under ``name``, with its whisker where the
    metrics hold a confusion matrix to resample."""
    lows, highs = [None] * len(CLASSES), [None] * len(CLASSES)
    if store.has_confusion_matrix(metrics):
        lows, highs = per_class_intervals(metrics["confusion_matrix"])[score]
    rows = []
    for cls, low, high in zip(CLASSES, lows, highs, strict=True):
        value = metrics["per_class"][cls][score]
        below, above = (None, None) if low is None or np.isnan(low) else (max(0.0, value - low), max(0.0, high - value))
        rows.append({"run": name, "class": cls, score: value, "below": below, "above": above})
    return rows


def _per_class_bars(rows: list[dict[str, Any]], score: str, colors: Mapping[str, str]) -> go.Figure:
    figure = px.bar(pd.DataFrame(rows), x="class", y=score, color="run", barmode="group", error_y="above",
                    error_y_minus="below", category_orders={"class": list(CLASSES)}, color_discrete_map=colors)
    figure.update_yaxes(range=[0, 1])
    figure.update_layout(margin={"t": 30}, legend=LEGEND_BESIDE)
    return figure


def reliability_figure(
    curves: Mapping[str, tuple[float, list[dict[str, Any]]]],
    colors: Mapping[str, str] | None = None,
    scaled: Mapping[str, tuple[float, float, list[dict[str, Any]]]] | None = None,
) -> go.Figure:
    """Reliability diagrams: per run (its ``(ece, bins)`` of :func:`fer.evaluate.calibration`),
    the accuracy of each bin of faces against their mean top probability, beside the diagonal of
    a perfectly calibrated model. Above the diagonal the model is under-confident, below it
    over-confident; each point's size follows its faces, and the legend gives each run's ECE.
    A run in ``scaled`` (its ``(temperature, ece, bins)``: :func:`fer.store.temperature_scaling`)
    also gets a dotted curve in its color: its probabilities scaled as the Classify page shows them."""
    colors = colors or run_colors(list(curves))
    figure = go.Figure(
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"color": "gray", "dash": "dash"}, name="calibrated")
    )
    for name, (ece, bins) in curves.items():
        figure.add_trace(_reliability_trace(bins, f"{name} · ECE {ece:.3f}", {"color": colors[name]}))
        if name in (scaled or {}):
            temperature, scaled_ece, scaled_bins = scaled[name]
            label = f"{name}, temperature {temperature:.3g} · ECE {scaled_ece:.3f}"
            figure.add_trace(_reliability_trace(scaled_bins, label, {"color": colors[name], "dash": "dot"}))
    figure.update_xaxes(range=[0, 1], title="top probability (mean of the bin)", tickformat=".0%")
    figure.update_yaxes(range=[0, 1], title="accuracy", tickformat=".0%")
    figure.update_layout(margin={"t": 30}, legend=LEGEND_BESIDE, height=480)
    return figure


def _reliability_trace(bins: list[dict[str, Any]], name: str, line: dict[str, str]) -> go.Scatter:
    """One run's reliability curve: a point per bin with faces, its size following their number."""
    filled = [row for row in bins if row["faces"]]
    largest = max(row["faces"] for row in filled)
    return go.Scatter(
        x=[row["confidence"] for row in filled], y=[row["accuracy"] for row in filled], mode="lines+markers",
        name=name, line=line, marker={"size": [6 + 12 * (row["faces"] / largest) ** 0.5 for row in filled]},
        customdata=[row["faces"] for row in filled],
        hovertemplate="top probability %{x:.2f}: right %{y:.1%} of %{customdata:,} faces<extra></extra>",
    )


def training_time_figure(table: pd.DataFrame) -> go.Figure:
    """Training seconds per run beside the study's for the same scenario (the study's figure 4.10).

    ``table`` is :func:`fer.study.comparison_table` output.
    """
    return _versus_study_figure(table, "train_seconds", "training seconds", ".0f")


def test_accuracy_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Test accuracy per run beside the study's for the same scenario (Table 4.2 at a glance),
    each run's bars named by the test images it was scored on (:func:`fer.study.bar_name`): a
    score on a few hundred sample faces, one on PrivateTest and the study's on all 7,178 test
    images share the axis but not the images.

    ``rows`` are :func:`fer.study.run_rows` output (the table's numbers and each run's test images).

    Each bar's whisker is its 95% interval over the sampling of its test images
    (:func:`fer.significance.accuracy_interval`): about ±1 point on 7,178 images, ±5 on the
    sample's 296, so a bar's lead over another is read with its noise.
    """
    table = study.comparison_table(rows, differences=False)
    names = {row["run"]: study.bar_name(row, "<br>") for row in rows}
    figure = _versus_study_figure(table.assign(run=table["run"].map(names)), "test_accuracy", "test accuracy", ".1%")
    images = {names[row["run"]]: row.get("test_images") for row in rows}
    for trace in figure.data:
        counts = [images[name] if trace.name == "this project" else study.STUDY_DATA["test_images"] for name in trace.x]
        below, above = zip(*(_interval_whisker(accuracy, n) for accuracy, n in zip(trace.y, counts)), strict=True)
        trace.error_y = {"type": "data", "symmetric": False, "array": above, "arrayminus": below, "color": "#555555"}
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    return figure


def _interval_whisker(accuracy: float | None, n: int | None) -> tuple[float | None, float | None]:
    """How far a bar's 95% interval reaches below and above it; none where its test images are not recorded."""
    interval = recorded_interval(accuracy, n)
    if interval is None:
        return None, None
    return accuracy - interval[0], interval[1] - accuracy


def _versus_study_figure(table: pd.DataFrame, metric: str, axis_title: str, text_format: str) -> go.Figure:
    """Grouped bars: each run's ``metric`` and, where its scenario is one of the study's, the study's."""
    ours, theirs = study.METRIC_COLUMNS[metric], study.study_column(metric)
    rows = [{"run": r["run"], "source": "this project", "value": r[ours]} for _, r in table.iterrows()]
    rows += [{"run": r["run"], "source": "study", "value": r[theirs]} for _, r in table.iterrows() if pd.notna(r[theirs])]
    figure = px.bar(
        pd.DataFrame(rows), x="run", y="value", color="source", barmode="group", text_auto=text_format,
        category_orders={"source": ["this project", "study"]},
        color_discrete_map={"this project": "#4C78A8", "study": "#B0B0B0"},
    )
    # Plotly spreads a few bars over the whole width (one run: one wall-wide bar); the gap
    # between runs keeps each bar at most a fifth of the plot wide.
    gap = max(0.15, 1 - 0.2 * len(rows))
    figure.update_layout(
        yaxis_title=axis_title, xaxis_title=None, margin={"t": 30}, legend_title_text=None, bargap=gap
    )
    return figure


def probability_figure(probabilities: np.ndarray) -> go.Figure:
    """One face's probabilities for the seven emotions as horizontal bars, the top one first."""
    order = np.argsort(probabilities)
    figure = go.Figure(
        go.Bar(
            x=probabilities[order], y=[CLASSES[i] for i in order], orientation="h",
            marker_color=[_plotly_color(CLASS_COLORS[CLASSES[i]]) for i in order],
            text=[f"{p:.0%}" for p in probabilities[order]], textposition="auto",
        )
    )
    # Room on the right for the "100%" tick label.
    figure.update_layout(xaxis={"range": [0, 1], "tickformat": ".0%"}, height=230, margin={"t": 10, "b": 10, "l": 10, "r": 30})
    return figure


def emotion_timeline_figure(timeline: pd.DataFrame, smoothing: float = 0.0) -> go.Figure:
    """A video's timeline (:func:`fer.video.classify_video`): each emotion's probability over
    time in its own colour, smoothed as the training curves are (:func:`smooth`), with gaps where
    no face was found, and grey marks along the bottom at those frames."""
    figure = go.Figure()
    for emotion in CLASSES:
        figure.add_scatter(
            x=timeline["time_s"], y=smooth(timeline[emotion].to_numpy(float), smoothing), name=emotion,
            mode="lines", line={"color": _plotly_color(CLASS_COLORS[emotion])},
            hovertemplate=f"{emotion} %{{y:.0%}}<extra></extra>",
        )
    missing = timeline.loc[~timeline["face_found"], "time_s"]
    if len(missing):
        figure.add_scatter(
            x=missing, y=np.zeros(len(missing)), name="no face found", mode="markers",
            marker={"color": "gray", "symbol": "line-ns-open", "size": 10}, hovertemplate="no face found<extra></extra>",
        )
    figure.update_xaxes(title="time (s)", rangemode="tozero")
    figure.update_yaxes(title="probability", range=[0, 1], tickformat=".0%")
    figure.update_layout(hovermode="x unified", margin={"t": 30}, legend=LEGEND_BESIDE, height=380)
    return figure


def feature_map_figure(table: pd.DataFrame, colour_by: str = "true") -> go.Figure:
    """A run's test faces where its network puts them (:meth:`fer.feature_map.FeatureMap.table`),
    one colour per emotion of the ``colour_by`` column (``true`` or ``answered``). Each point
    carries its face's number, so a box or lasso drawn on the chart names the faces inside it.
    The axes are t-SNE's, which mean nothing, so they are hidden."""
    figure = go.Figure()
    for emotion in CLASSES:
        faces = table[table[colour_by] == emotion]
        figure.add_scattergl(
            x=faces["x"], y=faces["y"], name=f"{emotion} ({len(faces):,})", mode="markers",
            marker={"color": _plotly_color(CLASS_COLORS[emotion]), "size": 5},
            customdata=faces[["face", "true", "answered", "probability"]].to_numpy(),
            hovertemplate="face %{customdata[0]}: %{customdata[1]}, answered %{customdata[2]} "
            "(%{customdata[3]:.0%})<extra></extra>",
        )
    hidden = {"showticklabels": False, "showgrid": False, "zeroline": False, "title": None}
    figure.update_xaxes(**hidden)
    figure.update_yaxes(**hidden, scaleanchor="x")
    figure.update_layout(
        height=620, margin={"t": 10}, dragmode="lasso",
        legend={**LEGEND_BESIDE, "title": "true emotion" if colour_by == "true" else "the run's answer"},
    )
    return figure


def _plotly_color(rgb: tuple[int, int, int]) -> str:
    """An (r, g, b) colour of :data:`fer.vocab.CLASS_COLORS` as Plotly writes it, ``rgb(r, g, b)``."""
    return "rgb({}, {}, {})".format(*rgb)


def face_mosaic(faces: np.ndarray, columns: int, scale: int = 2) -> np.ndarray:
    """Tile ``(N, 48, 48)`` uint8 faces into one image (blank tiles pad the last row), enlarged."""
    count, height, width = faces.shape
    rows = max(1, -(-count // columns))
    canvas = np.full((rows * height, columns * width), 255, np.uint8)
    for i, face in enumerate(faces):
        r, c = divmod(i, columns)
        canvas[r * height : (r + 1) * height, c * width : (c + 1) * width] = face
    return np.kron(canvas, np.ones((scale, scale), np.uint8)) if scale > 1 else canvas


# --------------------------------------------------------------------------------------------
# Model anatomy and published results


def block_cost_figure(blocks: pd.DataFrame) -> go.Figure:
    """Parameters and FLOPs per image of each block, side by side, blocks top to bottom in
    network order (the study's figures 4.2-4.5 at a glance).

    ``blocks`` is :attr:`fer.architecture.Anatomy.blocks`.
    """
    measures = {"params": "parameters", "FLOPs": "FLOPs per image"}
    long = blocks.melt(id_vars=["block", "output shape", "layers"], value_vars=list(measures), var_name="measure")
    long["measure"] = long["measure"].map(measures)
    long["label"] = [_si(value) for value in long["value"]]
    figure = px.bar(
        long, x="value", y="block", color="measure", facet_col="measure", orientation="h", text="label",
        hover_data={"output shape": True, "layers": True, "value": ":,", "label": False, "measure": False},
        category_orders={"block": list(blocks["block"]), "measure": list(measures.values())},
        color_discrete_sequence=["#4C78A8", "#F58518"],
    )
    figure.update_xaxes(matches=None, title=None)
    figure.for_each_annotation(lambda a: a.update(text=a.text.replace("measure=", "")))
    figure.update_layout(showlegend=False, yaxis_title=None, height=max(280, 26 * len(blocks) + 80),
                         margin={"t": 30, "l": 10, "r": 10})
    return figure


def accuracy_landscape_figure(landscape: pd.DataFrame) -> go.Figure:
    """Test accuracy of this project's runs, the study's four scenarios and published FER2013
    results as horizontal bars, best on top, one colour per group (the study's figure 4.15).

    ``landscape`` is :func:`fer.study.accuracy_landscape` output. Each bar's whisker is its 95%
    interval over its test images (none where their number is not known), as on the bars beside
    Table 4.2.
    """
    below, above = zip(*map(_interval_whisker, landscape["accuracy"], landscape["test images"]), strict=True)
    figure = px.bar(
        landscape.assign(below=below, above=above), x="accuracy", y="result", color="group", orientation="h",
        text_auto=".1%", error_x="above", error_x_minus="below",
        hover_data=["test split", "models", "weights"],
        category_orders={"result": list(landscape["result"]), "group": ["this project", "the study", "other work"]},
        color_discrete_map={"this project": "#4C78A8", "the study": "#B0B0B0", "other work": "#F58518"},
    )
    figure.update_xaxes(range=[0, 1], tickformat=".0%", title="test accuracy")
    figure.update_layout(yaxis_title=None, legend_title_text=None, height=max(300, 30 * len(landscape) + 90),
                         margin={"t": 30}, legend=LEGEND_BESIDE)
    return figure


def _si(value: float) -> str:
    """``1.79G``, ``20.0M``, ``3.6k``: bar labels short enough to fit."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.0f}"
