"""Compare: finished and reference runs side by side, beside the study's Table 4.2, their settings,
seed repeats, and any two runs tested against each other on the same test images."""

from __future__ import annotations

from collections.abc import Collection, Iterable

import plotly.graph_objects as go
import streamlit as st

from fer import annotate, charts, compare, robustness, runs, store, study, ui
from fer.errors import FerError
from fer.significance import RESAMPLES
from fer.vocab import CLASSES

MAX_DEFAULT_RUNS = 4
NO_MATRIX = "its metrics.json holds no readable confusion matrix"


def show(figure: go.Figure, key: str, file_stem: str) -> None:
    """A chart and a standalone, interactive HTML download of it (the modebar already offers a PNG)."""
    st.plotly_chart(figure, key=key)
    st.download_button(
        "Download as HTML", figure.to_html(include_plotlyjs="cdn"), file_name=f"{file_stem}.html", mime="text/html",
        icon=":material/download:", key=f"{key}_html", on_click="ignore",
    )


def left_out(names: Iterable[str], drawn: Collection[str], damage: str) -> None:
    """Name each of ``names`` that a chart leaves out (not in ``drawn``) and why: one run's
    damaged file must not fail the page for every run."""
    for name in names:
        if name not in drawn:
            st.warning(f"**{name}** is left out here: {damage}.", icon=":material/broken_image:")


def confusion_faces_section(names: list[str]) -> None:
    """The test faces behind one cell of a run's confusion matrix, starting at its commonest
    confusion: what a run gets wrong, to be seen rather than counted."""
    run_column, true_column, predicted_column = st.columns(3)
    name = run_column.selectbox("Run", names, key="confused_run")
    run = finished[name]
    try:
        true, predicted = compare.commonest_confusion(run, load=ui.dataset)
    except FerError as error:
        st.info(f"No faces to show for {name}: {error}", icon=":material/info:")
        return
    true = true_column.selectbox("True emotion", CLASSES, index=CLASSES.index(true), key=f"confused_true_{run.run_id}")
    predicted = predicted_column.selectbox(
        "Answered", CLASSES, index=CLASSES.index(predicted), key=f"confused_predicted_{run.run_id}",
        help="The same emotion as the true one shows the faces the run got right.",
    )
    faces = compare.confused_faces(run, true, predicted, load=ui.dataset)
    rightly = "rightly " if true == predicted else ""
    share = f" ({faces.total / faces.of_true:.1%})" if faces.of_true else ""
    shown = f"; the {len(faces.images)} it was surest of, with its probability of {predicted}:" if faces.total else "."
    st.markdown(f"{faces.total:,} of the {faces.of_true:,} **{true}** test faces were {rightly}answered **{predicted}**{share}{shown}")
    if faces.total:
        st.image(
            [annotate.enlarged(face, 2) for face in faces.images],
            caption=[f"{probability:.0%}" for probability in faces.probabilities],
        )


MAP_FACES_SHOWN = 40
"""Most faces shown from a lasso on the map: as many as under a confusion."""


def faces_map_section(names: list[str]) -> None:
    """A run's test faces where its network puts them, coloured by true emotion or by answer; the
    faces inside a lasso drawn on the map are shown under it."""
    mappable = [name for name in names if finished[name].model_path.exists()]
    if not mappable:
        st.info("None of the chosen runs kept its model file, which the map needs.", icon=":material/info:")
        return
    run_column, colour_column = st.columns([2, 1])
    name = run_column.selectbox("Run", mappable, key="map_run", help="The chosen runs that kept their model file.")
    colour_by = colour_column.radio(
        "Colour by", ["true", "answered"], horizontal=True, key="map_colour",
        format_func={"true": "true emotion", "answered": "the run's answer"}.get,
    )
    if not st.toggle("Draw the map", key="map_drawn", help="t-SNE of the features the network's last layer reads."):
        return
    run = finished[name]
    try:
        drawn = ui.faces_map(run)
    except FerError as error:
        st.info(f"No map: {error}", icon=":material/info:")
        return
    table = drawn.table()
    event = st.plotly_chart(
        charts.feature_map_figure(table, colour_by), key=f"map_{run.run_id}", on_select="rerun",
        selection_mode=("lasso", "box"),
    )
    st.download_button(
        "Download the map (CSV)", table.to_csv(index=False), file_name=f"map_{run.run_id}.csv", mime="text/csv",
        icon=":material/download:", key="map_csv", on_click="ignore",
    )
    st.markdown(drawn.summary())
    chosen = [int(point["customdata"][0]) for point in event.selection.points] if event else []
    if not chosen:
        st.caption(f"Draw a lasso around faces on the map to see them here ({drawn.features:,} features a face).")
        return
    shown = chosen[:MAP_FACES_SHOWN]
    right = int((drawn.answers[chosen] == drawn.labels[chosen]).sum())
    st.markdown(
        f"**{len(chosen):,} faces** in the lasso, {right:,} answered rightly; the first {len(shown)}, true → answered:"
    )
    st.image(
        [annotate.enlarged(drawn.images[i], 2) for i in shown],
        caption=[f"{CLASSES[drawn.labels[i]]} → {CLASSES[drawn.answers[i]]}" for i in shown],
    )


