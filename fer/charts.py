"""Plotly figures, image mosaics and display tables for the dashboard, from the library's own data.

Each function takes data in the shape the library produces (``class_counts`` long tables,
``history.csv`` frames, ``metrics.json`` dicts, run folders) and returns a figure, an image or
a table, so pages stay thin and everything they show can be built and checked in tests
without Streamlit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from fer.data import CLASSES, FaceDataset

CLASS_COLORS = dict(zip(CLASSES, px.colors.qualitative.Safe))


def class_distribution_figure(counts: pd.DataFrame, strategy: str) -> go.Figure:
    """Per-class counts of each split, training split before and after balancing side by side.

    ``counts`` is :func:`fer.balance.class_counts` output (the study's figures 4.1 and 4.9).
    """
    shown = counts[(counts["stage"] == "before") | (counts["split"] == "train")].copy()
    shown["stage"] = shown["stage"].map({"before": "as is", "after": f"after {strategy}"})
    figure = px.bar(
        shown,
        x="class",
        y="count",
        color="stage",
        barmode="group",
        facet_col="split",
        text="count",
        category_orders={"class": list(CLASSES), "split": ["train", "validation", "test"]},
        color_discrete_sequence=["#4C78A8", "#F58518"],
    )
    figure.update_traces(textposition="outside", cliponaxis=False)
    figure.update_yaxes(matches=None, showticklabels=True)
    figure.for_each_annotation(lambda a: a.update(text=a.text.replace("split=", "")))
    figure.update_layout(legend_title_text="training split", margin=dict(t=40))
    return figure


def history_figure(histories: Mapping[str, pd.DataFrame], metric: str) -> go.Figure:
    """Train (solid) and test/validation (dashed) ``loss`` or ``accuracy`` per epoch, one colour per run.

    The study's figures 4.11 (accuracy) and 4.13 (loss).
    """
    figure = go.Figure()
    palette = px.colors.qualitative.Plotly
    for i, (name, history) in enumerate(histories.items()):
        color = palette[i % len(palette)]
        eval_column = next((c for c in history.columns if c.endswith(f"_{metric}") and c != metric), None)
        figure.add_scatter(
            x=history["epoch"], y=history[metric], name=f"{name} train", mode="lines+markers",
            line=dict(color=color), legendgroup=name,
        )
        if eval_column:
            figure.add_scatter(
                x=history["epoch"], y=history[eval_column], name=f"{name} {eval_column.split('_')[0]}",
                mode="lines+markers", line=dict(color=color, dash="dash"), legendgroup=name,
            )
    figure.update_layout(
        xaxis_title="epoch", yaxis_title=metric, hovermode="x unified", margin=dict(t=30), legend=dict(orientation="h")
    )
    if metric == "accuracy":
        figure.update_yaxes(range=[0, 1])
    return figure


def confusion_matrix_figure(matrix: list[list[int]] | np.ndarray, normalize: bool, title: str = "") -> go.Figure:
    """Heatmap of true (rows) against predicted (columns) classes; counts or row fractions."""
    counts = np.asarray(matrix, dtype=float)
    values = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1) if normalize else counts
    text = [[f"{v:.2f}" if normalize else f"{int(v)}" for v in row] for row in values]
    figure = go.Figure(
        go.Heatmap(
            z=values, x=list(CLASSES), y=list(CLASSES), text=text, texttemplate="%{text}",
            colorscale="Blues", zmin=0, zmax=1 if normalize else None,
            hovertemplate="true %{y}<br>predicted %{x}<br>%{text}<extra></extra>",
        )
    )
    figure.update_layout(
        title=title, xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed",
        margin=dict(t=40 if title else 10),
    )
    return figure


def per_class_figure(metrics_by_run: Mapping[str, dict[str, Any]], score: str) -> go.Figure:
    """Per-class ``precision``, ``recall`` or ``f1`` of several runs as grouped bars."""
    rows = [
        {"run": name, "class": cls, score: values[score]}
        for name, metrics in metrics_by_run.items()
        for cls, values in metrics["per_class"].items()
    ]
    figure = px.bar(pd.DataFrame(rows), x="class", y=score, color="run", barmode="group",
                    category_orders={"class": list(CLASSES)})
    figure.update_yaxes(range=[0, 1])
    figure.update_layout(margin=dict(t=30), legend=dict(orientation="h"))
    return figure


def training_time_figure(table: pd.DataFrame) -> go.Figure:
    """Training seconds per run beside the study's for the same scenario (the study's figure 4.10).

    ``table`` is :func:`fer.study.comparison_table` output.
    """
    return _versus_study_figure(table, "train_seconds", "training seconds", ".0f")


def test_accuracy_figure(table: pd.DataFrame) -> go.Figure:
    """Test accuracy per run beside the study's for the same scenario (Table 4.2 at a glance).

    ``table`` is :func:`fer.study.comparison_table` output.
    """
    figure = _versus_study_figure(table, "test_accuracy", "test accuracy", ".1%")
    figure.update_yaxes(range=[0, 1], tickformat=".0%")
    return figure


def _versus_study_figure(table: pd.DataFrame, column: str, axis_title: str, text_format: str) -> go.Figure:
    """Grouped bars: each run's ``column`` and, where its scenario is one of the study's, the study's."""
    rows = [{"run": r["run"], "source": "this project", "value": r[column]} for _, r in table.iterrows()]
    rows += [
        {"run": r["run"], "source": "study", "value": r[f"study {column}"]}
        for _, r in table.iterrows()
        if pd.notna(r[f"study {column}"])
    ]
    figure = px.bar(
        pd.DataFrame(rows), x="run", y="value", color="source", barmode="group", text_auto=text_format,
        category_orders={"source": ["this project", "study"]},
        color_discrete_map={"this project": "#4C78A8", "study": "#B0B0B0"},
    )
    figure.update_layout(yaxis_title=axis_title, xaxis_title=None, margin=dict(t=30), legend_title_text=None)
    return figure


