"""Shared fixtures: every test writes under its own ``$FER_ARTIFACTS`` and reads the shipped sample."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fer import data  # noqa: E402  (after the environment above)

FULL_FER2013 = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "fer2013"


COMMITTED_REFERENCE_DIR = Path(__file__).resolve().parents[1] / "artifacts" / "reference"


@pytest.fixture(autouse=True)
def artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty artifacts folder for each test, so no test sees another's state.

    The committed reference runs are hidden too (an empty reference folder), so pages are
    tested as on a machine with nothing trained; tests about them use ``committed_references``.
    """
    from fer import runs

    root = tmp_path / "artifacts"
    monkeypatch.setenv("FER_ARTIFACTS", str(root))
    monkeypatch.setattr(runs, "REFERENCE_DIR", tmp_path / "no-reference-runs")
    return root


@pytest.fixture
def committed_references(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The reference runs committed in the repository, visible again."""
    from fer import runs

    monkeypatch.setattr(runs, "REFERENCE_DIR", COMMITTED_REFERENCE_DIR)
    return COMMITTED_REFERENCE_DIR


@pytest.fixture(scope="session")
def sample() -> data.FaceDataset:
    return data.load_sample()


@pytest.fixture(scope="session")
def _trained_run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real, tiny training run (compact CNN, 1 epoch on the sample), trained once per session."""
    from fer import runs
    from fer.scenarios import scenario

    root = tmp_path_factory.mktemp("trained")
    previous = os.environ.get("FER_ARTIFACTS")
    os.environ["FER_ARTIFACTS"] = str(root)
    try:
        run = runs.start(scenario("custom", arch="cnn", epochs=1, batch_size=64, data="sample"), background=False)
    finally:
        if previous is None:
            os.environ.pop("FER_ARTIFACTS")
        else:
            os.environ["FER_ARTIFACTS"] = previous
    assert run.state == "completed", run.status
    return run.path


@pytest.fixture
def finished_run(_trained_run_folder: Path, artifacts: Path) -> str:
    """A completed run (with model, history and metrics) copied into this test's artifacts; its id."""
    import shutil

    target = artifacts / "runs" / _trained_run_folder.name
    shutil.copytree(_trained_run_folder, target)
    return target.name
