"""Run settings are checked when a run is configured, before any run folder exists."""

from __future__ import annotations

from pathlib import Path

import pytest

from fer.errors import FerError
from fer.paths import artifacts_at, artifacts_dir
from fer.scenarios import (
    CPU_IMAGES_PER_SECOND,
    MAX_INPUT_SIZE,
    MAX_SEED,
    MIN_INPUT_SIZE,
    RunConfig,
    cpu_hours,
    scenario,
    weights_path,
    with_seeds,
)
from fer.vocab import COMPACT_ARCHITECTURES


@pytest.mark.parametrize("devices", ["²", "١", "0", "-1", "two", ""])
def test_devices_other_than_ascii_digits_or_all_are_refused(devices: str) -> None:
    # "²" and "١" pass str.isdigit(): the first made int() fail inside training, the second
    # started a 100-epoch VGG19 run on one device.
    with pytest.raises(FerError, match="devices must be 1 or more, or all"):
        scenario("custom", arch="cnn", devices=devices)


@pytest.mark.parametrize("devices", ["1", "4", 2, "all"])
def test_device_counts_and_all_are_accepted(devices: str | int) -> None:
    assert scenario("custom", arch="cnn", devices=devices).devices == str(devices)


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1])
def test_a_seed_keras_cannot_use_is_refused_before_training(seed: int) -> None:
    with pytest.raises(FerError, match="seed must be between 0 and 4294967295"):
        scenario("custom", arch="cnn", seed=seed)


def test_several_seeds_are_all_checked_before_any_run_is_made() -> None:
    config = scenario("custom", arch="cnn", seed=MAX_SEED - 5)
    assert [c.seed for c in with_seeds(config, 6)][-1] == MAX_SEED
    with pytest.raises(FerError, match="the last one too"):
        with_seeds(config, 10)


def test_artifacts_pointing_at_a_file_is_a_clear_error(tmp_path: Path) -> None:
    in_the_way = tmp_path / "artifacts"
    in_the_way.write_text("not a folder")
    with artifacts_at(in_the_way), pytest.raises(FerError, match="cannot use .*artifacts.*FER_ARTIFACTS"):
        artifacts_dir()
    assert in_the_way.read_text() == "not a folder"


def test_a_weights_file_must_exist_and_be_one_keras_loads(tmp_path: Path) -> None:
    text = tmp_path / "notes.h5"
    text.write_text("these are not weights")
    with pytest.raises(FerError, match="notes.h5 is not a weights file: Keras loads HDF5"):
        weights_path(str(text))
    with pytest.raises(FerError, match="not found"):
        weights_path(str(tmp_path / "missing.weights.h5"))
    with pytest.raises(FerError, match="not found"):
        weights_path(str(tmp_path))  # a folder

    import keras

    saved = tmp_path / "base.weights.h5"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save_weights(saved)
    assert weights_path(str(saved)) == saved


def test_a_run_with_a_text_file_for_weights_is_refused_before_its_folder(tmp_path: Path) -> None:
    from fer import runs

    text = tmp_path / "notes.h5"
    text.write_text("these are not weights")
    with pytest.raises(FerError, match="is not a weights file"):
        runs.create_run(scenario("custom", arch="vgg19", weights=str(text), data="sample"))
    assert runs.list_runs() == []


def test_cpu_hours_take_each_runs_own_images_per_epoch() -> None:
    runs = [scenario("S2", epochs=10), scenario("S4", epochs=10)]
    seconds = 10 * (609 + 1_064) / CPU_IMAGES_PER_SECOND["vgg19"]
    assert cpu_hours(runs, [609, 1_064]) == pytest.approx(seconds / 3600)
    assert cpu_hours([scenario("S1")], [609]) is None  # ResNet50 was not timed on a CPU
    with pytest.raises(ValueError):
        cpu_hours(runs, [609])


@pytest.mark.parametrize("size", [MIN_INPUT_SIZE - 1, MAX_INPUT_SIZE + 1])
def test_an_input_size_out_of_range_is_refused(size: int) -> None:
    with pytest.raises(FerError, match=f"input size must be between {MIN_INPUT_SIZE} and {MAX_INPUT_SIZE} pixels"):
        scenario("custom", arch="cnn", input_size=size)


@pytest.mark.parametrize("arch", COMPACT_ARCHITECTURES)
def test_the_compact_networks_have_no_imagenet_weights(arch: str) -> None:
    with pytest.raises(FerError, match="has no ImageNet weights"):
        scenario("custom", arch=arch, weights="imagenet")
    assert scenario("custom", arch="vgg19", weights="imagenet").weights == "imagenet"


def test_the_summary_counts_epochs_in_words() -> None:
    assert ", 1 epoch, batch 64," in scenario("custom", arch="cnn", epochs=1, batch_size=64).summary
    assert ", 100 epochs, batch 128," in scenario("S2").summary


@pytest.mark.parametrize("note", ["two\nlines", "x" * 61, "tab\there"])
def test_a_note_must_be_one_short_line(note: str) -> None:
    with pytest.raises(FerError, match="the note must be one line of at most 60 characters"):
        RunConfig(note=note)


def test_a_note_names_the_run_and_ends_its_summary() -> None:
    config = scenario("custom", arch="fer_cnn", note="random erasing")
    assert config.label == "FER-CNN (random erasing)" and config.summary.endswith(", seed 42, note: random erasing")
    assert scenario("S4", note="bf16").label == "S4 VGG19 + oversample (bf16)"
    assert RunConfig.from_dict({k: v for k, v in config.to_dict().items() if k != "note"}).note == ""  # older runs


def test_tta_names_its_views_and_older_runs_flip_tta_reads_as_flip_or_none() -> None:
    assert RunConfig.from_dict({"flip_tta": True}).tta == "flip"
    assert RunConfig.from_dict({"flip_tta": False}).tta == "none"
    assert "shift TTA" in scenario("custom", arch="fer_cnn").summary and "TTA" not in RunConfig().summary
    with pytest.raises(FerError, match="test-time augmentation must be one of none, flip, shift"):
        RunConfig.from_dict({"flip_tta": "yes"})
    with pytest.raises(FerError, match="unknown run setting"):
        RunConfig.from_dict({"flip_tta": True, "tta": "shift"})  # never both


def test_drop_copies_names_what_it_drops_and_older_runs_true_meant_the_exact_copies() -> None:
    assert RunConfig.from_dict({"drop_copies": True}).drop_copies == "exact"
    assert RunConfig.from_dict({"drop_copies": False}).drop_copies == "none"
    assert "held-out copies and near copies dropped from training" in RunConfig(drop_copies="near").summary
    with pytest.raises(FerError, match="drop copies must be one of none, exact, near"):
        RunConfig(drop_copies="all")

