"""The study's architectures: parameter counts, preprocessing inside the model, saving, weights."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from fer.dataset import FaceDataset
from fer.errors import FerError
from fer.inference import classify_faces, load_classifier
from fer.models import IMAGENET_FILES, build_model
from fer.precision import precision_policy
from fer.study import HEAD_REPLACED, STUDY_MODEL_FIGURES


@pytest.mark.parametrize("arch", ["resnet50", "vgg19"])
def test_parameter_counts_match_the_study(arch: str) -> None:
    figures = STUDY_MODEL_FIGURES.set_index(["arch", "version", "quantity"])["study"]
    model = build_model(arch)
    assert model.count_params() == figures[arch, HEAD_REPLACED, "total"]
    assert model.input.dtype == "uint8" and tuple(model.input.shape[1:]) == (48, 48, 1)
    assert tuple(model.output.shape[1:]) == (7,)


def test_preprocessing_inside_matches_keras_applications(sample: FaceDataset) -> None:
    """Gray replicated to RGB then keras.applications.vgg19.preprocess_input: what the base sees."""
    model = build_model("vgg19", augment="none")
    to_input = keras.Model(model.input, model.get_layer("to_model_input").output)
    faces = sample.images[:4]
    ours = keras.ops.convert_to_numpy(to_input(faces[..., None]))
    rgb = np.repeat(faces[..., None].astype("float32"), 3, axis=-1)
    expected = keras.applications.vgg19.preprocess_input(rgb)
    assert np.allclose(ours, expected, atol=1e-4)


def test_saved_model_loads_safely_and_predicts_the_same(sample: FaceDataset, tmp_path: Path) -> None:
    model = build_model("cnn", seed=0)
    before = classify_faces(model, sample.images[:16])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = load_classifier(path)
    after = classify_faces(loaded, sample.images[:16])
    assert np.allclose(before, after, atol=1e-6)
    assert np.allclose(after.sum(axis=1), 1.0, atol=1e-5)


def test_fer_cnn_is_small_enough_to_ship_in_float16_and_loads_as_float32(sample: FaceDataset, tmp_path: Path) -> None:
    """The default model's architecture: 1.18M parameters, a float16 file under 2.5 MB that
    computes in float32 after loading, with predictions equal to float16-rounded weights'."""
    model = build_model("fer_cnn", augment="none", seed=0)
    assert model.count_params() == 1_176_359
    with precision_policy("float16"):
        stored = build_model("fer_cnn", augment="none", seed=0)
    stored.set_weights(model.get_weights())
    stored.save(tmp_path / "model.keras")
    assert (tmp_path / "model.keras").stat().st_size < 2_500_000
    loaded = load_classifier(tmp_path / "model.keras")
    assert {weight.dtype for weight in loaded.weights} == {"float32"}
    rounded = [w.astype(np.float16).astype(np.float32) for w in model.get_weights()]
    model.set_weights(rounded)
    np.testing.assert_allclose(classify_faces(loaded, sample.images[:16]), classify_faces(model, sample.images[:16]), atol=1e-5)


def test_precision_policy_is_restored_after_the_block() -> None:
    before = keras.mixed_precision.global_policy().name
    with pytest.raises(RuntimeError), precision_policy("mixed_bfloat16"):
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
        raise RuntimeError("a failed run")
    assert keras.mixed_precision.global_policy().name == before


def test_load_classifier_never_suggests_turning_safe_mode_off(tmp_path: Path) -> None:
    inputs = keras.Input((48, 48, 1), dtype="uint8")
    outputs = keras.layers.Lambda(lambda x: keras.ops.cast(x, "float32") * 2)(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    with pytest.raises(FerError, match="holds code") as error:
        load_classifier(tmp_path / "lambda.keras")
    assert "safe_mode" not in str(error.value)


def test_resized_input_model_still_takes_48px_faces(sample: FaceDataset) -> None:
    model = build_model("resnet50", input_size=64, augment="none")
    assert model.get_layer("resize").output.shape[1:3] == (64, 64)
    assert classify_faces(model, sample.images[:2]).shape == (2, 7)


def test_imagenet_offline_names_the_file_and_where_to_put_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(*args: object, **kwargs: object) -> None:
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr("keras.src.utils.file_utils.get_file", offline)
    with pytest.raises(FerError, match=IMAGENET_FILES["vgg19"]) as error:
        build_model("vgg19", weights="imagenet")
    assert f"{Path.home() / '.keras' / 'models'}/" in str(error.value)  # where Keras looks for it


def test_imagenet_weights_that_fail_to_load_are_not_called_a_failed_download(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    cut_short = tmp_path / IMAGENET_FILES["vgg19"]  # as a download interrupted into Keras' cache leaves it
    cut_short.write_bytes(b"\x89HDF\r\n\x1a\n")
    monkeypatch.setattr("keras.src.utils.file_utils.get_file", lambda *args, **kwargs: str(cut_short))
    with pytest.raises(FerError, match="could not load or download the ImageNet weights for vgg19") as error:
        build_model("vgg19", weights="imagenet")
    assert error.value.__cause__ is not None  # the loader's own error stays attached


def test_a_compact_network_starts_from_a_model_file_of_the_same_network(sample: FaceDataset, tmp_path: Path) -> None:
    """Fine-tuning: every weight, the head's too, comes from the file (float16 as runs save them)."""
    with precision_policy("float16"):
        source = build_model("cnn", augment="none", seed=0)
    source.save(tmp_path / "model.keras")
    started = build_model("cnn", weights=str(tmp_path / "model.keras"), augment="photo", seed=1)
    fresh = build_model("cnn", augment="photo", seed=1)
    expected = classify_faces(load_classifier(tmp_path / "model.keras"), sample.images[:16])
    np.testing.assert_allclose(classify_faces(started, sample.images[:16]), expected, atol=1e-6)
    assert np.abs(classify_faces(fresh, sample.images[:16]) - expected).max() > 1e-3
    with pytest.raises(FerError, match="must be a model file of the same network") as error:
        build_model("fer_cnn", weights=str(tmp_path / "model.keras"))
    assert error.value.__cause__ is not None


def test_bad_weights_and_architecture_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FerError, match="not found"):
        build_model("vgg19", weights=str(tmp_path / "missing.h5"))
    with pytest.raises(FerError, match="unknown architecture"):
        build_model("alexnet")
    with pytest.raises(FerError, match="has no ImageNet weights"):
        build_model("cnn", weights="imagenet")


def test_load_classifier_never_inflates_a_huge_model_description(tmp_path: Path) -> None:
    import zipfile

    from fer.inference import MODEL_CONFIG_MAX_BYTES

    crafted = tmp_path / "model.keras"
    with zipfile.ZipFile(crafted, "w", zipfile.ZIP_DEFLATED) as archive:  # 16 MB of spaces in 16 KB
        archive.writestr("config.json", b" " * (MODEL_CONFIG_MAX_BYTES + 1))
    assert crafted.stat().st_size < 100_000
    with pytest.raises(FerError, match="its config.json is larger than a model's"):
        load_classifier(crafted)


def test_load_classifier_rejects_a_non_model(tmp_path: Path) -> None:
    bogus = tmp_path / "model.keras"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(FerError, match="not a model"):
        load_classifier(bogus)