def probability_figure(probabilities: np.ndarray) -> go.Figure:
    """One face's probabilities for the seven emotions as horizontal bars, the top one first."""
    order = np.argsort(probabilities)
    figure = go.Figure(
        go.Bar(
            x=probabilities[order], y=[CLASSES[i] for i in order], orientation="h",
            marker_color=[CLASS_COLORS[CLASSES[i]] for i in order],
            text=[f"{p:.0%}" for p in probabilities[order]], textposition="auto",
        )
    )
    figure.update_layout(xaxis=dict(range=[0, 1], tickformat=".0%"), height=230, margin=dict(t=10, b=10, l=10, r=10))
    return figure


def face_mosaic(faces: np.ndarray, columns: int, scale: int = 2) -> np.ndarray:
    """Tile ``(N, 48, 48)`` uint8 faces into one image (blank tiles pad the last row), enlarged."""
    count, height, width = faces.shape
    rows = max(1, -(-count // columns))
    canvas = np.full((rows * height, columns * width), 255, np.uint8)
    for i, face in enumerate(faces):
        r, c = divmod(i, columns)
        canvas[r * height : (r + 1) * height, c * width : (c + 1) * width] = face
    return np.kron(canvas, np.ones((scale, scale), np.uint8)) if scale > 1 else canvas


def faces_of_class(dataset: FaceDataset, name: str) -> np.ndarray:
    """All faces of one class, ``(n, 48, 48)``, in dataset order (so an index picks a stable face)."""
    return dataset.images[dataset.labels == CLASSES.index(name)]


def class_examples(dataset: FaceDataset, per_class: int, seed: int) -> dict[str, np.ndarray]:
    """Up to ``per_class`` random faces of every class, drawn without repeats; another seed, other faces."""
    generator = np.random.default_rng(seed)
    examples = {}
    for name in CLASSES:
        faces = faces_of_class(dataset, name)
        examples[name] = faces[generator.choice(len(faces), size=min(per_class, len(faces)), replace=False)]
    return examples


# --------------------------------------------------------------------------------------------
# Tables as the pages show them


def number_formats(table: pd.DataFrame) -> dict[str, str]:
    """``Styler.format`` strings for a comparison or study table's numeric columns.

    Fractions get four decimals (the study's precision), differences a sign, seconds none.
    """
    formats = {}
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]) or column == "epochs":
            continue
        seconds = "seconds" in column
        signed = column.endswith(" diff")
        formats[column] = "{:" + ("+" if signed else "") + (",.0f" if seconds else ".4f") + "}"
    return formats
