"""Dataset: which faces are active, importing FER2013, class balance, faces that appear twice, example faces,
augmentation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import streamlit as st

from fer import balance, charts, copies, data, dataset, sources, ui
from fer.dataset import FaceDataset
from fer.vocab import BALANCING, CLASSES, DATASETS, PROTOCOLS, USAGES

EXAMPLES_PER_CLASS = 8
RELABELLED_SHOWN = 8  # groups of identical faces under different labels
RELABELLED_FACES = 2  # faces of each, under different labels: what fits a quarter of the page
NEAR_COPIES_SHOWN = 8  # test faces beside their near copy in Training, from the most to the least similar

st.title("Dataset")

# --------------------------------------------------------------------------------------------
st.header("Active dataset")
if "dataset_imported" in st.session_state:
    st.success(st.session_state.pop("dataset_imported"), icon=":material/check_circle:")
active = None
with ui.user_errors():  # a damaged import: the page still offers to import again below
    active = ui.dataset()
if active is not None:
    if active.name == "sample":
        st.markdown(
            f"This is {DATASETS['sample']}: a small stratified subset that ships with the project so every "
            "page works before an import. Import the full FER2013 below for study-sized runs."
        )
    else:
        st.markdown(f"This is {DATASETS['full']}: {len(active):,} faces from `{active.source}`.")
    for column, (usage, count) in zip(st.columns(len(active.usage_counts())), active.usage_counts().items()):
        column.metric(f"{usage} images", f"{count:,}")
    if active.converted:
        st.caption(f"{active.converted:,} images were not 48×48 grayscale and were converted on import.")


def face_groups(active: FaceDataset, groups: list[Sequence[int]], notes: list[str] | None = None) -> None:
    """Groups of faces side by side, four groups to a row, each face captioned with its split and
    label, each group with its note under it."""
    cells = [cell for _ in range(-(-len(groups) // 4)) for cell in st.columns(4)]
    for cell, group, note in zip(cells, groups, notes or [""] * len(groups)):
        cell.image(
            [charts.face_mosaic(active.images[[i]], columns=1) for i in group],
            caption=[f"{USAGES[active.usage[i]]}: {CLASSES[active.labels[i]]}" for i in group], width=96,
        )
        if note:
            cell.caption(note)


def run_import(described_as: str, start: Callable[[sources.Progress], FaceDataset]) -> None:
    """Import with a live progress bar, then rerun so every page and the sidebar use the new data.

    A bad source shows the library's message; the previous import stays active (the library
    replaces its cache only after reading and checking the whole source).
    """
    bar = st.progress(0.0, text="starting the import")
    imported = None
    with ui.user_errors():
        imported = start(lambda fraction, message: bar.progress(fraction, text=message))
    bar.empty()
    if imported is not None:
        st.session_state["dataset_imported"] = (
            f"Imported {len(imported):,} faces from {described_as}; this is now the active dataset."
        )
        st.rerun()


with st.expander("Import FER2013", expanded=active is None or active.name == "sample", icon=":material/upload:"):
    st.caption(
        "The Kaggle archive (train/ and test/ class folders, as a .zip or an extracted folder), the "
        "original challenge fer2013.csv (also as its fer2013.tar.gz, or zipped), or Hugging Face parquet files. The import is cached: later "
        "loads take a fraction of a second."
    )
    upload_tab, path_tab = st.tabs(["Upload a file", "Path on the server"])
    with upload_tab:
        upload = st.file_uploader(
            "Kaggle .zip, fer2013.csv (or the challenge's fer2013.tar.gz) or .parquet",
            type=["zip", "csv", "gz", "tgz", "parquet"], max_upload_size=400,
            key="dataset_upload",
        )
        if st.button("Import the uploaded file", disabled=upload is None, key="dataset_import_upload"):
            run_import(
                f"the uploaded {upload.name}",
                lambda progress: data.import_upload(upload.name, upload.getvalue(), progress),
            )
    with path_tab:
        typed = st.text_input(
            "Zip, folder, CSV or parquet on this machine", placeholder="~/Downloads/fer2013.zip", key="dataset_path"
        ).strip()
        if st.button("Import from this path", disabled=not typed, key="dataset_import_path"):
            run_import(typed, lambda progress: data.import_dataset(typed, progress))
if active is None:
    st.stop()

# --------------------------------------------------------------------------------------------
st.header("Class balance")
st.caption(
    "Images per class in each split (the study's figures 4.1 and 4.9). Balancing changes only the "
    "training split; the test (and validation) images stay as they are so results stay comparable."
)
protocol_column, strategy_column = st.columns(2)
protocol = protocol_column.selectbox(
    "Evaluation protocol",
    list(PROTOCOLS),
    format_func=lambda p: f"{p}: {PROTOCOLS[p]}",
    key="dataset_protocol",
)
strategy = strategy_column.selectbox(
    "Balancing of the training split",
    list(BALANCING),
    index=list(BALANCING).index("oversample"),
    format_func=lambda s: f"{s}: {BALANCING[s]}",
    key="dataset_strategy",
)
with ui.user_errors():
    counts = balance.class_counts(active, protocol, strategy)
    st.plotly_chart(charts.class_distribution_figure(counts, strategy), key="dataset_counts_chart")
    st.dataframe(balance.counts_table(counts))

# --------------------------------------------------------------------------------------------
st.header("Faces that appear twice")
st.caption(
    "Faces with identical pixels, per original split, and test faces with a near copy among the Training faces: "
    "the same photo cropped, toned or watermarked another way (16×16 thumbnails, mean removed, with a cosine "
    f"similarity of at least {dataset.NEAR_COPY_SIMILARITY}). A test face with either has been seen in training "
    "by every model tested on it, so the Compare page splits each run's accuracy between those faces and the "
    "others. Pairs just under the threshold are often the same photo too, so the real overlap is at least this large."
)
st.dataframe(copies.copies_table(active).rename(columns=copies.COLUMNS).style.format("{:,.0f}"), placeholder="—")
relabelled = copies.relabelled_groups(active)
if relabelled:
    st.subheader("The same face under different labels")
    st.caption(
        f"{min(len(relabelled), RELABELLED_SHOWN)} of the {len(relabelled)} groups of identical faces whose labels "
        f"disagree ({RELABELLED_FACES} of each group's labels), each face with its split and label: no model can get "
        "all of them right."
    )
    face_groups(active, [group[:RELABELLED_FACES] for group in relabelled[:RELABELLED_SHOWN]])

near = copies.near_copy_examples(active, NEAR_COPIES_SHOWN)
if near:
    st.subheader("Nearly the same picture")
    st.caption(
        "Test faces beside their most similar Training face, from the most to the least similar pair counted as a "
        f"near copy ({len(near)} shown, evenly spread): judge the threshold by the last ones."
    )
    face_groups(active, [[test_face, training_face] for test_face, training_face, _ in near],
                [f"similarity {similarity:.3f}" for _, _, similarity in near])

# --------------------------------------------------------------------------------------------
st.header("Example faces")
if st.button("Show other faces", icon=":material/shuffle:", key="dataset_shuffle"):
    st.session_state["dataset_faces_seed"] = st.session_state.get("dataset_faces_seed", 0) + 1
examples = dataset.class_examples(active, EXAMPLES_PER_CLASS, st.session_state.get("dataset_faces_seed", 0))
for name, faces in examples.items():
    label, picture = st.columns([1, 6], vertical_alignment="center")
    label.markdown(f"**{name}**")
    picture.image(charts.face_mosaic(faces, columns=EXAMPLES_PER_CLASS))

# --------------------------------------------------------------------------------------------
st.header("Augmentation preview")
with st.spinner("Loading Keras for the augmentation…"):
    # Imported here, not at the top: Keras takes seconds to load and the rest of the page does not need it.
    from fer.augment import STUDY_RANGES, AugmentRanges, augmented_views
st.caption(
    "What the network sees while training: one random rotation, shift, shear, zoom and flip per view, "
    "fused into one affine warp. The defaults are the study's ranges; rotation and shear are in degrees, "
    f"as Keras' ImageDataGenerator read them (so the study's shear of {STUDY_RANGES.shear} is a "
    f"{STUDY_RANGES.shear} degree shear), shifts are fractions of the side. Blur and exposure are the photo "
    "augmentation's (the default model was fine-tuned with 40% of each): the share of views blurred out of focus "
    "or by motion, and the share made darker, brighter or flatter."
)


@st.cache_data(max_entries=32, show_spinner=False)
def views_of(face: np.ndarray, count: int, ranges: AugmentRanges, seed: int) -> np.ndarray:
    """Cached so moving an unrelated widget does not warp the same views again."""
    return augmented_views(face, count, ranges, seed)


class_column, index_column, count_column = st.columns(3)
chosen_class = class_column.selectbox("Class", CLASSES, index=CLASSES.index("happy"), key="augment_class")
class_faces = dataset.faces_of_class(active, chosen_class)
if st.session_state.get("augment_index", 0) >= len(class_faces):  # another class may have fewer faces
    st.session_state["augment_index"] = 0
if index_column.button("Random face", icon=":material/casino:", key="augment_random"):
    st.session_state["augment_index"] = int(np.random.default_rng().integers(len(class_faces)))
last = len(class_faces) - 1
index = index_column.number_input(f"Face number (0–{last})", 0, last, key="augment_index")
count = count_column.slider("Views", 8, 48, 24, step=8, key="augment_count")
if count_column.button("Draw new views", icon=":material/refresh:", key="augment_redraw"):
    st.session_state["augment_seed"] = st.session_state.get("augment_seed", 0) + 1

with st.expander("Ranges", icon=":material/tune:"):
    left, middle, right = st.columns(3)
    study = STUDY_RANGES
    ranges = AugmentRanges(
        rotation=left.slider("Rotation (±degrees)", 0.0, 45.0, study.rotation, 1.0, key="augment_rotation"),
        shear=left.slider("Shear (±degrees)", 0.0, 30.0, study.shear, 0.05, key="augment_shear"),
        width_shift=middle.slider("Horizontal shift (± side)", 0.0, 0.5, study.width_shift, 0.01, key="augment_wshift"),
        height_shift=middle.slider("Vertical shift (± side)", 0.0, 0.5, study.height_shift, 0.01, key="augment_hshift"),
        blur=middle.slider("Blurred (share of views)", 0.0, 1.0, study.blur, 0.1, key="augment_blur"),
        zoom=right.slider("Zoom (± factor)", 0.0, 0.5, study.zoom, 0.01, key="augment_zoom"),
        exposure=right.slider("Exposed another way (share)", 0.0, 1.0, study.exposure, 0.1, key="augment_exposure"),
        horizontal_flip=right.checkbox("Horizontal flip", study.horizontal_flip, key="augment_flip"),
    )

face = class_faces[index]
original, augmented = st.columns([1, 5])
original.image(charts.face_mosaic(face[None], columns=1, scale=4), caption=f"{chosen_class} #{index}, as stored")
augmented.image(
    charts.face_mosaic(views_of(face, count, ranges, st.session_state.get("augment_seed", 0)), columns=8),
    caption=f"{count} random views",
)
