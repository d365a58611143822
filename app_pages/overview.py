"""Overview: what the study asked, its four scenarios, and this project's results beside its Table 4.2."""

import pandas as pd
import streamlit as st

from fer import charts, compare, runs, study, ui
from fer.errors import FerError

st.title("Facial-emotion lab")
st.markdown(
    "The study asked whether a **deeper residual network (ResNet50) or a plainer, wider one (VGG19)** "
    "recognises facial emotions better on **FER2013**: 35,887 grayscale 48×48 faces in seven classes "
    "(angry, disgust, fear, happy, neutral, sad, surprise), heavily imbalanced (436 disgust faces against "
    "7,215 happy ones in the training split). It trained both networks with data augmentation, once on "
    "the data as it is and once with the training split oversampled to equal class sizes, and compared "
    "test accuracy, macro precision and recall, and training time. This dashboard repeats those four "
    "scenarios on your data and hardware and sets the numbers beside the study's."
)

st.header("The four scenarios")
st.dataframe(
    study.scenarios_table(), hide_index=True,
    column_config={"augmentation": st.column_config.TextColumn(width="large")},
)
st.caption(
    "The study fixed the architecture, the balancing, the augmentation, Adam, categorical "
    "cross-entropy and 100 epochs. It did not state the batch size or the learning rate: "
    "the values above are this project's defaults (see the Train page to change them). This project's "
    "S1–S4 start from scratch (weights none: ImageNet weights can't be downloaded on the machines this project trains on); "
    f"the study's starting weights are {study.STUDY_WEIGHTS}."
)
st.page_link(
    "app_pages/models.py", label="The networks before and after their head is replaced: blocks, parameters, FLOPs",
    icon=":material/account_tree:",
)

st.header("Results beside the study's Table 4.2")
finished = runs.comparable_runs()
rows = study.run_rows({name: run.metrics() for name, run in finished.items()})
if finished:
    table = study.comparison_table(rows, differences=False)
    st.dataframe(table.style.format(study.number_formats(table)), hide_index=True, placeholder="—")
    st.caption(
        "One row per finished run; \"reference run\" marks results committed with the project "
        "(full FER2013, trained elsewhere). The study's numbers stand beside a run of S1–S4 only when it "
        "was scored as the study's were: full FER2013, thesis protocol, all 7,178 test images. Runs on the "
        "shipped sample or under the standard protocol (PrivateTest) and custom runs get empty study "
        "columns, and \"beside the study\" says why; \"data\" names the test images each row was scored on, "
        "as each bar's name below does: scores on different test images share the axis but not the images. "
        "Each bar's whisker is its 95% interval over the sampling of its test images (Wilson): about ±1 point on "
        "7,178 images, ±5 on the sample's 296. Differences, curves and confusion matrices are on the Compare page."
    )
    st.plotly_chart(charts.test_accuracy_figure(rows), key="overview_accuracy")
else:
    st.info(
        "No finished runs yet, so only the study's own numbers are shown. Train a scenario on the "
        "Train page, or from a terminal: `python -m fer train --scenario S2 --epochs 1 --data sample` "
        "(a quick check on the shipped sample), then come back here.",
        icon=":material/info:",
    )
    st.page_link("app_pages/train.py", label="Go to the Train page", icon=":material/model_training:")


def study_section(title: str, table: pd.DataFrame, caption: str) -> None:
    """One of the tables about the study itself: its numbers as the comparison tables format them."""
    st.subheader(title)
    st.dataframe(table.style.format(study.number_formats(table)), hide_index=True)
    st.caption(caption)