def paired_section(a: runs.Run, b: runs.Run) -> None:
    """Whether B's accuracy differs from A's by more than chance, on the images both were tested on."""
    try:
        paired = compare.paired_runs(a, b, load=ui.dataset)
    except FerError as error:
        st.warning(f"No paired test for these two runs: {error}", icon=":material/warning:")
        return
    verdict = st.success if paired.significant else st.info
    verdict(paired.sentence(), icon=":material/balance:")
    st.caption(
        f"On the same {paired.n:,} test images: A {paired.accuracy_a:.2%}, B {paired.accuracy_b:.2%}. "
        f"Only A right on {paired.only_a:,} images, only B right on {paired.only_b:,}; McNemar's exact test "
        "asks whether that split could be a coin's (the images both got right or wrong say nothing about "
        f"which is better). The interval is a paired bootstrap over the test images ({RESAMPLES:,} resamples)."
    )
    st.markdown("**Emotion by emotion**")
    by_emotion = compare.paired_by_emotion(a, b, load=ui.dataset)
    show(charts.paired_forest_figure(by_emotion), "paired_emotions", "paired_emotions")
    st.caption(
        "The same test on each emotion's test faces alone: B's recall minus A's, with its 95% interval. Blue: B "
        "finds that emotion significantly more often, red: A does (McNemar, 5%). Seven tests at once: two runs as "
        "good as each other show one \"significant\" emotion about one time in three, so trust a single one "
        "barely past 5% less than several, or one far past it."
    )
    with st.expander("As a table"):
        table = compare.paired_emotion_table(by_emotion)
        st.dataframe(table.style.format(study.number_formats(table)), hide_index=True)


