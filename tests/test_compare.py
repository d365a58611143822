"""Comparing real runs: settings side by side, seed groups, and paired significance on the
shared test images, on a real finished run and edited copies of it.

Also holds :func:`copy_run`, which the Compare page's tests share.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fer import compare, evaluate, runs, store
from fer.arrays import npz_bytes
from fer.data import load_sample
from fer.dataset import protocol_splits
from fer.errors import FerError
from fer.paths import atomic_write_json, dataset_cache_path, runs_dir
from fer.scenarios import RunConfig
from fer.vocab import CLASSES

from .conftest import (
    BASE_ID,
    REFERENCE_ID,
    better_copy,
    copy_run,
    like_the_study,
    one_hot,
    retouched,
    sample_test_labels,
)

UNKEPT = {store.SEEN_IN_TRAINING: None}  # as a run trained before runs kept what they had seen of their test faces


def by_name(*run_ids: str) -> dict[str, runs.Run]:
    return {run.display_name: run for run in (runs.get_run(run_id) for run_id in run_ids)}


# ---------------------------------------------------------------------------------------------
# Settings


def test_every_setting_has_a_column() -> None:
    assert set(compare.SETTINGS) == {field.name for field in fields(RunConfig)}


def test_config_table_shows_each_setting_and_differences_only_the_changed_ones(finished_run: str) -> None:
    config = runs.get_run(finished_run).config
    changed = copy_run(finished_run, "seed43", {"seed": 43, "learning_rate": 0.01})
    chosen = by_name(finished_run, changed)
    table = compare.config_table(chosen).set_index("run")
    assert list(table.index) == list(chosen)
    assert len(table.columns) == len(compare.SETTINGS) + len(compare.MACHINE)
    original, copy = table.loc[f"CNN · {finished_run}"], table.loc[f"CNN · {changed}"]
    assert original["architecture"] == "CNN" and original["batch size"] == str(config.batch_size) == "64"
    assert original["learning rate"] == f"{config.learning_rate:g}" and copy["learning rate"] == "0.01"
    assert (original["seed"], copy["seed"]) == ("42", "43")
    assert original["test-time augmentation"] == config.tta == "shift"
    assert original["early stopping"] == "off" and original["data"] == "sample"
    assert original["backend"] == runs.get_run(finished_run).metrics()["backend"]
    assert not table.isin(["None", "nan", None]).any().any()

    differences = compare.config_table(chosen, differences_only=True)
    assert list(differences.columns) == ["run", "learning rate", "seed"]
    assert list(differences["learning rate"]) == [f"{config.learning_rate:g}", "0.01"]
    assert list(compare.config_table(by_name(finished_run), differences_only=True).columns) == ["run"]


def test_missing_values_show_as_a_dash(finished_run: str) -> None:
    run = runs.get_run(finished_run)
    metrics = run.metrics()
    del metrics["device"]
    atomic_write_json(run.path / "metrics.json", metrics)
    unreadable = runs.Run(run.path, None, {"state": "unreadable"})
    table = compare.config_table({"mine": run, "broken": unreadable}).set_index("run")
    assert table.loc["mine", "device"] == compare.EMPTY
    assert set(table.loc["broken"][:-2]) == {compare.EMPTY}  # no settings at all
    assert table.loc["broken", "backend"] == metrics["backend"]


# ---------------------------------------------------------------------------------------------
# Seeds


def test_runs_that_differ_only_in_the_seed_are_grouped(finished_run: str) -> None:
    repeat = copy_run(finished_run, "seed43", {"seed": 43}, {"test_accuracy": 0.5, "train_seconds": 100.0})
    third = copy_run(finished_run, "seed44", {"seed": 44}, {"test_accuracy": 0.3, "train_seconds": 300.0})
    other = copy_run(finished_run, "lr", {"learning_rate": 0.01})
    chosen = by_name(finished_run, repeat, other, third)
    names = list(chosen)
    groups = compare.group_runs(chosen)
    assert groups == {f"{names[0]} + 2 other seeds": [names[0], names[1], names[3]], names[2]: [names[2]]}

    table = compare.seed_table(chosen, groups)
    assert len(table) == 1
    row = table.iloc[0]
    assert (row["group"], row["runs"], row["seeds"]) == (f"{names[0]} + 2 other seeds", 3, "42, 43, 44")
    accuracies = [runs.get_run(finished_run).metrics()["test_accuracy"], 0.5, 0.3]
    expected = f"{statistics.mean(accuracies):.4f} ± {statistics.stdev(accuracies):.4f}"
    assert row["test accuracy"] == expected
    seconds = [runs.get_run(finished_run).metrics()["train_seconds"], 100.0, 300.0]
    assert row["train seconds"] == f"{statistics.mean(seconds):,.0f} ± {statistics.stdev(seconds):,.0f}"

    assert compare.seed_table(by_name(finished_run, other), compare.group_runs(by_name(finished_run, other))).empty

    # An experiment changed what no setting says, and its note says so: not a seed repeat of the recipe.
    experiment = copy_run(finished_run, "ema", {"seed": 45, "note": "EMA 0.999"})
    chosen = by_name(finished_run, repeat, experiment)
    names = list(chosen)
    assert "(EMA 0.999)" in names[2]
    assert compare.group_runs(chosen) == {f"{names[0]} + 1 other seed": names[:2], names[2]: [names[2]]}
    assert compare.config_table(chosen, differences_only=True).columns.tolist() == ["run", "note", "seed"]


def test_a_run_launched_twice_is_no_other_seed(finished_run: str) -> None:
    # Launch clicked twice: the same config and seed. Only the newer one counts for seed 42.
    older = copy_run(finished_run, "again", metrics={"test_accuracy": 0.9})
    status = runs.get_run(older).status
    atomic_write_json(runs_dir() / older / "status.json", {**status, "created_at": "2000-01-01T00:00:00+00:00"})
    repeat = copy_run(finished_run, "seed43", {"seed": 43}, {"test_accuracy": 0.5})
    chosen = by_name(older, finished_run, repeat)
    names = list(chosen)
    groups = compare.group_runs(chosen)
    assert groups == {names[0]: [names[0]], f"{names[1]} + 1 other seed": [names[1], names[2]]}
    row = compare.seed_table(chosen, groups).iloc[0]
    accuracies = [runs.get_run(finished_run).metrics()["test_accuracy"], 0.5]
    assert (row["runs"], row["seeds"]) == (2, "42, 43")
    assert row["test accuracy"] == f"{statistics.mean(accuracies):.4f} ± {statistics.stdev(accuracies):.4f}"

    twice = by_name(finished_run, older)
    assert compare.group_runs(twice) == {name: [name] for name in twice}
    assert compare.seed_table(twice, compare.group_runs(twice)).empty


def test_runs_tested_on_other_images_are_no_seed_repeats(finished_run: str) -> None:
    # The same config on another import of the data: another experiment, however alike the settings.
    other_import = copy_run(finished_run, "seed43", {"seed": 43}, {"test_set": "0123456789abcdef", "test_images": 28})
    chosen = by_name(finished_run, other_import)
    assert compare.group_runs(chosen) == {name: [name] for name in chosen}
    assert compare.seed_table(chosen, compare.group_runs(chosen)).empty


# ---------------------------------------------------------------------------------------------
# Paired significance


def test_paired_runs_recover_the_test_labels_and_count_the_disagreements(finished_run: str) -> None:
    better = better_copy(finished_run, "better", gained=10, seed=43)
    a, b = runs.get_run(finished_run), runs.get_run(better)
    result = compare.paired_runs(a, b)
    # The labels are the ones training scored on: the accuracy is the run's own.
    assert result.accuracy_a == pytest.approx(a.metrics()["test_accuracy"])
    assert result.n == a.metrics()["test_images"] == len(sample_test_labels())
    assert (result.only_a, result.only_b) == (0, 10)
    assert result.difference == pytest.approx(10 / result.n)
    assert result.p_value == pytest.approx(2 * 0.5**10)
    assert result.sentence().startswith(f"B is {1000 / result.n:.1f} points more accurate than A")
    assert result.sentence().endswith("McNemar p = 0.002: the difference is significant at 5%")

    same = compare.paired_runs(a, a)
    assert (same.difference, same.p_value, same.only_a, same.only_b) == (0.0, 1.0, 0, 0)


def test_runs_on_other_test_images_are_refused(finished_run: str) -> None:
    other = copy_run(finished_run, "other", metrics={"test_set": "0123456789abcdef", "protocol": "standard"})
    with pytest.raises(FerError, match="evaluated on different test images: a paired comparison needs the same"):
        compare.paired_runs(runs.get_run(finished_run), runs.get_run(other))


def test_runs_without_a_recorded_test_set_or_probabilities_are_refused(finished_run: str) -> None:
    old = copy_run(finished_run, "old")
    metrics = runs.get_run(old).metrics()
    del metrics["test_set"]
    atomic_write_json(runs_dir() / old / "metrics.json", metrics)
    with pytest.raises(FerError, match=f"{old} did not record which test images"):
        compare.paired_runs(runs.get_run(finished_run), runs.get_run(old))

    kept_nothing = copy_run(finished_run, "noprob")
    (runs_dir() / kept_nothing / "probabilities.npz").unlink()
    with pytest.raises(FerError, match=f"{kept_nothing} did not keep its test-set probabilities"):
        compare.paired_runs(runs.get_run(kept_nothing), runs.get_run(finished_run))


def test_a_fingerprint_the_labels_do_not_match_is_refused(finished_run: str) -> None:
    fake = {"test_set": "0123456789abcdef"}
    a, b = copy_run(finished_run, "a", metrics=fake), copy_run(finished_run, "b", metrics=fake)
    (runs_dir() / a / "test_labels.npz").unlink()  # so the labels come from the dataset, and must be the run's
    with pytest.raises(FerError, match="are not the ones .* was evaluated on"):
        compare.paired_runs(runs.get_run(a), runs.get_run(b))


def test_full_data_runs_that_kept_no_test_labels_need_the_imported_dataset(finished_run: str) -> None:
    full = copy_run(finished_run, "full", {"data": "full"})
    assert compare.paired_runs(runs.get_run(full), runs.get_run(finished_run)).n == 296  # by the labels it kept
    (runs_dir() / full / "test_labels.npz").unlink()  # as runs trained before they were kept
    with pytest.raises(FerError, match="imported FER2013, which this machine does not have: import it"):
        compare.paired_runs(runs.get_run(full), runs.get_run(finished_run))


def test_the_committed_reference_runs_pair_by_their_kept_labels(committed_references: Path) -> None:
    """No FER2013 here (the artifacts folder is empty): the default model against the run it was
    fine-tuned from, on PrivateTest, from the files in the repository alone."""
    assert not dataset_cache_path().exists()
    base, default = (store.reference_run(name) for name in (BASE_ID, REFERENCE_ID))
    assert list(base.test_labels()) == list(default.test_labels()) and len(base.test_labels()) == 3_589
    result = compare.paired_runs(base, default)
    assert (result.accuracy_a, result.accuracy_b) == (base.metrics()["test_accuracy"], default.metrics()["test_accuracy"])
    assert (result.only_a, result.only_b, result.n) == (111, 116, 3_589)  # they disagree on 6.3% of the faces
    assert result.p_value == pytest.approx(0.79, abs=0.005) and not result.significant


def test_paired_by_emotion_tests_each_emotions_faces_alone(finished_run: str) -> None:
    better = better_copy(finished_run, "better", gained=10, seed=43)
    a, b = runs.get_run(finished_run), runs.get_run(better)
    by_emotion = compare.paired_by_emotion(a, b)
    labels = sample_test_labels()
    assert list(by_emotion) == [emotion for index, emotion in enumerate(CLASSES) if (labels == index).any()]
    for emotion, result in by_emotion.items():
        # Paired on one emotion's faces, the accuracies are the runs' recalls of it.
        assert result.n == int((labels == CLASSES.index(emotion)).sum())
        assert result.accuracy_a == pytest.approx(a.metrics()["per_class"][emotion]["recall"])
        assert result.accuracy_b == pytest.approx(b.metrics()["per_class"][emotion]["recall"])
        assert result.only_a == 0
    assert sum(result.only_b for result in by_emotion.values()) == 10  # B's ten extra right answers, each in its class
    table = compare.paired_emotion_table(by_emotion)
    assert list(table["emotion"]) == list(by_emotion) and table["test faces"].sum() == len(labels)
    assert list(table["points"]) == [round(result.difference * 100, 2) for result in by_emotion.values()]


def test_damaged_test_labels_count_as_none(finished_run: str) -> None:
    kept = runs_dir() / finished_run / "test_labels.npz"
    labels = runs.get_run(finished_run).test_labels()
    assert labels is not None and list(labels) == list(sample_test_labels())
    for damaged in (np.full(len(labels), 7, np.uint8), labels.astype(np.float32), labels.reshape(-1, 1).astype(np.uint8)):
        kept.write_bytes(npz_bytes(compress=True, test_labels=damaged))
        assert runs.get_run(finished_run).test_labels() is None
    for damaged_file in (b"not a numpy file", bytes(npz_bytes(compress=True, labels=labels))):  # the array misnamed
        kept.write_bytes(damaged_file)
        assert runs.get_run(finished_run).test_labels() is None
    # Then the labels come from the dataset, as for a run that kept none.
    assert compare.paired_runs(runs.get_run(finished_run), runs.get_run(finished_run)).n == len(labels)


def test_runs_that_kept_plain_npy_files_still_pair(finished_run: str) -> None:
    run = runs.get_run(finished_run)
    probabilities, labels = run.probabilities(), run.test_labels()
    for name, kept in (("probabilities", probabilities.astype(np.float16)), ("test_labels", labels.astype(np.uint8))):
        (run.path / f"{name}.npz").unlink()
        np.save(run.path / f"{name}.npy", kept)  # as runs wrote them until results were deflated
    older = runs.get_run(finished_run)
    np.testing.assert_array_equal(older.test_labels(), labels)
    np.testing.assert_array_equal(older.probabilities(), probabilities)
    assert compare.paired_runs(older, run).n == len(labels)


def test_the_dataset_comes_from_the_given_loader(finished_run: str) -> None:
    asked: list[str] = []

    def loader(which: str) -> Any:
        asked.append(which)
        return load_sample()

    kept = runs.get_run(finished_run)
    compare.paired_runs(kept, kept, load=loader)
    assert asked == []  # its own test labels: no dataset needed
    unkept = runs.get_run(copy_run(finished_run, "unkept"))
    (unkept.path / "test_labels.npz").unlink()  # as runs trained before they were kept
    compare.paired_runs(unkept, unkept, load=loader)
    assert asked == ["sample"]


def test_accuracy_is_split_between_test_faces_seen_in_training_and_the_others(finished_run: str) -> None:
    run = runs.get_run(copy_run(finished_run, "unkept", metrics=UNKEPT))
    sample = load_sample()
    splits = protocol_splits(sample, run.config.protocol)
    correct = run.probabilities().argmax(1) == sample.labels[splits["test"]]
    # Four Training faces become copies of test faces: three the run got right, one it got wrong;
    # a fifth, a near copy of another test face the run got wrong.
    chosen = np.r_[np.flatnonzero(correct)[:3], np.flatnonzero(~correct)[:1]]
    retouched_face = np.flatnonzero(~correct)[1]
    images = sample.images.copy()
    images[splits["train"][:4]] = sample.images[splits["test"][chosen]]
    images[splits["train"][4]] = retouched(sample.images[splits["test"][retouched_face]])
    planted = replace(sample, images=images)  # the test faces and labels, so the fingerprint, are unchanged
    old = copy_run(finished_run, "old", metrics=UNKEPT)
    metrics = runs.get_run(old).metrics()
    del metrics["test_set"]
    atomic_write_json(runs_dir() / old / "metrics.json", metrics)

    table, reasons = compare.seen_in_training_table({"run": run, "old": runs.get_run(old)}, load=lambda which: planted)
    row = table.set_index("run").loc["run"]
    others = np.setdiff1d(np.arange(len(correct)), [*chosen, retouched_face])
    assert row["test images"] == len(correct) and row["copies"] == 4
    assert row["on copies"] == 0.75
    assert row["near copies"] == 1 and row["on near copies"] == 0.0
    assert row["accuracy on the others"] == pytest.approx(correct[others].mean())
    assert list(table["run"]) == ["run"] and "did not record which test images" in reasons["old"]

    # A run that left the copies of test faces out of its training saw none of them, but still the
    # near copy; one that left out the near copies too saw neither. Older runs stored true for "exact".
    dropped = {
        drop: runs.get_run(copy_run(finished_run, f"drop-{drop}", {"drop_copies": drop}, UNKEPT)) for drop in (True, "near")
    }
    table, _ = compare.seen_in_training_table(dropped, load=lambda which: planted)
    assert table["copies"].tolist() == [0, 0] and table["near copies"].tolist() == [1, 0]
    assert table["on copies"].isna().all() and np.isnan(table["on near copies"][1])
    assert table["accuracy on the others"][1] == pytest.approx(correct.mean())

    unplanted = compare.seen_in_training_table({"run": run}, load=lambda which: sample)[0].iloc[0]
    assert unplanted["copies"] == unplanted["near copies"] == 0
    assert np.isnan(unplanted["on copies"]) and np.isnan(unplanted["on near copies"])
    assert unplanted["accuracy on the others"] == pytest.approx(correct.mean())


def test_a_run_keeps_its_split_and_a_damaged_one_is_worked_out_again(finished_run: str) -> None:
    sample = load_sample()
    run = runs.get_run(finished_run)
    kept = run.metrics()[store.SEEN_IN_TRAINING]
    correct = run.probabilities().argmax(1) == sample.labels[protocol_splits(sample, run.config.protocol)["test"]]
    assert kept == {
        "test_images": len(correct), "copies": 0, "near_copies": 0,
        "accuracy_others": pytest.approx(correct.mean()), "accuracy_copies": None, "accuracy_near": None,
    }

    def no_dataset(which: str) -> None:
        raise AssertionError("a kept split needs no dataset")

    # What the run kept is taken as it is: here, edited to say that 10 of its test faces were copies.
    edited = {**kept, "copies": 10, "accuracy_copies": 0.5, "accuracy_others": 0.25}
    table, reasons = compare.seen_in_training_table(
        by_name(copy_run(finished_run, "edited", metrics={store.SEEN_IN_TRAINING: edited})), load=no_dataset
    )
    assert reasons == {} and table.iloc[0][["copies", "on copies", "accuracy on the others"]].tolist() == [10, 0.5, 0.25]

    # Damaged splits (counts that do not add up, an accuracy that is no fraction or that is given
    # for an empty group) are worked out again from the probabilities.
    damaged = [
        {**kept, "copies": len(correct) + 1, "accuracy_copies": 0.5},
        {**kept, "accuracy_others": 5},
        {**kept, "accuracy_near": 0.5},
        {**kept, "copies": -1},
        {**kept, "copies": 2.5, "accuracy_copies": 0.5},
        {key: value for key, value in kept.items() if key != "accuracy_others"},
        "all of them",
    ]
    for number, split in enumerate(damaged):
        copied = runs.get_run(copy_run(finished_run, f"damaged-{number}", metrics={store.SEEN_IN_TRAINING: split}))
        assert store.seen_in_training(copied.metrics()) is None, split
        assert compare.run_seen_in_training(copied, load=lambda which: sample) == kept


def test_calibration_bins_the_top_probability_and_ece_is_the_weighted_gap() -> None:
    labels = np.array([0, 0, 1, 1, 2])
    # Top probabilities 0.95 (right), 0.95 (wrong), 0.55 (right), 0.55 (right), 0.35 (wrong).
    probabilities = np.array([
        one_hot("angry", 0.95), one_hot("disgust", 0.95), one_hot("disgust", 0.55), one_hot("disgust", 0.55),
        one_hot("happy", 0.35),
    ])
    result = evaluate.calibration(labels, probabilities)
    bins = result["reliability"]
    assert len(bins) == evaluate.CALIBRATION_BINS == 10
    assert [row["faces"] for row in bins] == [0, 0, 0, 1, 0, 2, 0, 0, 0, 2]
    assert bins[9] == {"faces": 2, "confidence": pytest.approx(0.95), "accuracy": 0.5}
    assert bins[5] == {"faces": 2, "confidence": pytest.approx(0.55), "accuracy": 1.0}
    assert bins[3]["accuracy"] == 0.0 and bins[0] == {"faces": 0, "confidence": None, "accuracy": None}
    assert result["ece"] == pytest.approx((2 * 0.45 + 2 * 0.45 + 1 * 0.35) / 5)
    # A top probability of exactly 1 falls in the last bin.
    assert evaluate.calibration(np.array([3]), one_hot("happy", 1.0)[None])["reliability"][9]["faces"] == 1


def test_a_run_keeps_its_calibration_and_an_unkept_one_is_worked_out_again(finished_run: str) -> None:
    sample = load_sample()
    run = runs.get_run(finished_run)
    kept = store.calibration(run.metrics())
    labels = sample.labels[protocol_splits(sample, run.config.protocol)["test"]]
    worked_out = evaluate.calibration(labels, run.probabilities())  # the kept probabilities are float16
    assert kept[0] == pytest.approx(worked_out["ece"], abs=1e-3) and len(kept[1]) == 10
    assert [row["faces"] for row in kept[1]] == [row["faces"] for row in worked_out["reliability"]]

    def no_dataset(which: str) -> None:
        raise AssertionError("a kept calibration needs no dataset")

    damaged = [{"ece": 2}, {"reliability": []}, {"reliability": [{"faces": 3, "confidence": None, "accuracy": 0.5}]},
               {"reliability": "none"}, {"ece": None}, {"reliability": [{"faces": 0, "confidence": None, "accuracy": None}]}]
    unkept = {"ece": None, "reliability": None}
    names = {name: copy_run(finished_run, name, metrics=edit) for name, edit in [("unkept", unkept)] + [
        (f"damaged-{number}", edit) for number, edit in enumerate(damaged)]}
    curves, reasons = compare.calibration_curves(by_name(finished_run), load=no_dataset)
    assert reasons == {} and list(curves.values()) == [kept]
    curves, reasons = compare.calibration_curves(by_name(*names.values()), load=lambda which: sample)
    assert reasons == {} and all(ece == worked_out["ece"] for ece, _ in curves.values())
    without = copy_run(finished_run, "without", metrics=unkept)
    (runs_dir() / without / "probabilities.npz").unlink()
    assert "did not keep its test-set probabilities" in compare.calibration_curves(by_name(without))[1][
        runs.get_run(without).display_name]


def test_the_studys_comparisons_are_asked_of_runs_scored_like_it_paired(
    finished_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """S4 − S2 between two runs on the same images: 20 faces only S4 gets right, none only S2, so
    McNemar's p is 2 / 2**20; comparisons without runs of both scenarios say which is missing."""
    sample = load_sample()
    s2 = like_the_study(copy_run(finished_run, "s2"), "S2")
    s4 = like_the_study(better_copy(finished_run, "s4", gained=20), "S4")
    on_sample = copy_run(finished_run, "s1", metrics={"scenario": "S1"})  # not scored like the study: left out
    table, waiting, unpaired = compare.study_comparisons(by_name(s4, s2, on_sample), load=lambda which: sample)
    (row,) = table.to_dict("records")
    assert (row["comparison"], row["difference"]) == ("oversampling, VGG19", "S4 − S2")
    assert row["points"] == pytest.approx(round(2000 / 296, 2)) and row["McNemar p"] == pytest.approx(2 / 2**20)
    assert row["verdict"] == "significant at 5%" and row["study (points)"] == 0.84
    low, high = (float(value.replace("−", "-")) for value in row["95% interval, paired (points)"].split(" to "))
    assert 0 < low < row["points"] < high
    assert row["runs"] == f"{runs.get_run(s4).display_name} against {runs.get_run(s2).display_name}"
    assert unpaired == [] and waiting == [
        "oversampling, ResNet50 (S3 − S1): no run of S1 nor S3 scored like the study yet",
        "VGG19 against ResNet50 (S2 − S1): no run of S1 scored like the study yet",
        "VGG19 against ResNet50, oversampled (S4 − S3): no run of S3 scored like the study yet",
    ]
    # The CLI prints the same comparison under the study's own.
    from fer.cli import main

    assert main(["study", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert [(row["difference"], row["verdict"]) for row in document["runs_paired"]] == [("S4 − S2", "significant at 5%")]
    (emotions,) = document["runs_paired_by_emotion"].values()
    assert list(document["runs_paired_by_emotion"]) == ["oversampling, VGG19 (S4 − S2)"]
    assert sum(row["test faces"] for row in emotions) == 296 and all(row["points"] >= 0 for row in emotions)
    assert sum(row["recall B"] * row["test faces"] - row["recall A"] * row["test faces"] for row in emotions) == pytest.approx(20)
    # The first run of a scenario in the given order is taken (the newest, as the pages list them).
    again = like_the_study(copy_run(finished_run, "s4-again"), "S4")
    table, _, _ = compare.study_comparisons(by_name(s2, s4, again), load=lambda which: sample)
    assert table.loc[0, "points"] == pytest.approx(round(2000 / 296, 2))
    # A pair that can't be matched says why, rather than failing the page.
    metrics = runs.get_run(s4).metrics()
    atomic_write_json(runs_dir() / s4 / "metrics.json", {**metrics, "test_set": "another"})
    table, waiting, unpaired = compare.study_comparisons(by_name(s2, s4), load=lambda which: sample)
    assert table.empty and len(waiting) == 3
    assert unpaired[0].startswith("oversampling, VGG19 (S4 − S2): ") and "were evaluated on different test images" in unpaired[0]


def test_reference_runs_are_read_like_any_other(finished_run: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_REFERENCE", str(tmp_path / "reference"))
    exported = store.export_reference(runs.get_run(finished_run), tmp_path / "reference")
    (reference,) = store.reference_runs()
    assert reference.path == exported
    result = compare.paired_runs(runs.get_run(finished_run), reference)
    assert (result.difference, result.p_value) == (0.0, 1.0)


# ---------------------------------------------------------------------------------------------
# The faces behind a confusion


def test_the_faces_behind_a_confusion_are_the_test_faces_so_answered_surest_first(finished_run: str) -> None:
    sample = load_sample()
    test = protocol_splits(sample, "thesis")["test"]
    labels = sample.labels[test]
    probabilities = np.array([one_hot(CLASSES[label]) for label in labels])  # every face right at 90%
    angry, fear, sad = (CLASSES.index(name) for name in ("angry", "fear", "sad"))
    planted = np.flatnonzero(labels == angry)[:5]
    for place, p in zip(planted, (0.6, 0.9, 0.55, 0.8, 0.7)):
        probabilities[place] = one_hot("fear", p)
    probabilities[np.flatnonzero(labels == sad)[:2]] = one_hot("neutral")
    copied = copy_run(finished_run, "confused", metrics=evaluate.classification_metrics(labels, probabilities))
    store.write_probabilities(runs_dir() / copied, probabilities)
    run = runs.get_run(copied)

    assert compare.commonest_confusion(run) == ("angry", "fear")
    faces = compare.confused_faces(run, "angry", "fear", limit=3)
    surest = planted[[1, 3, 4]]  # 0.9, 0.8, 0.7
    np.testing.assert_array_equal(faces.images, sample.images[test[surest]])
    np.testing.assert_allclose(faces.probabilities, [0.9, 0.8, 0.7], atol=1e-3)
    assert (faces.total, faces.of_true) == (5, (labels == angry).sum())
    assert faces.total == run.metrics()["confusion_matrix"][angry][fear]
    right = compare.confused_faces(run, "sad", "sad")  # the diagonal: the faces it got right
    assert (right.total, right.of_true) == ((labels == sad).sum() - 2, (labels == sad).sum())
    assert len(right.images) == min(right.total, compare.CONFUSED_FACES)
    never = compare.confused_faces(run, "fear", "angry")
    assert (never.total, never.images.shape) == (0, (0, 48, 48))
    with pytest.raises(FerError, match="unknown emotion 'bored'"):
        compare.confused_faces(run, "bored", "sad")
