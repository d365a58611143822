"""VGG19 and ResNet50 in plain PyTorch, layer for layer as ``keras.applications`` builds them.

The PyTorch side of the throughput benchmark. Written out here rather than taken from
torchvision because the GPU machine may not have torchvision, and because torchvision's ResNet50
is not Keras': Keras' (ResNet v1) strides in the first 1x1 convolution of a block and gives every
convolution a bias. With these, both sides train the same network: base without top, global
average pooling, one linear layer to the 7 classes; the same parameter count as Keras' model
once batch normalisation's running statistics are counted (Keras counts them as weights).

    python -m benchmarks.torch_models vgg19 512 --steps 64 --warmup 8   # prints training img/s

The benchmark runs that in a process of its own: PyTorch and JAX each bring their own CUDA
libraries (cuDNN among them), which need not agree inside one process.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

VGG19_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))


def vgg19(classes: int = 7) -> nn.Module:
    """VGG19's 16 convolutions in 5 blocks, each block ending in 2x2 max pooling; GAP; linear."""
    layers: list[nn.Module] = []
    channels = 3
    for width, convs in VGG19_BLOCKS:
        for _ in range(convs):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(inplace=True)]
            channels = width
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, classes))


def _conv_bn(inputs: int, outputs: int, kernel: int, stride: int = 1) -> nn.Sequential:
    # Keras pads "same" for the 3x3 convolutions; its batch normalisation epsilon is 1.001e-5.
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, kernel, stride, padding=kernel // 2), nn.BatchNorm2d(outputs, eps=1.001e-5)
    )


class Bottleneck(nn.Module):
    """Keras' ``block1``: 1x1 (strided) → 3x3 → 1x1 with 4x the width, plus a shortcut."""

    def __init__(self, inputs: int, width: int, stride: int, project: bool) -> None:
        super().__init__()
        self.shortcut = _conv_bn(inputs, 4 * width, 1, stride) if project else nn.Identity()
        self.body = nn.Sequential(
            _conv_bn(inputs, width, 1, stride), nn.ReLU(inplace=True),
            _conv_bn(width, width, 3), nn.ReLU(inplace=True),
            _conv_bn(width, 4 * width, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.shortcut(x) + self.body(x))


def resnet50(classes: int = 7) -> nn.Module:
    """7x7/2 stem, 3x3/2 max pooling, stages of 3, 4, 6 and 3 bottlenecks; GAP; linear."""
    layers: list[nn.Module] = [
        _conv_bn(3, 64, 7, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, padding=1)
    ]
    inputs = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for block in range(blocks):
            layers.append(Bottleneck(inputs, width, stride if block == 0 else 1, project=block == 0))
            inputs = 4 * width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(inputs, classes))


MODELS = {"vgg19": vgg19, "resnet50": resnet50}


def keras_parameter_count(model: nn.Module) -> int:
    """Parameters as Keras counts them: trainable ones plus batch normalisation's running mean
    and variance."""
    statistics = sum(b.numel() for name, b in model.named_buffers() if name.endswith(("running_mean", "running_var")))
    return sum(p.numel() for p in model.parameters()) + statistics


def images_per_second(arch: str, batch: int, steps: int, warmup: int, input_size: int = 48) -> float:
    """Training img/s of a plain loop: bf16 autocast, channels_last, cuDNN autotuning, Adam, on
    random tensors already on the device and without augmentation."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cudnn.benchmark = True
    model = MODELS[arch]().to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    images = torch.rand(batch, 3, input_size, input_size, device=device).to(memory_format=torch.channels_last)
    labels = torch.randint(0, 7, (batch,), device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=device, dtype=torch.bfloat16):
            loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - start)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Training img/s of the PyTorch loop for one network and batch")
    parser.add_argument("arch", choices=list(MODELS))
    parser.add_argument("batch", type=int)
    parser.add_argument("--steps", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--input-size", type=int, default=48)
    args = parser.parse_args()
    print(images_per_second(args.arch, args.batch, args.steps, args.warmup, args.input_size))
