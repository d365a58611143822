"""Models: every architecture the project trains, before and after its ImageNet head is replaced
(the study's figures 4.2-4.5), with its blocks, parameters and FLOPs per image."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from fer import architecture, charts, study
from fer.images import FACE_SIZE
from fer.scenarios import MAX_INPUT_SIZE, MIN_INPUT_SIZE
from fer.vocab import ARCHITECTURE_NAMES, ARCHITECTURES

COUNTS = ["total", "trainable", "non-trainable", "base", "head", "params", "layers", "MACs", "FLOPs", "study",
          "ours", "difference"]


@st.cache_data(show_spinner="Counting the model's parameters and FLOPs…", max_entries=32)
def anatomy(arch: str, input_size: int) -> architecture.Anatomy:
    """Cached per architecture and size: the first call imports Keras and builds the models."""
    return architecture.anatomy(arch, input_size)


def show_table(table: pd.DataFrame) -> None:
    """A table with thousands separators in its count columns."""
    formats = {column: "{:,}" for column in table.columns if column in COUNTS}
    st.dataframe(table.style.format(formats, na_rep="—"), hide_index=True)


def giga(value: float) -> str:
    return f"{value / 1e9:.2f} G" if value >= 1e8 else f"{value / 1e6:.1f} M"


st.title("Models")
st.markdown(
    "The study shows each network's Keras summary before and after what it calls fine tuning: the "
    "ImageNet head (VGG19: flatten and two 4,096-unit dense layers; ResNet50: average pooling; both "
    "ending in 1,000 classes) replaced by global average pooling and a 7-class dense layer (its "
    "figures 4.2–4.5). Here is every architecture this project trains, counted from the Keras models "
    "themselves, built without weights: nothing is downloaded."
)
left, right = st.columns([3, 1])
arch = left.radio(
    "Architecture", list(ARCHITECTURES), format_func=lambda name: ARCHITECTURE_NAMES.get(name, name),
    horizontal=True, key="models_arch",
)
size = right.number_input(
    "Input size (pixels)", min_value=MIN_INPUT_SIZE, max_value=MAX_INPUT_SIZE, value=FACE_SIZE, step=16,
    key="models_input_size",
    help="The faces are 48×48; a larger size upscales them inside the model (the Train page's input size). "
    "Parameters stay the same, FLOPs grow with the area.",
)
st.caption(ARCHITECTURES[arch])
parts = anatomy(arch, int(size))
versions = parts.versions.set_index("version")
ours = versions.loc[study.HEAD_REPLACED]

original = versions["total"].get(study.IMAGENET_ORIGINAL)
columns = st.columns(4)
columns[0].metric(
    "Parameters", f"{ours['total']:,}",
    help=None if original is None else f"The ImageNet original has {original:,}: {original - ours['total']:,} more.",
)
columns[1].metric("Non-trainable", f"{ours['non-trainable']:,}", help="Batch-norm moving means and variances.")
columns[2].metric(f"FLOPs per {size}×{size} image", giga(ours["FLOPs"]))
columns[3].metric("MACs per image", giga(ours["MACs"]))

# --------------------------------------------------------------------------------------------
st.header("Before and after the head is replaced")
show_table(parts.versions)
st.caption(
    "**ImageNet original**: `keras.applications` with its top, 224×224×3, 1,000 classes. **Head replaced**: "
    "this project's model (`fer.models.build_model`): the base without its top, global average pooling "
    "and Dense(7, softmax), at the chosen size, behind its preprocessing layers (no parameters). "
    "Base input: what the base network sees. Non-trainable parameters are the batch-norm moving means "
    "and variances. The counts do not depend on the weights: ImageNet-pretrained or from scratch, they "
    "are the same; and the base's do not depend on the input size."
)
st.subheader("What was replaced")
show_table(parts.heads)

# --------------------------------------------------------------------------------------------
st.header("The study's figures beside ours")
figures = study.model_figures_beside_ours(arch, parts.versions)
if figures.empty:
    st.info(
        f"The study trained only ResNet50 and VGG19: it has no figure for the "
        f"{ARCHITECTURE_NAMES.get(arch, arch)}.",
        icon=":material/info:",
    )
else:
    show_table(figures.drop(columns="note"))
    st.caption(
        "Study: the counts its figures print (a count a figure does not print is left out). Ours: "
        "counted from the Keras model above; difference: ours minus the study's."
    )
    for row in figures[figures["note"] != ""].itertuples():
        st.markdown(f"**{row.version}, {row.quantity}:** {row.note}")

# --------------------------------------------------------------------------------------------
st.header("Blocks")
st.plotly_chart(charts.block_cost_figure(parts.blocks), key="model_blocks")
show_table(parts.blocks)
st.caption(
    "The head-replaced model at the chosen size. Layers are grouped by their Keras name prefix "
    "(`block1_…` in VGG19, `conv2_block1_…` in ResNet50); unnamed layers of the compact networks by "
    "stage, each ending at a max-pooling; the preprocessing and the head are one block each. Output "
    "shape: the block's last layer's, per image."
)
with st.expander("Every layer"):
    show_table(parts.layers.drop(columns="counted"))

# --------------------------------------------------------------------------------------------
st.header("How FLOPs are counted")
st.markdown(
    "Per image, at inference, from each layer's output shape and kernel. **MACs** are the "
    "multiply-accumulates of the convolutions and dense layers alone: the number usually quoted as "
    "a network's FLOPs (He et al. 2016 give VGG19 19.6 billion and ResNet50 3.8 billion at 224×224: "
    "compare the ImageNet original's MACs above). **FLOPs** count a multiply-add as two operations, "
    "plus the element-wise work:"
)
st.table(pd.DataFrame({"layer": list(architecture.FLOP_RULES), "counted": list(architecture.FLOP_RULES.values())}))
if parts.uncounted:
    st.warning(
        f"No FLOP rule for {', '.join(parts.uncounted)}: counted as 0 above.", icon=":material/warning:"
    )
