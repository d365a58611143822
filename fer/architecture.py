"""Model anatomy: blocks, parameter counts and FLOPs of every architecture the project trains,
before and after its ImageNet head is replaced (the study's figures 4.2-4.5).

"After" is the project's own model, :func:`fer.models.build_model`, with its preprocessing
layers; "before" is the ``keras.applications`` network its base was cut from, with its ImageNet
top (224x224x3, 1,000 classes), found by the base's name, so an architecture added to
:data:`fer.vocab.ARCHITECTURES` gets a view without a change here (the compact networks have
no ImageNet original).

Models are built with ``weights=None`` in a Keras stateless scope: every weight gets its shape but
no memory. VGG19 with its top (143.7M parameters) then builds in ~0.02 s instead of ~3 s and
1.4 GB, which matters on a 2-core CPU that is training at the same time.

FLOPs are counted analytically from each layer's output shape and kernel, per image, at
inference: :data:`FLOP_RULES` says what is counted. MACs (multiply-accumulates) are those of the
convolutions and dense layers alone; FLOPs are 2 x MACs plus the element-wise work (bias, batch
norm, activations, additions, pooling, preprocessing).
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import keras
import pandas as pd
from keras import layers
from keras.src.backend.common import global_state

from fer.augment import FaceAugment
from fer.models import GrayToModelInput, build_model
from fer.study import HEAD_REPLACED, IMAGENET_ORIGINAL

FLOP_RULES: dict[str, str] = {
    "Conv2D, DepthwiseConv2D, SeparableConv2D, Dense": "MACs = output positions x kernel weights; "
    "FLOPs = 2 x MACs, + 1 per output value for the bias",
    "BatchNormalization": "2 per value (at inference it is one scale and one shift)",
    "activations (a layer or fused into Conv2D/Dense)": "1 per value (ReLU: a max); softmax 3 (exp, sum, divide)",
    "Add": "1 per output value for each input after the first",
    "MaxPooling2D / AveragePooling2D": "per output value: window - 1 comparisons / window - 1 additions + 1 division",
    "GlobalAveragePooling2D / GlobalMaxPooling2D": "per channel: n - 1 additions + 1 division / n - 1 comparisons",
    "GrayToModelInput": "1 per output value (mean subtraction or scaling; the channel copy is free)",
    "Resizing": "7 per output value (bilinear: 4 neighbours weighted and summed)",
    "free": "InputLayer, ZeroPadding2D, Flatten, Dropout, FaceAugment (training only: identity at inference)",
}
"""What each layer kind costs per image; a layer kind not listed counts 0 and is named in
:attr:`Anatomy.uncounted`."""

_KERNEL_LAYERS = (layers.Conv2D, layers.DepthwiseConv2D, layers.SeparableConv2D, layers.Dense)
_FREE_LAYERS = (layers.InputLayer, layers.ZeroPadding2D, layers.Flatten, layers.Dropout, FaceAugment)
_POOLING = (layers.MaxPooling2D, layers.AveragePooling2D)
_KERAS_BLOCK = re.compile(r"^((?:block|conv|pool)\d+(?:_block\d+)?)_")
"""keras.applications' block prefixes: ``block1_`` (VGG), ``conv2_block1_``, ``conv1_``, ``pool1_`` (ResNet)."""

@dataclass(frozen=True)
class Anatomy:
    """One architecture taken apart, as plain tables (cheap to cache and to pickle).

    ``versions``: one row per version (the ImageNet original where there is one, then the head
    replaced) with the base network's input and the parameters (total, trainable,
    non-trainable, base, head), MACs and FLOPs per image; ``blocks`` and ``layers``: the
    head-replaced model; ``heads``: the layers after the base in each version (what replaced
    what); ``uncounted``: layer kinds without a FLOP rule.
    """

    arch: str
    input_size: int
    versions: pd.DataFrame
    blocks: pd.DataFrame
    layers: pd.DataFrame
    heads: pd.DataFrame
    uncounted: tuple[str, ...]


