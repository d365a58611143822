"""Compare: finished and reference runs side by side, and beside the study's Table 4.2."""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from fer import charts, runs, study

MAX_DEFAULT_RUNS = 4


def show(figure: go.Figure, key: str, file_stem: str) -> None:
    """A chart and a standalone, interactive HTML download of it (the modebar already offers a PNG)."""
    st.plotly_chart(figure, key=key)
    st.download_button(
        "Download as HTML", figure.to_html(include_plotlyjs="cdn"), file_name=f"{file_stem}.html", mime="text/html",
        icon=":material/download:", key=f"{key}_html", on_click="ignore",
    )


st.title("Compare runs")
finished = runs.comparable_runs()
if not finished:
    st.info(
        "No finished runs to compare yet. Train one on the Train page, or from a terminal, e.g. "
        "`python -m fer train --scenario S2 --epochs 1 --data sample` (a quick check on the shipped sample) "
        "or `python -m fer train --scenario S2` for the study's 100 epochs on the imported FER2013. "
        "Completed runs appear here with their curves, metrics and confusion matrices.",
        icon=":material/info:",
    )
    st.page_link("app_pages/train.py", label="Go to the Train page", icon=":material/model_training:")
    st.stop()

chosen = st.multiselect(
    "Runs", list(finished), default=list(finished)[:MAX_DEFAULT_RUNS], key="compare_runs",
    help="This project's completed runs, newest first, then the reference runs committed with the project.",
)
if not chosen:
    st.info("Choose at least one run above.", icon=":material/info:")
    st.stop()

metrics = {name: finished[name].metrics() for name in chosen}
histories = {name: finished[name].history() for name in chosen}

# --------------------------------------------------------------------------------------------
st.header("Metrics beside the study's Table 4.2")
table = study.comparison_table([study.run_row(name, values) for name, values in metrics.items()])
st.dataframe(table.style.format(charts.number_formats(table), na_rep="—"), hide_index=True)
st.caption(
    "Precision and recall are macro averages, as in the study. \"study …\" columns hold the study's "
    "number for the run's scenario, \"… diff\" is ours minus the study's; custom runs have no study "
    "counterpart. Train accuracy is at the reported epoch; seconds are training time only."
)
st.download_button(
    "Download the table as CSV", table.to_csv(index=False), file_name="comparison.csv", mime="text/csv",
    icon=":material/download:", key="compare_csv", on_click="ignore",
)

# --------------------------------------------------------------------------------------------
st.header("Learning curves")
st.caption("Solid: training split; dashed: the evaluation split (test, or validation under the standard protocol).")
accuracy_column, loss_column = st.columns(2)
with accuracy_column:
    st.subheader("Accuracy (figure 4.11)")
    show(charts.history_figure(histories, "accuracy"), "accuracy_curves", "accuracy_curves")
with loss_column:
    st.subheader("Loss (figure 4.13)")
    show(charts.history_figure(histories, "loss"), "loss_curves", "loss_curves")

st.header("Training time (figure 4.10)")
show(charts.training_time_figure(table), "training_time", "training_time")

# --------------------------------------------------------------------------------------------
st.header("Confusion matrices")
normalize = st.toggle("Row-normalised (each true class sums to 1)", key="compare_normalize")
matrix_columns = st.columns(min(len(chosen), 3))
for i, name in enumerate(chosen):
    with matrix_columns[i % len(matrix_columns)]:
        figure = charts.confusion_matrix_figure(metrics[name]["confusion_matrix"], normalize, title=name)
        show(figure, f"confusion_{i}", f"confusion_{finished[name].run_id}")

st.header("Per-class scores")
score = st.segmented_control(
    "Score", ["precision", "recall", "f1"], default="f1", required=True, key="compare_score",
    format_func=lambda s: {"f1": "F1"}.get(s, s),
)
show(charts.per_class_figure(metrics, score), "per_class", f"per_class_{score}")
