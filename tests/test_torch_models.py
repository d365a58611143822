"""The PyTorch side of the throughput benchmark trains the same networks as Keras does.

Runs where PyTorch is installed (the GPU machine, a dry-run venv); skipped elsewhere, CI included.
"""

from __future__ import annotations

import pytest

from fer.models import STUDY_PARAMETERS

torch = pytest.importorskip("torch")
torch_models = pytest.importorskip("benchmarks.torch_models")


@pytest.mark.parametrize("arch", ["vgg19", "resnet50"])
def test_torch_network_has_the_study_parameter_count_and_output(arch: str) -> None:
    model = torch_models.MODELS[arch]()
    assert torch_models.keras_parameter_count(model) == STUDY_PARAMETERS[arch]
    assert model(torch.rand(2, 3, 48, 48)).shape == (2, 7)