def anatomy(arch: str, input_size: int) -> Anatomy:
    """Parameters and FLOPs of ``arch`` before and after its head is replaced, at ``input_size``."""
    with shapes_only():
        model = build_model(arch, input_size=input_size)
        base = next(layer for layer in model.layers if isinstance(layer, keras.Model))  # build_model nests it
        original = _imagenet_original(base.name)
    tables = {HEAD_REPLACED: layer_table(_parts(model))}
    if original is not None:
        in_base = {layer.name for layer in base.layers}
        parts = [(layer, "base" if layer.name in in_base or isinstance(layer, layers.InputLayer) else "head")
                 for layer in original.layers]
        tables = {IMAGENET_ORIGINAL: layer_table(parts), **tables}
    heads = pd.concat([table[table["part"] == "head"].assign(version=name) for name, table in tables.items()])
    return Anatomy(
        arch=arch,
        input_size=input_size,
        versions=pd.DataFrame([_version_row(name, table) for name, table in tables.items()]),
        blocks=block_table(tables[HEAD_REPLACED]),
        layers=tables[HEAD_REPLACED],
        heads=heads[["version", "layer", "kind", "output shape", "params", "FLOPs"]].reset_index(drop=True),
        uncounted=tuple(sorted({kind for table in tables.values() for kind in table.loc[~table["counted"], "kind"]})),
    )


@contextmanager
def shapes_only() -> Iterator[None]:
    """Build Keras models whose weights have shapes but no values (nothing allocated).

    Keras registers such weights to be filled in when the next outermost stateless scope ends,
    and TensorFlow's ``compute_output_spec`` opens one at every later symbolic call: left
    registered, the next model built in this thread would allocate the weights of these dead
    ones. So the registry is put back as it was (it is Keras-internal: ``keras==3.15`` pinned).
    """
    pending = list(global_state.get_global_attribute("uninitialized_variables", []) or [])
    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute("uninitialized_variables", pending)


def _imagenet_original(base_name: str) -> keras.Model | None:
    """The keras.applications network named like the base (``vgg19`` -> ``VGG19``), with its top."""
    constructors = {name.lower(): value for name, value in vars(keras.applications).items() if inspect.isfunction(value)}
    constructor = constructors.get(base_name)
    return None if constructor is None else constructor(include_top=True, weights=None)


def _parts(model: keras.Model) -> list[tuple[keras.Layer, str]]:
    """Each layer of a :func:`fer.models.build_model` model with its part: ``preprocessing``,
    then the nested base network opened up (``base``), then ``head``."""
    rows, part = [], "preprocessing"
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            rows += [(inner, "base") for inner in layer.layers if not isinstance(inner, layers.InputLayer)]
            part = "head"
        else:
            rows.append((layer, part))
    return rows


def layer_table(parts: list[tuple[keras.Layer, str]]) -> pd.DataFrame:
    """One row per layer: part, block, name, kind, output shape, parameters, MACs and FLOPs."""
    rows = []
    for (layer, part), block in zip(parts, _blocks(parts)):
        trainable, frozen = _count(layer.trainable_weights), _count(layer.non_trainable_weights)
        cost = _cost(layer)
        rows.append(
            {
                "part": part,
                "block": block,
                "layer": layer.name,
                "kind": type(layer).__name__,
                "output shape": "x".join(str(n) for n in _shape(layer.output)),
                "params": trainable + frozen,
                "trainable": trainable,
                "non-trainable": frozen,
                "MACs": cost[0] if cost else 0,
                "FLOPs": 2 * cost[0] + cost[1] if cost else 0,
                "counted": cost is not None,
            }
        )
    return pd.DataFrame(rows)


def _blocks(parts: list[tuple[keras.Layer, str]]) -> list[str]:
    """Block of each layer: preprocessing and head are one block each; base layers go by their
    keras.applications prefix, or else by stage, a stage ending at each pooling layer."""
    names, stage = [], 1
    for layer, part in parts:
        match = _KERAS_BLOCK.match(layer.name)
        if part != "base":
            names.append(part)
        elif isinstance(layer, layers.InputLayer):
            names.append("input")
        elif match:
            names.append(match.group(1))
        else:
            names.append(f"block{stage}")
            stage += isinstance(layer, _POOLING)
    return names


