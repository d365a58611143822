"""Shared fixtures: every test writes under its own ``$FER_ARTIFACTS`` and reads the shipped sample."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from fer import data  # noqa: E402  (after the environment above)

FULL_FER2013 = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "fer2013"


@pytest.fixture(autouse=True)
def artifacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh, empty artifacts folder for each test, so no test sees another's state."""
    root = tmp_path / "artifacts"
    monkeypatch.setenv("FER_ARTIFACTS", str(root))
    return root


@pytest.fixture(scope="session")
def sample() -> data.FaceDataset:
    return data.load_sample()
