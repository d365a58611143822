"""Models as files: load a run's saved model safely, get emotion probabilities for faces, and
read a face's most likely emotion from them.

Models take raw uint8 faces: channel replication, normalisation and resizing are inside them
(:mod:`fer.models`), so the only preprocessing here is the one every training image had,
:func:`fer.images.to_face`, done by whoever produced the crops (:mod:`fer.faces`).
Keras is imported only when a model is loaded, so importing this module stays cheap.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from fer.errors import FerError
from fer.images import FACE_SIZE
from fer.temperature import Scaling
from fer.vocab import CLASSES, TTA

if TYPE_CHECKING:
    import keras


TTA_SHIFT = 2
"""Pixels the ``shift`` views move a face by: half the FER recipe's 4-px training crops, so the
moved faces are ones the model trained on. On the committed default model, 10 views (mirror and
2-px shifts) against 2 (mirror) scored 0.6996 against 0.6935 on PrivateTest, 0.6729 against
0.6673 on PublicTest, and 0.6863 against 0.6804 on all 7,178 test faces (McNemar p = 0.015)."""
MODEL_CONFIG = "config.json"
"""The member of a ``.keras`` archive that describes the model; its weights are beside it."""
MODEL_CONFIG_MAX_BYTES = 16 * 2**20
"""Largest model description read (ResNet50's is about 150 KB): a damaged or crafted archive
can't make loading decompress gigabytes."""
PROBABILITY_TOLERANCE = 1e-3
"""How far from [0, 1], and from a sum of 1, a classifier's float32 softmax may stray."""


def load_classifier(path: Path) -> keras.Model:
    """Load a saved model safely (``safe_mode=True``: no arbitrary code from the file), computing
    in float32 whatever precision its weights were stored in (float16 files are half the size;
    a CPU computes float16 slowly, or not at all).

    The model is built from its config with float32 in place of float16, then given the file's
    weights (cast as they are assigned). Loading it as stored first, as ``keras.saving.load_model``
    would, built the shipped float16 model twice: 0.58 s instead of 0.29 s on a 2-core CPU, and on
    CPUs whose oneDNN has no float16 kernels TensorFlow logged an error-level line while it did.

    Any valid Keras model loads, so a loaded one is checked to be an emotion classifier
    (:func:`_check_classifier`): a FerError now is a model listed as broken, where a wrong one
    would fail on the first face or give wrong answers that look right.
    """
    import keras

    import fer.models  # noqa: F401  (registers the custom layers that saved models refer to)

    if not Path(path).is_file():
        raise FerError(f"{path}: no such model file")
    try:
        with zipfile.ZipFile(path) as archive:
            if archive.getinfo(MODEL_CONFIG).file_size > MODEL_CONFIG_MAX_BYTES:
                raise FerError(f"its {MODEL_CONFIG} is larger than a model's ({MODEL_CONFIG_MAX_BYTES:,} bytes)")
            config = json.loads(archive.read(MODEL_CONFIG))
        model = keras.saving.deserialize_keras_object(_float32_config(config), safe_mode=True)
        if not isinstance(model, keras.Model):
            raise FerError(f"its {MODEL_CONFIG} describes a {type(model).__name__}, not a model")
        if model.built:  # one saved unbuilt has no weights, and no inputs for _check_classifier to accept
            model.load_weights(path)
    except Exception as error:  # Keras raises many types for a damaged or foreign file
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        if "safe_mode" in reason:  # Keras suggests turning safe mode off: never, for a file from elsewhere
            reason = "it holds code (a Lambda layer or similar), which is never run from a model file"
        raise FerError(f"{path}: not a model this project can load ({reason})") from error
    _check_classifier(path, model)
    return model


def _check_classifier(path: Path, model: keras.Model) -> None:
    """Raise FerError unless ``model`` takes 48x48x1 faces and gives probabilities of the 7
    emotions. The shapes alone miss a last layer without softmax, so the model also classifies
    three plain faces (black, gray, white): one tiny prediction, cheap beside loading."""
    inputs, outputs = _shapes(model, "inputs"), _shapes(model, "outputs")
    if inputs != [(None, FACE_SIZE, FACE_SIZE, 1)]:
        raise FerError(f"{path}: takes inputs of shape {_shapes_text(inputs)}, not {FACE_SIZE}x{FACE_SIZE}x1 faces")
    if outputs != [(None, len(CLASSES))]:
        one_vector = [len(shape) for shape in outputs] == [2]
        given = f"{outputs[0][1]} outputs" if one_vector else f"outputs of shape {_shapes_text(outputs)}"
        raise FerError(f"{path}: gives {given}, not the {len(CLASSES)} emotions")
    plain = np.stack([np.full((FACE_SIZE, FACE_SIZE), value, np.uint8) for value in (0, 128, 255)])
    probabilities = classify_faces(model, plain)
    in_range = np.all((probabilities >= -PROBABILITY_TOLERANCE) & (probabilities <= 1 + PROBABILITY_TOLERANCE))
    if not (in_range and np.allclose(probabilities.sum(axis=1), 1, atol=PROBABILITY_TOLERANCE)):
        raise FerError(f"{path}: its outputs are not probabilities (they must lie in [0, 1] and sum to 1: a softmax)")


def _shapes(model: keras.Model, which: str) -> list[tuple[int | None, ...]]:
    """The shapes of a model's ``inputs`` or ``outputs``, batch size first; none for a model
    that was saved before it was built (Keras raises AttributeError then)."""
    return [tuple(tensor.shape) for tensor in getattr(model, which, None) or []]


def _shapes_text(shapes: list[tuple[int | None, ...]]) -> str:
    """``(10,)``, ``(10,) and (3,)``: shapes without their batch size, as a reader expects them."""
    return " and ".join(str(shape[1:]) for shape in shapes) or "unknown"


def _float32_config(config: Any) -> Any:
    """A model config with every float16 dtype policy replaced by float32."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and config.get("config", {}).get("name") == "float16":
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: _float32_config(value) for key, value in config.items()}
    if isinstance(config, list):
        return [_float32_config(value) for value in config]
    return config


def classify_faces(
    model: keras.Model, faces: np.ndarray, batch_size: int = 256, tta: str = "none", scaling: Scaling = Scaling()
) -> np.ndarray:
    """Probabilities ``(N, 7)`` in :data:`fer.vocab.CLASSES` order for uint8 faces ``(N, 48, 48)``.

    ``tta`` (:data:`fer.vocab.TTA`) averages each face's predictions over views of it
    (:func:`tta_views`): faces are roughly symmetric, a model trained on mirrored and shifted
    faces sees all of them, and the average is steadier than any one. The views of
    ``batch_size`` faces at a time go through the model together, so memory stays bounded and
    a single face's 10 views take one call, not 10 (16 ms instead of 26 on a 2-core CPU).
    The averages then go through ``scaling`` (:class:`fer.temperature.Scaling`: a run fitted a
    temperature, and balanced answers, on its validation faces: :meth:`fer.predict.ModelChoice.scaling`).
    """
    faces = check_faces(faces)
    if tta not in TTA:
        raise FerError(f"test-time augmentation must be one of {', '.join(TTA)}, not {tta!r}")
    if len(faces) == 0:
        return np.zeros((0, len(CLASSES)), np.float32)
    averaged = []
    for start in range(0, len(faces), batch_size):
        views = tta_views(faces[start : start + batch_size], tta)
        predicted = predict_in_batches(model, np.concatenate(views), batch_size).reshape(len(views), -1, len(CLASSES))
        averaged.append(predicted.mean(axis=0))
    return scaling(np.concatenate(averaged))


def tta_views(faces: np.ndarray, tta: str) -> list[np.ndarray]:
    """The views of uint8 faces ``(N, 48, 48)`` that ``tta`` averages: the faces (``none``); and
    their mirror images (``flip``); and both moved :data:`TTA_SHIFT` pixels left, right, up and
    down, the edge pixels repeated (``shift``)."""
    views = [faces] if tta == "none" else [faces, np.ascontiguousarray(faces[:, :, ::-1])]
    if tta != "shift":
        return views
    pad = TTA_SHIFT
    moved = []
    for view in views:
        padded = np.pad(view, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
        for dy, dx in ((0, pad), (0, -pad), (pad, 0), (-pad, 0)):  # the face moves right, left, down, up
            moved.append(padded[:, pad - dy : pad - dy + FACE_SIZE, pad - dx : pad - dx + FACE_SIZE])
    return views + moved


def check_faces(faces: np.ndarray) -> np.ndarray:
    """``faces`` as an array once it is what every model takes, uint8 ``(N, 48, 48)``; else a
    FerError naming what it is, rather than Keras failing deep inside a model call."""
    faces = np.asarray(faces)
    if faces.dtype != np.uint8 or faces.shape[1:] != (FACE_SIZE, FACE_SIZE):
        raise FerError(f"faces must be uint8 of shape (N, {FACE_SIZE}, {FACE_SIZE}), got {faces.dtype} {faces.shape}")
    return faces


def top_emotion(probabilities: np.ndarray) -> tuple[str, float]:
    """The most likely emotion of one face (a row of :func:`classify_faces`) and its probability."""
    index = int(np.argmax(probabilities))
    return CLASSES[index], float(probabilities[index])


def predict_in_batches(model: keras.Model, faces: np.ndarray, batch_size: int) -> np.ndarray:
    """``predict_on_batch`` in chunks: ``predict`` builds a data pipeline per call, which costs
    more than the model itself for the few faces of a photo."""
    chunks = [model.predict_on_batch(faces[start : start + batch_size, ..., None]) for start in range(0, len(faces), batch_size)]
    return np.concatenate([np.asarray(chunk, np.float32) for chunk in chunks])