study_section(
    "The study's Table 4.2", study.study_table(),
    "Precision and recall are macro averages over the seven classes; training time in seconds. 568 of the 7,178 "
    "test faces are pixel-for-pixel copies of Training faces and another 580 near copies (the same photo cropped "
    "or toned another way), so every score here, the study's and ours, is partly on faces the model trained on: "
    "the Compare page splits a run's accuracy between them and the others.",
)
study_section(
    "How sure are the study's differences?", study.study_differences(),
    "Each scenario was trained once and scored on 7,178 test images; another draw of as many images would "
    "move each accuracy by about ±1.1 points (95%). The interval is the difference's over that sampling noise, "
    "from the two published accuracies alone (Newcombe's method): oversampling's gains (S3 − S1, S4 − S2) are "
    "inside it, VGG19's lead over ResNet50 is well outside. The study does not give its per-image answers, which "
    "a paired test would need: S4's lead would pass one only if S2 and S4 disagreed (one right, the other wrong) "
    "on fewer than 13% of the images. Even this project's default model and the run it was fine-tuned from "
    "disagree on 6.3% of PrivateTest; networks trained apart disagree on more. Training randomness adds to this: "
    "a second seed moved this project's default recipe by 0.2 points, and none of five recipe changes by a "
    "significant amount (experiments/README.md). Asked of this project's default model with a control, oversampling "
    "traded 0.9 points of accuracy (McNemar p = 0.04) for 16 points of disgust recall (p = 0.004): it buys rare-class "
    "recall, not accuracy, and two thirds of that recall come with no training from taking the emotions' training "
    "shares out of the model's answers (the Classify page's \"Balanced answers\"). The Compare page tests two of "
    "your runs paired.",
)
paired, waiting, unpaired = compare.study_comparisons(finished, load=ui.dataset)
if paired.empty:
    explained = (
        "Paired tests need the scenarios' own answers: once this project has runs of S1–S4 scored like the study "
        "(full FER2013, thesis protocol), each comparison between them is tested here on the same 7,178 test images."
    )
else:
    st.markdown("**The same comparisons between this project's runs, paired on the same 7,178 test images**")
    st.dataframe(paired.style.format(study.number_formats(paired)), hide_index=True)
    explained = (
        "A paired bootstrap interval and McNemar's exact test, as on the Compare page, for the newest run of each "
        "scenario scored like the study; \"study\" is the study's own difference, which can only be tested unpaired."
    )
st.caption(" ".join([explained, *(f"Not made: {reason}." for reason in [*unpaired, *(waiting if not paired.empty else [])])]))
pairs, _ = compare.study_pairs(finished)
for pair in pairs:
    with st.expander(f"Emotion by emotion: {pair.label}"):
        try:
            by_emotion = compare.paired_by_emotion(pair.run_a, pair.run_b, load=ui.dataset)
        except FerError as error:  # said in the caption above
            st.caption(str(error))
            continue
        figure = charts.paired_forest_figure(by_emotion, a=pair.a, b=pair.b)
        st.plotly_chart(figure, key=f"overview_emotions_{pair.a}_{pair.b}")
        st.caption(
            f"{pair.b}'s recall of each emotion minus {pair.a}'s, paired on that emotion's test faces, with its 95% "
            f"interval: blue where {pair.b} finds it significantly more often, red where {pair.a} does. "
            "The study reported only macro averages; oversampling moves recall between emotions even where "
            "accuracy stays put. Seven tests at once: had nothing changed, about one chart in three would still show "
            "a \"significant\" emotion by chance."
        )

study_section(
    "What its training times say", study.study_speeds(),
    "If every scenario trained its 100 epochs, Table 4.2's seconds say VGG19 trained 3.6 times slower on the "
    "oversampled data (S4) than on the data as it is (S2), while ResNet50 trained faster oversampled (S3) than "
    "not (S1): no network slows down that way. At S4's speed, S2's 598.7 s buy 28 epochs, and S2's training "
    "accuracy (0.874, against 0.965–0.974 for the other three) fits a run that stopped early; S3's seconds buy 59 "
    "epochs at S1's speed. The study states neither early stopping nor its hardware, so its training times "
    "compare sessions, not networks. This project's runs record their epochs, img/s and device.",
)

st.subheader("Beside published FER2013 results")
if finished:
    st.plotly_chart(charts.accuracy_landscape_figure(study.accuracy_landscape(rows)), key="overview_published")
st.table(study.PUBLISHED_RESULTS.set_index("result").style.format({"accuracy": "{:.2%}"}))
st.caption(
    "Whiskers: each result's 95% interval over its test images, as above (none for a split not verified here). "
    "Like for like: the study's S1–S4, runs under the thesis protocol on the full data and the fer "
    "package's model are scored on all 7,178 test images; Khaireddin & Chen and Pham et al. on "
    "PrivateTest only (3,589 images), as standard-protocol runs here are. Khaireddin & Chen trained from "
    "scratch, like runs here with weights none; Kusuma et al. and Pham et al. started from ImageNet; the study "
    "calls its models fine-tuned but does not name their weights. The 76.82% is an ensemble of seven networks, every other result one model; "
    "runs on the shipped sample are scored on a few hundred faces, compare with none of these and are left out "
    "of the chart (the table of runs beside Table 4.2 above keeps them). A standard-protocol "
    "run whose results also hold its score on all 7,178 test images (the default model's) gets two bars, each "
    "named by its test images: the second is scored on the same 7,178 test images as the study's, though its "
    "PublicTest half chose the run's epoch, which flatters it slightly."
)
