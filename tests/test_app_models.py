"""The Models page through the app's router, and the Overview's link to it and its published
results: every architecture, the study's counts beside ours, blocks drawn as counted."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from fer import runs, study
from fer.vocab import COMPACT_ARCHITECTURES

from .conftest import chart, copy_run, open_page, rerun, texts


def metrics(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def test_models_page_shows_resnet50_before_and_after_and_the_study_beside_it() -> None:
    at = open_page("app_pages/models.py")
    assert at.radio(key="models_arch").value == "resnet50"
    assert [h.value for h in at.header] == [
        "Before and after the head is replaced", "The study's figures beside ours", "Blocks", "How FLOPs are counted",
    ]
    shown = metrics(at)
    assert shown["Parameters"] == "23,602,055" and shown["Non-trainable"] == "53,120"
    (parameters,) = [metric for metric in at.metric if metric.label == "Parameters"]
    assert parameters.help == f"The ImageNet original has 25,636,712: {25_636_712 - 23_602_055:,} more."
    versions, heads, figures, blocks, _layers = (d.value for d in at.dataframe)
    counts = versions.set_index("version")[["total", "trainable", "non-trainable"]]
    assert counts.loc[study.IMAGENET_ORIGINAL].tolist() == [25_636_712, 25_583_592, 53_120]
    assert counts.loc[study.HEAD_REPLACED].tolist() == [23_602_055, 23_548_935, 53_120]
    assert set(heads["layer"]) == {"avg_pool", "predictions", "gap", "emotion"}
    assert (figures["difference"] == 0).all() and len(figures) == 6
    (params, flops) = chart(at, "model_blocks")["data"]
    assert list(params["y"]) == list(blocks["block"]) and list(params["x"]) == blocks["params"].tolist()
    assert list(flops["x"]) == blocks["FLOPs"].tolist()
    assert "multiply-add as two operations" in texts(at) and not at.warning


def test_vgg19_shows_the_base_typo_and_an_input_size_changes_only_the_flops() -> None:
    at = rerun(open_page("app_pages/models.py").radio(key="models_arch").set_value("vgg19"))
    versions, _heads, figures = (d.value for d in at.dataframe[:3])
    assert versions.set_index("version")["total"].tolist() == [143_667_240, 20_027_975]
    base = figures.set_index("quantity").loc["base"]
    assert (base["study"], base["ours"], base["difference"]) == (20_024_383, 20_024_384, 1)
    assert "head replaced, base:** The figure prints 20,024,383" in texts(at) and "typo" in texts(at)
    before = metrics(at)
    at = rerun(at.number_input(key="models_input_size").set_value(96))
    after = metrics(at)
    assert after["Parameters"] == before["Parameters"] == "20,027,975"
    assert before["FLOPs per 48×48 image"] == "1.79 G" and after["FLOPs per 96×96 image"] == "7.17 G"


@pytest.mark.parametrize("arch", COMPACT_ARCHITECTURES)
def test_every_compact_architecture_has_a_view_without_a_study_figure(arch: str) -> None:
    at = rerun(open_page("app_pages/models.py").radio(key="models_arch").set_value(arch))
    versions = at.dataframe[0].value
    assert versions["version"].tolist() == [study.HEAD_REPLACED]
    assert metrics(at)["Parameters"] == f"{versions['total'].iloc[0]:,}"
    assert "has no figure" in texts(at)
    assert chart(at, "model_blocks")["data"]


def test_overview_links_to_models_and_lists_published_results_without_runs() -> None:
    at = open_page("app_pages/overview.py")
    assert "models" in [link.proto.page for link in at.get("page_link")]
    (published,) = at.table
    assert "PrivateTest" in texts(at) and "7,178" in texts(at)
    assert not [c for c in at.get("plotly_chart") if c.key == "overview_published"]
    assert published.value.shape[0] == len(study.PUBLISHED_RESULTS)


def test_overview_sets_a_run_beside_the_study_and_published_results(finished_run: str) -> None:
    # Only full-data runs stand beside published results (a sample run's few hundred faces compare
    # with none of them): the run as if it were on the full data.
    full = copy_run(finished_run, "full", metrics={"dataset": "full"})
    metrics_ = runs.get_run(full).metrics()
    at = open_page("app_pages/overview.py")
    bars = {trace["name"]: dict(zip(trace["y"], trace["x"])) for trace in chart(at, "overview_published")["data"]}
    assert bars["this project"] == pytest.approx({f"CNN · {full}": metrics_["test_accuracy"]})
    assert bars["the study"]["study S2 VGG19"] == study.STUDY_TABLE.loc["S2", "test_accuracy"]
    assert bars["other work"]["Pham et al. 2020: ResMaskingNet + 6 (ensemble)"] == 0.7682
