"""Model anatomy: the study's parameter counts before and after the head is replaced, exactly;
FLOPs checked by hand on a small model and against an independent count of VGG19; the study's
model figures and the published results beside ours."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest
from keras import layers
from keras.src.backend.common import global_state

from fer import architecture, charts, study
from fer.models import build_model
from fer.scenarios import ARCHITECTURES


@pytest.fixture(scope="module")
def anatomies() -> dict[str, architecture.Anatomy]:
    return {arch: architecture.anatomy(arch, 48) for arch in ARCHITECTURES}


def versions(anatomy: architecture.Anatomy) -> pd.DataFrame:
    return anatomy.versions.set_index("version")


def test_vgg19_counts_before_and_after_the_head_is_replaced(anatomies: dict[str, architecture.Anatomy]) -> None:
    counts = versions(anatomies["vgg19"])
    original, replaced = counts.loc[study.IMAGENET_ORIGINAL], counts.loc[study.HEAD_REPLACED]
    assert (original["total"], original["trainable"], original["non-trainable"]) == (143_667_240, 143_667_240, 0)
    assert (replaced["total"], replaced["trainable"], replaced["non-trainable"]) == (20_027_975, 20_027_975, 0)
    assert replaced["base"] == original["base"] == 20_024_384
    assert replaced["head"] == 512 * 7 + 7
    assert original["base input"] == "224x224x3" and replaced["base input"] == "48x48x3"


def test_resnet50_counts_before_and_after_the_head_is_replaced(anatomies: dict[str, architecture.Anatomy]) -> None:
    counts = versions(anatomies["resnet50"])
    original, replaced = counts.loc[study.IMAGENET_ORIGINAL], counts.loc[study.HEAD_REPLACED]
    assert (original["total"], original["trainable"], original["non-trainable"]) == (25_636_712, 25_583_592, 53_120)
    assert (replaced["total"], replaced["trainable"], replaced["non-trainable"]) == (23_602_055, 23_548_935, 53_120)
    assert original["head"] == 2048 * 1000 + 1000 and replaced["head"] == 2048 * 7 + 7


@pytest.mark.parametrize("arch", ["vgg19", "resnet50"])
def test_counts_agree_with_keras_built_with_its_weights(arch: str, anatomies: dict[str, architecture.Anatomy]) -> None:
    """The shapes-only counts are what Keras counts on the real models: plain keras.applications
    without top + GAP + Dense(7), and the project's model."""
    constructor = {"vgg19": keras.applications.VGG19, "resnet50": keras.applications.ResNet50}[arch]
    base = constructor(include_top=False, weights=None, input_shape=(48, 48, 3))
    head = layers.Dense(7, activation="softmax")(layers.GlobalAveragePooling2D()(base.output))
    plain = keras.Model(base.input, head)
    replaced = versions(anatomies[arch]).loc[study.HEAD_REPLACED]
    trainable = sum(int(np.prod(weight.shape)) for weight in plain.trainable_weights)
    assert (replaced["total"], replaced["trainable"], replaced["base"]) == (plain.count_params(), trainable,
                                                                            base.count_params())
    assert build_model(arch).count_params() == replaced["total"]


def test_every_architecture_gets_a_full_view(anatomies: dict[str, architecture.Anatomy]) -> None:
    for arch, anatomy in anatomies.items():
        replaced = versions(anatomy).loc[study.HEAD_REPLACED]
        assert anatomy.uncounted == (), arch
        assert anatomy.blocks["params"].sum() == anatomy.layers["params"].sum() == replaced["total"]
        assert anatomy.blocks["FLOPs"].sum() == replaced["FLOPs"] > 2 * replaced["MACs"] > 0
        assert anatomy.blocks["block"].iloc[[0, -1]].tolist() == ["preprocessing", "head"]
        assert anatomy.blocks["output shape"].iloc[-1] == "7"
        has_original = study.IMAGENET_ORIGINAL in versions(anatomy).index
        assert has_original == (arch in ("vgg19", "resnet50")), arch


