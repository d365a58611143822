"""Overview: what the study asked, its four scenarios, and this project's results beside its Table 4.2."""

import streamlit as st

from fer import charts, runs, study

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
st.dataframe(study.scenarios_table(), hide_index=True)
st.caption(
    "The study fixed the architecture, the balancing, the augmentation, Adam, categorical "
    "cross-entropy and 100 epochs. It did not state the batch size or the learning rate: "
    "the values above are this project's defaults (see the Train page to change them)."
)

st.header("Results beside the study's Table 4.2")
finished = runs.comparable_runs()
if finished:
    table = study.comparison_table([study.run_row(name, run.metrics()) for name, run in finished.items()])
    shown = table.drop(columns=[column for column in table.columns if column.endswith(" diff")])
    st.dataframe(shown.style.format(charts.number_formats(shown), na_rep="—"), hide_index=True)
    st.caption(
        "One row per finished run; \"reference run\" marks results committed with the project "
        "(full FER2013, trained elsewhere). Study columns are empty for custom runs, which have no "
        "counterpart in the study. Differences, curves and confusion matrices are on the Compare page."
    )
    st.plotly_chart(charts.test_accuracy_figure(table), key="overview_accuracy")
else:
    st.info(
        "No finished runs yet, so only the study's own numbers are shown. Train a scenario on the "
        "Train page, or from a terminal: `python -m fer train --scenario S2 --epochs 1 --data sample` "
        "(a quick check on the shipped sample), then come back here.",
        icon=":material/info:",
    )
    st.page_link("app_pages/train.py", label="Go to the Train page", icon=":material/model_training:")

st.subheader("The study's Table 4.2")
study_table = study.STUDY_TABLE.reset_index()
st.dataframe(study_table.style.format(charts.number_formats(study_table)), hide_index=True)
st.caption("Precision and recall are macro averages over the seven classes; training time in seconds.")
