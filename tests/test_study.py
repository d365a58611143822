"""Runs set beside the study, and one run's numbers as text: what the pages and the CLI share."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from fer import data, runs, study
from fer.balance import training_images
from fer.paths import artifacts_at

from .conftest import COMMITTED_REFERENCE_DIR, FULL_FER2013, needs_full_fer2013


def test_run_rows_keep_the_runs_order_and_can_leave_out_custom_runs() -> None:
    chosen = {
        "mine": {"scenario": "custom", "test_accuracy": 0.5},
        "as S2": {"scenario": "S2", "test_accuracy": 0.7, "test_images": 7178, "dataset": "full"},
    }
    rows = study.run_rows(chosen)
    assert [(row["run"], row["scenario"], row["test_accuracy"]) for row in rows] == [("mine", "custom", 0.5), ("as S2", "S2", 0.7)]
    assert rows[1]["data"] == "full (7,178 test images)"
    (only,) = study.run_rows(chosen, study_scenarios_only=True)
    assert only["run"] == "as S2"


def test_run_metric_texts_round_as_the_study_and_mark_what_is_missing() -> None:
    shown = runs.run_metric_texts(
        {"test_accuracy": 0.712345, "train_seconds": 1234.56, "images_per_second": 299.6, "test_images": 7178,
         "precision_macro": "not a number", "device": "CPU"}
    )
    assert set(shown) == set(runs.RUN_METRIC_FORMATS)
    assert (shown["test_accuracy"], shown["train_seconds"], shown["images_per_second"], shown["test_images"]) == (
        "0.7123", "1,234.6", "300", "7,178"
    )
    assert (shown["precision_macro"], shown["recall_macro"], shown["device"]) == ("—", "—", "CPU")


S2_SCORES = {"scenario": "S2", "test_accuracy": 0.3, "precision_macro": 0.2, "recall_macro": 0.25,
             "train_accuracy": 0.4, "train_seconds": 60.0, "epochs_run": 1, "weights": "none (trained from scratch)"}
SAMPLE_STANDARD = {"dataset": "sample", "protocol": "standard", "test_split": "PrivateTest", "test_images": 148}
SAMPLE_THESIS = {"dataset": "sample", "protocol": "thesis", "test_split": "all test images", "test_images": 296}
FULL_STANDARD = {"dataset": "full", "protocol": "standard", "test_split": "PrivateTest", "test_images": 3589}
FULL_THESIS = {"dataset": "full", "protocol": "thesis", "test_split": "all test images", "test_images": 7178}


def test_only_runs_scored_like_the_study_are_set_beside_its_numbers() -> None:
    """The study scored S1-S4 on all 7,178 test images of the full FER2013: an S2 run on the sample
    or under the standard protocol gets no study numbers nor differences, and says why."""
    scored = {"sample, standard": SAMPLE_STANDARD, "sample, thesis": SAMPLE_THESIS,
              "full, standard": FULL_STANDARD, "full, thesis": FULL_THESIS}
    rows = [study.run_row(name, {**S2_SCORES, **facts}) for name, facts in scored.items()]
    table = study.comparison_table(rows).set_index("run")
    study_columns = [c for c in table.columns if c.startswith("study ") or c.endswith(study.DIFFERENCE_SUFFIX)]
    assert len(study_columns) == 2 * len(study.METRIC_COLUMNS)
    for name in ("sample, standard", "sample, thesis", "full, standard"):
        assert table.loc[name, [*study_columns, study.DIFFERENCE_INTERVAL]].isna().all(), name
        assert table.loc[name, "test accuracy"] == 0.3  # our own numbers stay
    assert table.loc["sample, standard", study.STUDY_NOTE] == "not like for like: sample data, standard protocol"
    assert table.loc["sample, thesis", study.STUDY_NOTE] == "not like for like: sample data"
    assert table.loc["full, standard", study.STUDY_NOTE] == "not like for like: standard protocol"
    assert table.loc["sample, standard", "data"] == "sample, standard (148 test images)"
    # Every accuracy with its interval, as wide as its test images allow: 0.3 on 148 faces, or on 7,178.
    assert table.loc["sample, standard", study.ACCURACY_INTERVAL] == "0.230 to 0.375"
    assert table.loc["full, thesis", study.ACCURACY_INTERVAL] == "0.289 to 0.311"
    like = table.loc["full, thesis"]
    assert like[study.STUDY_NOTE] == study.LIKE_FOR_LIKE
    assert like["study test accuracy"] == study.STUDY_TABLE.loc["S2", "test_accuracy"]
    assert like["test accuracy − study"] == pytest.approx(0.3 - study.STUDY_TABLE.loc["S2", "test_accuracy"])
    assert like["train seconds − study"] == pytest.approx(60.0 - study.STUDY_TABLE.loc["S2", "train_seconds"])
    # 0.3 against 0.7074 on 7,178 images each: 40.7 points behind, give or take 1.5.
    assert like[study.DIFFERENCE_INTERVAL] == "−42.2 to −39.2 points"


def test_a_run_that_does_not_record_what_it_was_scored_on_is_not_like_the_study() -> None:
    assert study.study_mismatch({}) == ["data not recorded", "protocol not recorded"]
    assert study.study_mismatch({"dataset": "full", "protocol": "thesis"}) == ["test images not recorded"]
    assert study.study_mismatch({"dataset": "full", "protocol": "thesis", "test_images": 7000}) == ["7,000 test images"]
    assert study.study_mismatch(FULL_THESIS) == []
    custom = study.comparison_table([study.run_row("mine", {**S2_SCORES, **FULL_THESIS, "scenario": "custom"})])
    assert custom.loc[0, study.STUDY_NOTE] == "no study scenario" and pd.isna(custom.loc[0, "study test accuracy"])


def test_the_landscape_shows_a_standard_run_also_on_all_7178_test_images() -> None:
    """The default model's PrivateTest score has no like-for-like bar beside the study's; its score
    on all 7,178 test images (``other_protocols``) does, as a second bar named by its test images."""
    (folder,) = [path for path in COMMITTED_REFERENCE_DIR.iterdir() if (path / "model.keras").exists()]
    metrics = json.loads((folder / "metrics.json").read_text())
    table = study.accuracy_landscape([study.run_row("default", metrics)])
    ours = table[table["group"] == "this project"].set_index("result")
    assert list(ours.index) == ["default (PrivateTest)", "default (all 7,178 test images)"]
    assert ours.loc["default (PrivateTest)", "accuracy"] == metrics["test_accuracy"] == pytest.approx(0.7010, abs=1e-4)
    assert ours.loc["default (PrivateTest)", "test split"] == study.PRIVATE_TEST == "PrivateTest (3,589 images)"
    thesis = ours.loc["default (all 7,178 test images)"]
    assert thesis["accuracy"] == metrics["other_protocols"]["thesis"]["test_accuracy"] == pytest.approx(0.6911, abs=1e-4)
    assert thesis["test split"] == "all 7,178 test images; includes PublicTest, on which the epoch was chosen"
    assert thesis["weights"] == metrics["weights"]
    assert table["accuracy"].is_monotonic_decreasing
    # Each bar knows how many images it stands on (its interval's width); a split not verified here, none.
    assert ours["test images"].tolist() == [3589, 7178]
    counts = table.set_index("result")["test images"]
    assert counts["study S2 VGG19"] == 7178 and counts["Pham et al. 2020: ResMaskingNet"] == 3589
    assert pd.isna(counts["Kusuma et al. 2020: VGG16 fine-tuned"])

    # A run with one score keeps one bar under its own name; a damaged other score is left out.
    plain = study.accuracy_landscape([study.run_row("mine", {**S2_SCORES, **FULL_THESIS, "other_protocols": {"standard": "?"}})])
    (row,) = plain[plain["group"] == "this project"].to_dict("records")
    assert (row["result"], row["accuracy"], row["test split"]) == ("mine", 0.3, "all 7,178 test images")


def test_the_landscape_leaves_out_runs_not_on_the_full_data() -> None:
    """Published results and the study's were scored on the full FER2013: a run on the shipped
    sample (a few hundred faces), or one that does not record its data, gets no bar beside them."""
    (folder,) = [path for path in COMMITTED_REFERENCE_DIR.iterdir() if (path / "model.keras").exists()]
    reference = json.loads((folder / "metrics.json").read_text())
    unrecorded = {key: value for key, value in FULL_THESIS.items() if key != "dataset"}
    scored = {"sample, thesis": SAMPLE_THESIS, "sample, standard": SAMPLE_STANDARD, "data not recorded": unrecorded,
              "full, thesis": FULL_THESIS, "full, standard": FULL_STANDARD}
    rows = [study.run_row(name, {**S2_SCORES, **facts}) for name, facts in scored.items()]
    table = study.accuracy_landscape([*rows, study.run_row("default", reference)])
    ours = table[table["group"] == "this project"]
    assert sorted(ours["result"]) == sorted(
        ["full, thesis", "full, standard", "default (PrivateTest)", "default (all 7,178 test images)"]
    )
    assert not ours["test split"].str.contains("sample").any()
    everything_else = study.accuracy_landscape([])
    assert len(table) - len(ours) == len(everything_else)  # the study's and others' bars are all still there
    only_sample = study.accuracy_landscape(rows[:2])
    assert "this project" not in set(only_sample["group"]) and len(only_sample) == len(everything_else)


def test_a_bar_is_named_by_the_test_images_its_run_was_scored_on() -> None:
    names = {facts["dataset"] + " " + facts["protocol"]: study.bar_name(study.run_row("S2 VGG19 · r1", {**S2_SCORES, **facts}))
             for facts in (SAMPLE_THESIS, SAMPLE_STANDARD, FULL_STANDARD, FULL_THESIS)}
    assert names == {
        "sample thesis": "S2 VGG19 · r1 (all 296 test images of the sample data)",
        "sample standard": "S2 VGG19 · r1 (PrivateTest of the sample data)",
        "full standard": "S2 VGG19 · r1 (PrivateTest)",
        "full thesis": "S2 VGG19 · r1 (all 7,178 test images)",
    }
    assert study.bar_name(study.run_row("old", S2_SCORES), "<br>") == "old<br>(test images not recorded)"


def test_the_studys_differences_say_which_are_beyond_the_noise_of_its_7178_test_images() -> None:
    differences = study.study_differences().set_index("difference")
    assert list(differences.index) == ["S3 − S1", "S4 − S2", "S2 − S1", "S4 − S3"]
    assert differences["points"].tolist() == [0.09, 0.84, 3.76, 4.51]
    # Oversampling's gains sit inside intervals about ±1.5 points wide; VGG19's lead does not.
    assert differences["verdict"].tolist() == ["within test-set noise"] * 2 + ["beyond test-set noise"] * 2
    assert differences.loc["S4 − S2", "95% interval (points)"] == "−0.6 to 2.3"
    assert differences.loc["S2 − S1", "95% interval (points)"] == "2.2 to 5.3"
    # A paired test would pass S4's lead only if S2 and S4 disagreed on under 13% of the images;
    # VGG19's lead at any share (capped at 100%).
    needed = differences[study.DISAGREEMENT_COLUMN]
    assert needed["S4 − S2"] == pytest.approx(0.132, abs=1e-3) and needed["S3 − S1"] < 0.002
    assert needed["S2 − S1"] == needed["S4 − S3"] == 1.0
    formats = study.number_formats(differences)
    assert formats["points"].format(0.84) == "+0.84" and formats[study.DISAGREEMENT_COLUMN].format(0.1318) == "13.2%"


def test_the_studys_seconds_imply_speeds_no_network_has() -> None:
    """VGG19 at 4,795 img/s in S2 and 1,345 in S4: at S4's speed S2 trained 28 epochs, not 100."""
    speeds = study.study_speeds().set_index("scenario")
    assert speeds["faces per epoch"].tolist() == [28_709, 28_709, 50_505, 50_505]
    assert speeds["img/s if 100 epochs"].tolist() == [1353, 4795, 2290, 1345]
    assert speeds[study.SLOWER_SPEED_EPOCHS].tolist() == [100.0, 28.0, 59.1, 100.0]
    formats = study.number_formats(speeds.reset_index())
    assert formats["img/s if 100 epochs"].format(4795.0) == "4,795" and formats[study.SLOWER_SPEED_EPOCHS].format(28.0) == "28.0"


@needs_full_fer2013
def test_the_studys_faces_per_epoch_are_the_full_training_split_and_its_oversampling(tmp_path: Path) -> None:
    with artifacts_at(tmp_path):
        full = data.import_dataset(FULL_FER2013)
    for balancing, faces in study.STUDY_TRAINING_IMAGES.items():
        assert training_images(full, "thesis", balancing) == faces