def block_table(table: pd.DataFrame) -> pd.DataFrame:
    """Layers summed by block, in network order; a block's output shape is its last layer's."""
    grouped = table.groupby("block", sort=False)
    blocks = grouped[["params", "trainable", "non-trainable", "MACs", "FLOPs"]].sum()
    blocks.insert(0, "layers", grouped.size())
    blocks.insert(1, "output shape", grouped["output shape"].last())
    return blocks.reset_index()


def _version_row(version: str, table: pd.DataFrame) -> dict[str, Any]:
    by_part = table.groupby("part")["params"].sum()
    first_base = table.index[(table["part"] == "base") & (table["kind"] != "InputLayer")][0]
    return {
        "version": version,
        "base input": table.loc[first_base - 1, "output shape"],
        "total": int(table["params"].sum()),
        "trainable": int(table["trainable"].sum()),
        "non-trainable": int(table["non-trainable"].sum()),
        "base": int(by_part.get("base", 0)),
        "head": int(by_part.get("head", 0)),
        "MACs": int(table["MACs"].sum()),
        "FLOPs": int(table["FLOPs"].sum()),
    }


def _count(weights: list[Any]) -> int:
    return sum(math.prod(weight.shape) for weight in weights)


def _shape(tensor: Any) -> tuple[int, ...]:
    """Per-image shape (the batch axis dropped); for a layer with several inputs, the first's."""
    return tuple((tensor[0] if isinstance(tensor, list) else tensor).shape[1:])


def _cost(layer: keras.Layer) -> tuple[int, int] | None:
    """(MACs, other FLOPs) of one layer per image by :data:`FLOP_RULES`; None for a kind with no rule."""
    outputs = math.prod(_shape(layer.output))
    rule = next((rule for kinds, rule in _RULES if isinstance(layer, kinds)), None)
    if rule is None:
        return None
    macs, flops = rule(layer, outputs)
    activation = getattr(layer, "activation", None)
    if activation is not None and not isinstance(layer, layers.Activation):
        flops += _activation_flops(activation) * outputs
    return macs, flops


def _kernel_cost(layer: keras.Layer, outputs: int) -> tuple[int, int]:
    positions = math.prod(_shape(layer.output)[:-1])
    kernels = [weight for weight in layer.weights if weight.name.endswith("kernel")]
    return positions * _count(kernels), outputs if layer.use_bias else 0


def _activation_flops(activation: Callable[..., Any]) -> int:
    name = getattr(activation, "__name__", "")
    return {"linear": 0, "softmax": 3}.get(name, 1)


def _pooling_cost(layer: keras.Layer, outputs: int) -> tuple[int, int]:
    window = math.prod(layer.pool_size)
    return 0, outputs * (window - 1 if isinstance(layer, layers.MaxPooling2D) else window)


def _global_pooling_cost(layer: keras.Layer, outputs: int) -> tuple[int, int]:
    inputs = math.prod(_shape(layer.input))
    return 0, inputs if isinstance(layer, layers.GlobalAveragePooling2D) else inputs - outputs


def _add_cost(layer: keras.Layer, outputs: int) -> tuple[int, int]:
    return 0, outputs * (len(layer.input) - 1)


_RULES: list[tuple[type | tuple[type, ...], Callable[[keras.Layer, int], tuple[int, int]]]] = [
    (_KERNEL_LAYERS, _kernel_cost),
    (layers.BatchNormalization, lambda layer, outputs: (0, 2 * outputs)),
    (layers.Activation, lambda layer, outputs: (0, _activation_flops(layer.activation) * outputs)),
    (layers.ReLU, lambda layer, outputs: (0, outputs)),
    (layers.Add, _add_cost),
    (_POOLING, _pooling_cost),
    ((layers.GlobalAveragePooling2D, layers.GlobalMaxPooling2D), _global_pooling_cost),
    (GrayToModelInput, lambda layer, outputs: (0, outputs)),
    (layers.Resizing, lambda layer, outputs: (0, 7 * outputs)),
    (_FREE_LAYERS, lambda layer, outputs: (0, 0)),
]
"""Layer kinds and their cost functions, in :data:`FLOP_RULES`' order."""