def test_blocks_follow_the_keras_names_and_the_compact_stages(anatomies: dict[str, architecture.Anatomy]) -> None:
    resnet = list(anatomies["resnet50"].blocks["block"])
    stages = [f"conv{stage}_block{block}" for stage, count in ((2, 3), (3, 4), (4, 6), (5, 3))
              for block in range(1, count + 1)]
    assert resnet == ["preprocessing", "conv1", "pool1", *stages, "head"]
    vgg = anatomies["vgg19"].blocks.set_index("block")
    assert list(vgg.index) == ["preprocessing", *(f"block{n}" for n in range(1, 6)), "head"]
    assert list(vgg["output shape"])[1:6] == ["24x24x64", "12x12x128", "6x6x256", "3x3x512", "1x1x512"]
    cnn = anatomies["cnn"].blocks.set_index("block")
    assert list(cnn.index) == ["preprocessing", "block1", "block2", "block3", "head"]
    assert list(cnn["layers"])[1:4] == [7, 7, 7]  # (conv, batch norm, ReLU) x 2 + max-pooling


def test_flops_of_a_small_model_by_hand() -> None:
    inputs = keras.Input((10, 10, 2))
    x = layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    y = layers.BatchNormalization()(layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x))
    x = layers.MaxPooling2D()(layers.Add()([x, y]))
    outputs = layers.Dense(3, activation="softmax")(layers.GlobalAveragePooling2D()(x))
    model = keras.Model(inputs, outputs)
    table = architecture.layer_table([(layer, "base") for layer in model.layers]).set_index("kind")
    assert table.loc["Conv2D", "MACs"] == 10 * 10 * 8 * (3 * 3 * 2)
    assert table.loc["Conv2D", "FLOPs"] == 2 * 14_400 + 800 + 800  # bias and ReLU per output value
    assert table.loc["DepthwiseConv2D", "MACs"] == 10 * 10 * 8 * 9 and table.loc["DepthwiseConv2D", "FLOPs"] == 14_400
    assert table.loc["BatchNormalization", "FLOPs"] == 2 * 800
    assert table.loc["Add", "FLOPs"] == 800
    assert table.loc["MaxPooling2D", "FLOPs"] == 5 * 5 * 8 * 3
    assert table.loc["GlobalAveragePooling2D", "FLOPs"] == 200
    assert table.loc["Dense", "MACs"] == 24 and table.loc["Dense", "FLOPs"] == 48 + 3 + 3 * 3
    assert table["params"].sum() == model.count_params()


def test_vgg19_macs_match_an_independent_count_and_the_published_figure(
    anatomies: dict[str, architecture.Anatomy],
) -> None:
    """At 48x48: every 3x3 conv is H*W*9*in*out MACs, block by block; at 224x224 the ImageNet
    original is the 19.6 billion He et al. quote for VGG19 (and 3.8 billion for ResNet50)."""
    by_hand, channels, side = 0, 3, 48
    for convs, filters in ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)):
        for _ in range(convs):
            by_hand += side * side * 9 * channels * filters
            channels = filters
        side //= 2
    vgg = versions(anatomies["vgg19"])
    assert vgg.loc[study.HEAD_REPLACED, "MACs"] == by_hand + 512 * 7
    assert vgg.loc[study.IMAGENET_ORIGINAL, "MACs"] / 1e9 == pytest.approx(19.6, rel=0.005)
    assert versions(anatomies["resnet50"]).loc[study.IMAGENET_ORIGINAL, "MACs"] / 1e9 == pytest.approx(3.86, rel=0.01)


def test_flops_grow_with_the_input_size_and_parameters_do_not(anatomies: dict[str, architecture.Anatomy]) -> None:
    small = versions(anatomies["vgg19"]).loc[study.HEAD_REPLACED]
    large = versions(architecture.anatomy("vgg19", 96)).loc[study.HEAD_REPLACED]
    assert large["total"] == small["total"]
    assert large["MACs"] - 512 * 7 == pytest.approx(4 * (small["MACs"] - 512 * 7), rel=1e-9)
    assert large["base input"] == "96x96x3"


def test_shapes_only_allocates_nothing_and_leaves_nothing_pending() -> None:
    """VGG19 with its top builds without values, and stays so when TensorFlow next opens a
    stateless scope (it does at every symbolic layer call)."""
    before = list(global_state.get_global_attribute("uninitialized_variables", []) or [])
    with architecture.shapes_only():
        model = keras.applications.VGG19(weights=None)
    with keras.StatelessScope():
        pass
    assert model.count_params() == 143_667_240
    assert all(weight._value is None for weight in model.weights)  # Keras' own "not yet initialised"
    assert (global_state.get_global_attribute("uninitialized_variables", []) or []) == before
    real = build_model("cnn")
    assert real.predict(np.zeros((1, 48, 48, 1), "uint8"), verbose=0).shape == (1, 7)


