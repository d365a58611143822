"""The PyTorch side of the throughput benchmark trains the same networks as Keras does.

Runs where PyTorch is installed (the GPU machine, a dry-run venv); skipped elsewhere, CI included.
"""

from __future__ import annotations

import pytest

from fer.study import HEAD_REPLACED, STUDY_MODEL_FIGURES

torch = pytest.importorskip("torch")
torch_models = pytest.importorskip("benchmarks.torch_models")


@pytest.mark.parametrize("arch", ["vgg19", "resnet50"])
def test_torch_network_has_the_study_parameter_count_and_output(arch: str) -> None:
    figures = STUDY_MODEL_FIGURES.set_index(["arch", "version", "quantity"])["study"]
    model = torch_models.MODELS[arch]()
    assert torch_models.keras_parameter_count(model) == figures[arch, HEAD_REPLACED, "total"]
    assert model(torch.rand(2, 3, 48, 48)).shape == (2, 7)
