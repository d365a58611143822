"""The Overview page through the app's router: the study, its scenarios, and runs beside Table 4.2.

Also holds the helpers the other page tests share: opening a page and reading its charts back.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from fer import runs
from fer.scenarios import SCENARIOS
from fer.study import STUDY_TABLE

from .test_charts import as_study_scenario

APP = str(Path(__file__).resolve().parents[1] / "streamlit_app.py")
TIMEOUT = 120  # the first page that imports Keras takes seconds on a small CPU


def open_page(page: str) -> AppTest:
    """Render ``page`` through the router (sidebar included) and fail on any exception."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def rerun(widget: Any) -> AppTest:
    """Run the page again after changing ``widget``, still without exceptions."""
    at = widget.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart(at: AppTest, key: str) -> dict[str, Any]:
    """The plotly figure a page drew under ``key``, as JSON with typed arrays decoded to numpy."""
    (element,) = [c for c in at.get("plotly_chart") if c.key == key]
    return json.loads(element.proto.spec, object_hook=_typed_array)


def _typed_array(value: dict[str, Any]) -> Any:
    # Plotly ships numeric arrays as base64 with a dtype (and a shape for 2-D ones).
    if "bdata" not in value or "dtype" not in value:
        return value
    array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    return array.reshape([int(n) for n in value["shape"].split(",")]) if "shape" in value else array


def texts(at: AppTest) -> str:
    """Everything a reader sees as text: markdown, captions, info and error boxes."""
    return "\n".join(e.value for kind in ("markdown", "caption", "info", "error", "success") for e in getattr(at, kind))


# ---------------------------------------------------------------------------------------------


def test_overview_without_runs_shows_the_study_and_how_to_get_runs() -> None:
    at = open_page("app_pages/overview.py")
    assert [h.value for h in at.header] == ["The four scenarios", "Results beside the study's Table 4.2"]
    scenarios, study_table = (d.value for d in at.dataframe)
    assert list(scenarios["scenario"]) == list(SCENARIOS)
    assert list(scenarios["balancing"]) == [c.balance for c in SCENARIOS.values()]
    assert list(scenarios["batch size (not stated by the study)"]) == [128] * 4
    assert list(scenarios["Adam learning rate (not stated by the study)"]) == [1e-4] * 4
    pd.testing.assert_frame_equal(study_table, STUDY_TABLE.reset_index(), check_dtype=False)
    assert "python -m fer train" in texts(at) and "Train page" in texts(at)
    assert not at.get("plotly_chart")


def test_overview_sets_finished_and_reference_runs_beside_the_study(
    finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "REFERENCE_DIR", tmp_path / "reference")
    reference = as_study_scenario(runs.get_run(finished_run).path, tmp_path / "reference", "S2")
    metrics = runs.get_run(finished_run).metrics()
    at = open_page("app_pages/overview.py")
    table = at.dataframe[1].value.set_index("run")
    ours, theirs = f"CNN · {finished_run}", f"reference run · S2 CNN · {reference.name}"
    assert list(table.index) == [ours, theirs]
    assert table.loc[ours, "test_accuracy"] == pytest.approx(metrics["test_accuracy"])
    assert table.loc[ours, "precision"] == pytest.approx(metrics["precision_macro"])
    assert pd.isna(table.loc[ours, "study test_accuracy"])  # a custom run has no study counterpart
    assert table.loc[theirs, "study test_accuracy"] == STUDY_TABLE.loc["S2", "test_accuracy"]
    assert table.loc[theirs, "study train_seconds"] == STUDY_TABLE.loc["S2", "train_seconds"]
    assert "tensorflow" in table.loc[ours, "backend / device"] and "sample" in table.loc[ours, "data"]
    assert not any(column.endswith(" diff") for column in table.columns)
    bars = {trace["name"]: dict(zip(trace["x"], trace["y"])) for trace in chart(at, "overview_accuracy")["data"]}
    assert bars["this project"] == pytest.approx({ours: metrics["test_accuracy"], theirs: metrics["test_accuracy"]})
    assert bars["study"] == pytest.approx({theirs: STUDY_TABLE.loc["S2", "test_accuracy"]})
    assert "python -m fer train" not in texts(at)


def test_a_fresh_clone_shows_the_committed_reference_runs(committed_references: Path) -> None:
    committed = runs.reference_runs()
    assert committed, "the repository ships at least one reference run"
    at = open_page("app_pages/overview.py")
    table = at.dataframe[1].value.set_index("run")
    for run in committed:
        name = f"reference run · {run.config.label} · {run.run_id}"
        assert table.loc[name, "test_accuracy"] == pytest.approx(run.metrics()["test_accuracy"])
        assert "full" in run.config.data and "imported" in table.loc[name, "data"]