def worse_photos_section(a: runs.Run, b: runs.Run) -> None:
    """B against A on worse photos of the same test faces, where both were measured."""
    try:
        paired = robustness.paired_runs(a, b)
    except FerError as error:
        st.caption(f"No paired comparison on worse photos: {error}.")
        return
    show(charts.paired_forest_figure(paired, measure="accuracy"), "paired_robustness", "paired_robustness")
    st.caption(
        f"Each run's test faces enlarged to {robustness.SIDE} px, made worse there the same way for both, brought back "
        "as the Classify page brings a face to the model, and classified as each run does (its own test-time "
        "augmentation): B's accuracy minus A's under each condition, paired on the same faces, with its 95% interval. "
        "Blue: B holds up significantly better there, red: A does (McNemar, 5%); the first row is the faces with "
        "nothing made worse."
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

selected = {name: finished[name] for name in chosen}
metrics = {name: run.metrics() for name, run in selected.items()}
histories = {name: history for name, run in selected.items() if (history := run.history()) is not None}
matrices = {name: values["confusion_matrix"] for name, values in metrics.items() if store.has_confusion_matrix(values)}
scored = {name: values for name, values in metrics.items() if store.has_per_class_scores(values)}
colors = charts.run_colors(chosen)
groups = compare.group_runs(selected)

# --------------------------------------------------------------------------------------------
st.header("Metrics beside the study's Table 4.2")
table = study.comparison_table(study.run_rows(metrics))
st.dataframe(table.style.format(study.number_formats(table)), hide_index=True, placeholder="—")
st.caption(
    "Precision and recall are macro averages, as in the study. \"study …\" columns hold the study's "
    "number for the run's scenario, \"… − study\" is ours minus the study's, only for runs of S1–S4 scored "
    "like the study (full FER2013, thesis protocol, all 7,178 test images), the test accuracy's with its 95% "
    "interval over the sampling of those images (unpaired: the study's per-image answers are not published); \"beside the study\" says why "
    "the others' are empty (sample data, standard protocol, or a custom run with no study counterpart), and "
    "\"data\" names the test images each row was scored on. Train accuracy is at the reported epoch. Train "
    "seconds are training time only, as the study's are; wall-clock seconds add loading the data, compiling "
    "and the test."
)
st.download_button(
    "Download the table as CSV", table.to_csv(index=False), file_name="comparison.csv", mime="text/csv",
    icon=":material/download:", key="compare_csv", on_click="ignore",
)

st.header("Test faces seen in training")
seen, unsplit = compare.seen_in_training_table(selected, load=ui.dataset)
if not seen.empty:
    accuracies = {compare.SEEN_COLUMNS[key]: "{:.4f}" for key in ("accuracy_others", "accuracy_copies", "accuracy_near")}
    st.dataframe(seen.style.format(accuracies), hide_index=True, placeholder="—")
st.caption(
    "FER2013 holds some faces twice, and some test faces are faces a run trained on: 288 of the 3,589 PrivateTest "
    "faces (568 of all 7,178, the study's test set) are copies of Training faces pixel for pixel, and another 298 "
    "(580) near copies, the same photo cropped, toned or watermarked another way. A run's score on them is partly "
    "memory, so the accuracy on the others is the fairer number, for the study's runs too. The three split the test "
    "accuracy above: as each run recorded it when it was scored, or recounted from its kept probabilities for a run "
    "older than that. The Dataset page shows both kinds."
)
for why in unsplit.values():  # each reason names its run
    st.caption(f"Not split: {why}")

st.header("Settings")
differences_only = st.toggle("Differences only", key="compare_differences",
                             help="Only the settings that are not the same for every chosen run.")
settings = compare.config_table(selected, differences_only)
if len(settings.columns) > 1:
    st.dataframe(settings, hide_index=True)
else:
    st.info("The chosen runs share every setting.", icon=":material/info:")

st.header("Seed repeats")
repeats = compare.seed_table(selected, groups)
if repeats.empty:
    st.caption(
        "No two chosen runs differ only in their seed. Repeat a run with other seeds (Train page: Seeds; "
        "`python -m fer train … --seeds 3`) to see how far the seed alone moves each number."
    )
else:
    st.dataframe(repeats, hide_index=True)
    st.caption("Mean ± sample standard deviation over the runs of each group (runs that differ only in their seed).")

# --------------------------------------------------------------------------------------------
st.header("Learning curves")
smoothing_column, band_column = st.columns(2)
smoothing = smoothing_column.slider(
    "Smoothing", 0.0, 0.99, 0.0, 0.01, key="compare_smoothing",
    help="TensorBoard's exponential moving average (debiased): 0 draws the values as they are.",
)
banded = band_column.toggle(
    "Seed repeats as mean ± sd", value=True, key="compare_bands", disabled=repeats.empty,
    help="Draw each group of runs that differ only in their seed as its mean with a band of ± one standard deviation.",
)
curve_groups = groups if banded else None
st.caption(
    "Solid line, circles: training split; dashed line, diamonds: the evaluation split (test, or validation "
    "under the standard protocol)."
)
left_out(chosen, histories, "its history.csv is missing or damaged")
if histories:
    for metric, title in (("accuracy", "Accuracy (figure 4.11)"), ("loss", "Loss (figure 4.13)")):
        st.subheader(title)
        figure = charts.history_figure(histories, metric, colors, smoothing, curve_groups)
        show(figure, f"{metric}_curves", f"{metric}_curves")

st.header("Training time (figure 4.10)")
show(charts.training_time_figure(table), "training_time", "training_time")

# --------------------------------------------------------------------------------------------
st.header("Confusion matrices")
normalize = st.toggle("Row-normalised (each true class sums to 1)", key="compare_normalize")
matrix_columns = st.columns(min(len(chosen), 2))  # three abreast squeeze the class names
for i, name in enumerate(chosen):
    with matrix_columns[i % len(matrix_columns)]:
        st.markdown(f"**{name}**")
        left_out([name], matrices, NO_MATRIX)
        if name in matrices:
            figure = charts.confusion_matrix_figure(matrices[name], normalize)
            show(figure, f"confusion_{i}", f"confusion_{finished[name].run_id}")

st.header("Faces behind a confusion")
confusion_faces_section(chosen)
st.caption(
    "Test faces as the run saw them (48x48, shown at twice the size), from its kept test-set probabilities. FER2013's "
    "labels are themselves wrong on some faces: a confident \"mistake\" may be the label's."
)

st.header("Where the network puts its test faces")
faces_map_section(chosen)
st.caption(
    "Each point is a test face, placed by t-SNE so that faces whose features (what the network's last layer reads, "
    "one view of each face) are alike lie close: islands are emotions the network keeps apart, shared ground ones it "
    "mixes up. t-SNE keeps neighbours, not distances: the size of an island and the gaps between them mean nothing."
)

st.header("Run B against run A")
if len(chosen) < 2:
    st.caption("Choose two or more runs above to test one against another and see where their confusions differ.")
else:
    a_column, b_column = st.columns(2)
    a = a_column.selectbox("Run A", chosen, index=0, key="compare_a")
    b = b_column.selectbox("Run B", chosen, index=1, key="compare_b")
    if a == b:
        st.info("Choose two different runs.", icon=":material/info:")
    else:
        st.subheader("Is the difference real?")
        paired_section(finished[a], finished[b])
        st.subheader("On worse photos")
        worse_photos_section(finished[a], finished[b])
        st.subheader("Where B's confusions differ from A's")
        left_out([a, b], matrices, NO_MATRIX)
        if a in matrices and b in matrices:
            difference = charts.confusion_difference_figure(matrices[a], matrices[b])
            show(difference, "confusion_difference", "confusion_difference")
            st.caption(
                "B's row-normalised confusion matrix minus A's. On the diagonal, blue: B recognises that emotion "
                "more often than A; off it, blue: B makes that mistake more often. White: no difference."
            )

st.header("Per-class scores")
score = st.segmented_control(
    "Score", ["precision", "recall", "f1"], default="f1", required=True, key="compare_score",
    format_func=lambda s: {"f1": "F1"}.get(s, s),
)
left_out(chosen, scored, "its metrics.json holds no readable per-class scores")
if scored:
    show(charts.per_class_figure(scored, score, colors), "per_class", f"per_class_{score}")
    st.caption(
        "Whiskers: each score's 95% interval over resamples of the run's test images (from its confusion matrix). "
        "The rare classes stand on few faces (55 disgust faces in PrivateTest, 111 in all test images), so their "
        "bars move far more by chance than the accuracy does: two runs whose whiskers overlap there may not differ."
    )

st.header("Calibration")
curves, uncalibrated = compare.calibration_curves(selected, load=ui.dataset)
if curves:
    show(charts.reliability_figure(curves, colors, compare.scaled_calibration(selected)), "reliability", "reliability")
st.caption(
    "Can a run's probabilities be taken at their word? The test faces are binned by the run's top probability "
    "(0-10%, ..., 90-100%), and each point is a bin's accuracy against its mean top probability: on the dashed "
    "diagonal a model that says 80% is right 80% of the time; above it the model is under-confident (label "
    "smoothing makes it so), below it over-confident. ECE, the expected calibration error, is the faces' mean gap "
    "between the two (Guo et al., 2017). Each run records it when it is scored; older runs are recounted from "
    "their kept probabilities. A run trained with a validation split (standard protocol) also fits a temperature "
    "on it, one number that divides its log-probabilities before the softmax: its dotted curve is its test faces "
    "so scaled, as the Classify page shows them (the answers, and so the accuracy, stay the same)."
)
for why in uncalibrated.values():  # each reason names its run
    st.caption(f"No reliability diagram: {why}")