# ---------------------------------------------------------------------------------------------
# The study's figures and the published results


def test_the_study_figures_beside_ours_differ_only_by_the_vgg19_base_typo(
    anatomies: dict[str, architecture.Anatomy],
) -> None:
    vgg = study.model_figures_beside_ours("vgg19", anatomies["vgg19"].versions).set_index("quantity")
    assert vgg.loc["base", "study"] == 20_024_383 and vgg.loc["base", "ours"] == 20_024_384
    assert vgg.loc["base", "difference"] == 1 and "typo" in vgg.loc["base", "note"]
    assert (vgg.drop(index="base")["difference"] == 0).all()
    # The note's argument: every VGG19 conv layer has an even count, so the base's is even.
    convs = anatomies["vgg19"].layers.query("kind == 'Conv2D'")["params"]
    assert len(convs) == 16 and (convs % 2 == 0).all()
    resnet = study.model_figures_beside_ours("resnet50", anatomies["resnet50"].versions)
    assert len(resnet) == 6 and (resnet["difference"] == 0).all()
    assert study.model_figures_beside_ours("cnn", anatomies["cnn"].versions).empty


def test_block_chart_draws_the_block_table(anatomies: dict[str, architecture.Anatomy]) -> None:
    blocks = anatomies["resnet50"].blocks
    figure = charts.block_cost_figure(blocks)
    drawn = {trace.name: (list(trace.y), np.asarray(trace.x).tolist()) for trace in figure.data}
    assert drawn["parameters"] == (list(blocks["block"]), blocks["params"].tolist())
    assert drawn["FLOPs per image"] == (list(blocks["block"]), blocks["FLOPs"].tolist())


def test_accuracy_landscape_sets_runs_study_and_published_results_side_by_side() -> None:
    run = {"run": "CNN · r1", "test_accuracy": 0.5, "dataset": "full", "data": "full, thesis (7178 test images)",
           "weights": "none (trained from scratch)"}
    table = study.accuracy_landscape([run])
    assert table["accuracy"].is_monotonic_decreasing
    groups = table.groupby("group")["result"].apply(list)
    assert groups["this project"] == ["CNN · r1"]
    assert len(groups["the study"]) == 4 and len(groups["other work"]) == len(study.PUBLISHED_RESULTS)
    by_result = table.set_index("result")["accuracy"]
    assert by_result["study S4 VGG19 + oversample"] == study.STUDY_TABLE.loc["S4", "test_accuracy"]
    assert by_result["Khaireddin & Chen 2021: VGGNet"] == 0.7328
    assert by_result["Pham et al. 2020: ResMaskingNet"] == 0.7414
    assert by_result["Kusuma et al. 2020: VGG16 fine-tuned"] == 0.6940
    assert by_result["fer package (PyPI), shipped model"] == 0.584
    figure = charts.accuracy_landscape_figure(table)
    drawn = {trace.name: dict(zip(trace.y, np.asarray(trace.x).tolist())) for trace in figure.data}
    assert drawn["this project"] == {"CNN · r1": 0.5}
    assert sum(len(bars) for bars in drawn.values()) == len(table)
    # Whiskers: ±1.1 points on the study's 7,178 images, ±1.5 on PrivateTest's 3,589, none without a count
    # (this run's row does not record its test images, Kusuma et al.'s split is not verified).
    whiskers = {name: (below, above) for trace in figure.data
                for name, below, above in zip(trace.y, trace.error_x.arrayminus, trace.error_x.array)}
    assert sum(whiskers["study S2 VGG19"]) == pytest.approx(0.021, abs=0.001)
    assert sum(whiskers["Pham et al. 2020: ResMaskingNet"]) == pytest.approx(0.029, abs=0.001)
    assert all(np.isnan(whiskers[name]).all() for name in ("CNN · r1", "Kusuma et al. 2020: VGG16 fine-tuned"))
    assert study.accuracy_landscape([])["group"].tolist().count("this project") == 0
