"""Choosing a model for the Classify page: finished runs with a loadable model, best first;
broken models never offered, with a reason that never suggests turning safe mode off; and
that listing never loads Keras."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from fer import predict, runs, store
from fer.errors import FerError

ROOT = Path(__file__).resolve().parents[1]



def copy_run(run_id: str, suffix: str, accuracy_gain: float = 0.0) -> Path:
    """A copy of a finished run under another id, its test accuracy raised by ``accuracy_gain``."""
    run = runs.get_run(run_id)
    copy = run.path.with_name(f"{run_id}-{suffix}")
    shutil.copytree(run.path, copy)
    metrics = run.metrics()
    (copy / "metrics.json").write_text(json.dumps({**metrics, "test_accuracy": metrics["test_accuracy"] + accuracy_gain}))
    return copy


# ---------------------------------------------------------------------------------------------
# Choosing a model


def test_available_models_lists_completed_runs_with_a_model_best_first(finished_run: str) -> None:
    run = runs.get_run(finished_run)
    metrics = run.metrics()
    # A better copy of the run, and copies that must not be offered: no model, not completed.
    better = copy_run(finished_run, "better", 0.5)
    (copy_run(finished_run, "nomodel") / "model.keras").unlink()
    store.write_status(copy_run(finished_run, "failed"), state="failed")

    choices = predict.available_models()
    assert [c.run_id for c in choices] == [better.name, finished_run]
    first, second = choices
    assert second.path == run.model_path and second.name == "CNN" and second.data == "sample"
    assert second.test_accuracy == pytest.approx(metrics["test_accuracy"])
    assert second.test_split == metrics["test_split"]
    assert second.label == (
        f"CNN, sample data, test acc {metrics['test_accuracy']:.3f} (all test images of the sample data) · {finished_run}"
    )
    assert first.test_accuracy == pytest.approx(metrics["test_accuracy"] + 0.5)
    assert not first.reference and not second.reference
    assert predict.broken_models() == []


def test_no_runs_no_models() -> None:
    assert predict.available_models() == [] and predict.broken_models() == []


def test_reference_runs_that_ship_a_model_are_offered(
    finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = tmp_path / "reference"
    monkeypatch.setenv("FER_REFERENCE", str(reference))
    source = runs.get_run(finished_run).path
    shipped = reference / "20260101-000000-custom-cnn-0000"
    shutil.copytree(source, shipped)
    (shipped / "metrics.json").write_text(json.dumps({**runs.get_run(finished_run).metrics(), "test_accuracy": 0.9}))
    without_model = reference / "20260101-000000-s2-vgg19-0000"
    shutil.copytree(source, without_model)
    (without_model / "model.keras").unlink()
    shutil.rmtree(source)  # only the reference runs are left

    (choice,) = predict.available_models()
    assert choice.reference and choice.run_id == shipped.name and choice.path == shipped / "model.keras"
    assert choice.label == f"CNN, sample data, test acc 0.900 (all test images of the sample data) · reference run {shipped.name}"
    assert choice.test_accuracy == pytest.approx(0.9)


def test_full_data_models_rank_first_and_every_label_names_its_test_split(finished_run: str) -> None:
    """A sample run's 0.95 on a few hundred sample faces never outranks a full-data model's
    PrivateTest score, and each label says which faces its accuracy was measured on."""
    lucky = copy_run(finished_run, "lucky", 0.0)
    (lucky / "metrics.json").write_text(json.dumps({**runs.get_run(finished_run).metrics(), "test_accuracy": 0.95}))
    full = copy_run(finished_run, "full", 0.0)
    config = json.loads((full / "config.json").read_text())
    (full / "config.json").write_text(json.dumps({**config, "data": "full", "protocol": "standard"}))
    metrics = {**runs.get_run(finished_run).metrics(), "test_accuracy": 0.5, "dataset": "full", "test_split": "PrivateTest"}
    (full / "metrics.json").write_text(json.dumps(metrics))

    choices = predict.available_models()
    assert [c.run_id for c in choices] == [full.name, lucky.name, finished_run]
    assert choices[0].label == f"CNN, full data, test acc 0.500 (PrivateTest) · {full.name}"
    assert "test acc 0.950 (all test images of the sample data)" in choices[1].label
    assert predict.default_model(choices).run_id == full.name


def test_files_that_are_not_keras_models_are_never_offered(finished_run: str) -> None:
    garbage = copy_run(finished_run, "garbage", 0.4)
    (garbage / "model.keras").write_bytes(b"not a zip at all")
    no_weights = copy_run(finished_run, "noweights", 0.3)
    with zipfile.ZipFile(no_weights / "model.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    assert [c.run_id for c in predict.available_models()] == [finished_run]  # the default: the best that works
    broken = {choice.run_id: problem for choice, problem in predict.broken_models()}
    assert broken.keys() == {garbage.name, no_weights.name}
    assert broken[garbage.name].startswith("not a Keras model file")
    assert broken[no_weights.name] == "its weights (model.weights.h5) are missing from the file"


def test_a_model_that_fails_to_load_is_listed_as_broken_until_its_file_changes(finished_run: str) -> None:
    broken = copy_run(finished_run, "broken", 0.4)
    good_file = (broken / "model.keras").read_bytes()
    with zipfile.ZipFile(broken / "model.keras", "w") as archive:  # looks like a model, isn't one
        archive.writestr("config.json", json.dumps({"class_name": "NoSuchLayer", "config": {}}))
        archive.writestr("model.weights.h5", b"garbage")
    (choice, _) = predict.available_models()
    assert choice.run_id == broken.name  # nothing is known against it yet
    with pytest.raises(FerError, match="not a model this project can load") as error:
        predict.load_choice(choice)
    assert "safe_mode" not in str(error.value)
    assert [c.run_id for c in predict.available_models()] == [finished_run]
    ((listed, reason),) = predict.broken_models()
    assert listed.run_id == broken.name and reason.startswith("not a model this project can load")

    (broken / "model.keras").write_bytes(good_file)  # replaced by a good model: tried again
    assert predict.available_models()[0].run_id == broken.name
    assert predict.load_choice(predict.available_models()[0]) is not None


def test_a_model_holding_python_code_is_refused_without_suggesting_unsafe_loading(tmp_path: Path) -> None:
    import keras

    inputs = keras.Input((48, 48, 1))
    model = keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs))
    model.save(tmp_path / "model.keras")
    choice = predict.ModelChoice("lambda", tmp_path / "model.keras")
    assert predict.model_problem(choice.path) == ""  # a well-formed file
    with pytest.raises(FerError, match="holds code") as error:
        predict.load_choice(choice)
    assert "safe_mode" not in str(error.value) and "unsafe" not in str(error.value)
    assert "holds code" in predict.model_problem(choice.path)


WRONG_MODELS = {  # why a model is refused, and its layers (given keras): valid models that classify no faces
    "vector input": (
        "takes inputs of shape (10,), not 48x48x1 faces",
        lambda k: [k.Input((10,)), k.layers.Dense(7, activation="softmax")],
    ),
    "never built": (
        "takes inputs of shape unknown, not 48x48x1 faces",
        lambda k: [k.layers.Dense(7, activation="softmax")],
    ),
    "three classes": (
        "gives 3 outputs, not the 7 emotions",
        lambda k: [k.Input((48, 48, 1)), k.layers.Flatten(), k.layers.Dense(3, activation="softmax")],
    ),
    "image output": (
        "gives outputs of shape (48, 48, 1), not the 7 emotions",
        lambda k: [k.Input((48, 48, 1)), k.layers.Rescaling(1 / 255)],
    ),
    "no softmax": (
        "its outputs are not probabilities",
        lambda k: [k.Input((48, 48, 1)), k.layers.Flatten(), k.layers.Dense(7)],
    ),
    "sigmoid": (
        "its outputs are not probabilities",
        lambda k: [k.Input((48, 48, 1)), k.layers.Flatten(), k.layers.Dense(7, activation="sigmoid")],
    ),
}


@pytest.mark.parametrize(("reason", "layers"), WRONG_MODELS.values(), ids=WRONG_MODELS)
@pytest.mark.filterwarnings("ignore:You are saving a model that has not yet been built")
def test_a_model_that_is_no_emotion_classifier_is_refused_with_the_reason(
    tmp_path: Path, reason: str, layers: Any
) -> None:
    import keras

    keras.Sequential(layers(keras)).save(tmp_path / "model.keras")
    choice = predict.ModelChoice("wrong", tmp_path / "model.keras")
    assert predict.model_problem(choice.path) == ""  # a well-formed file: only loading tells
    with pytest.raises(FerError, match=re.escape(reason)):
        predict.load_choice(choice)
    assert predict.model_problem(choice.path).startswith(reason)


# ---------------------------------------------------------------------------------------------
# How far to trust a model


def test_a_model_is_measured_against_the_majority_of_its_own_test_images(finished_run: str) -> None:
    """The floor is always answering the most common emotion on the faces the model was tested
    on: happy, 71 of the sample's 296 test faces. The warning's verdict follows the numbers."""
    (choice,) = predict.available_models()
    assert choice.majority == ("happy", 71, 296)
    assert choice.scored_on == "all 296 test images of the sample data"
    assert predict.majority_baseline(choice) == (
        "happy", pytest.approx(71 / 296), "24.0% right on the same 296 test images, 71 of them happy"
    )
    verdicts = {
        accuracy: predict.trust_warning(replace(choice, test_accuracy=accuracy))
        for accuracy in (49 / 296, 71 / 296, 80 / 296, 0.5)
    }
    assert "it is worse than always answering the most common emotion, happy" in verdicts[49 / 296]
    assert "it is no better than" in verdicts[71 / 296]
    # Shown to 0.1% beside each other, 24.04% and 23.96% are the same number: no better.
    assert predict.compared_with_majority(0.2404, 0.2396) == "no better than"
    assert predict.compared_with_majority(0.2386, 0.2396) == "worse than"
    assert "it is barely better than" in verdicts[80 / 296]
    assert "it is better than" in verdicts[0.5] and "a few hundred faces only" in verdicts[0.5]
    assert all("demonstration of the pipeline" in warning for warning in verdicts.values())


def test_a_full_data_model_is_warned_about_only_when_it_learnt_little(finished_run: str) -> None:
    (choice,) = predict.available_models()
    full = replace(choice, data="full", majority=("happy", 879, 3_589))
    assert predict.trust_warning(replace(full, test_accuracy=0.69)) == ""
    assert predict.trust_warning(replace(full, test_accuracy=0.25)).startswith(
        "This model is barely better than always answering the most common emotion, happy (24.5% right on the same 3,589"
    )


def test_without_class_counts_the_floor_is_fer2013s_private_test(finished_run: str) -> None:
    """A metrics.json without per-class supports (damaged or edited) falls back on PrivateTest's."""
    path = runs.get_run(finished_run).path / "metrics.json"
    metrics = json.loads(path.read_text())
    path.write_text(json.dumps({**metrics, "per_class": {"happy": {"support": "many"}}, "test_accuracy": 0.166}))
    (choice,) = predict.available_models()
    assert choice.majority is None
    warning = predict.trust_warning(choice)
    assert f"it is worse than always answering the most common emotion, happy ({predict.MAJORITY_BASELINE})" in warning
