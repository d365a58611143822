"""The command line's options and documents, run in this process (no training)."""

from __future__ import annotations

import json
import shutil
from dataclasses import fields, replace
from pathlib import Path
from types import SimpleNamespace

import pytest

from fer import cli, data, runs, store, study
from fer.dataset import FaceDataset, protocol_splits
from fer.errors import FerError
from fer.evaluate import fingerprint
from fer.paths import atomic_write_json, runs_dir
from fer.scenarios import RunConfig, scenario

from .conftest import (
    BASE_ID,
    COMMITTED_REFERENCE_DIR,
    REFERENCE_ID,
    copy_run,
    markdown_rows,
    planted,
    retouched,
    write_parquet,
)

COMMANDS = {
    "data import": ["data", "import", "fer2013.zip"],
    "data summary": ["data", "summary"],
    "train": ["train"],
    "runs": ["runs"],
    "study": ["study"],
    "show": ["show", "RUN"],
    "compare": ["compare", "RUN_A", "RUN_B"],
    "calibrate": ["calibrate", "RUN"],
    "robustness": ["robustness", "RUN"],
    "cancel": ["cancel", "RUN"],
    "delete": ["delete", "RUN"],
    "resume": ["resume", "RUN"],
    "classify": ["classify", "photo.jpg"],
    "video": ["video", "clip.mp4"],
    "evaluate": ["evaluate", "faces/"],
}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = cli.main(list(args))
    return status, capsys.readouterr().out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_prints_json_on_request(command: str) -> None:
    """What the module's doc promises: every command takes --json."""
    assert cli._parser().parse_args([*COMMANDS[command], "--json"]).json is True


def test_train_takes_every_run_setting_as_an_option(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    default = RunConfig()
    wanted = RunConfig(
        arch="resnet50", balance="undersample", augment="none", epochs=3, batch_size=32, learning_rate=0.01,
        optimizer="sgd", schedule="cosine", weight_decay=0.001, label_smoothing=0.2, tta="flip",
        precision="float32", devices="2", input_size=64, weights="imagenet", protocol="standard",
        early_stopping=2, drop_copies="near", data="sample", seed=7, note="milder crops",
    )
    # Every setting but the scenario (chosen by --scenario) differs from its default, so each option is seen.
    assert [f.name for f in fields(RunConfig) if getattr(wanted, f.name) == getattr(default, f.name)] == ["scenario"]
    started: list[RunConfig] = []

    def start(config: RunConfig, background: bool = True, on_status: object = None) -> SimpleNamespace:
        started.append(config)
        return SimpleNamespace(run_id="new-run", state="queued")

    monkeypatch.setattr(runs, "start", start)
    options = [
        "--arch", "resnet50", "--balance", "undersample", "--augment", "none", "--epochs", "3", "--batch-size", "32",
        "--lr", "0.01", "--optimizer", "sgd", "--schedule", "cosine", "--weight-decay", "0.001",
        "--label-smoothing", "0.2", "--tta", "flip", "--precision", "float32", "--devices", "2", "--input-size", "64",
        "--weights", "imagenet", "--protocol", "standard", "--early-stopping", "2", "--drop-copies", "near", "--data", "sample",
        "--seed", "7", "--note", "milder crops",
    ]
    queued = "new-run: queued in the background; watch with `python -m fer show new-run`\n"
    assert run_cli(capsys, "train", *options, "--background") == (0, queued)
    assert started == [wanted]


def test_drop_copies_without_a_value_on_the_command_line_drops_the_exact_copies() -> None:
    parse = cli._parser().parse_args
    assert [parse(["train", *flag]).drop_copies for flag in ([], ["--drop-copies"], ["--drop-copies", "near"])] == [
        None, "exact", "near",
    ]


def test_train_help_names_the_run_defaults(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(cli, "DEFAULTS", RunConfig(arch="cnn", batch_size=96, input_size=64, seed=5, protocol="standard"))
    with pytest.raises(SystemExit) as exited:
        cli.main(["train", "--help"])
    assert exited.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())  # argparse wraps the help
    for text in ("(default cnn)", "default 96", "(default 64)", "(default 5)", "(default standard)"):
        assert text in shown


def test_data_summary_counts_the_classes_once(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from fer import balance

    counted = balance.class_counts
    calls: list[tuple[object, ...]] = []
    monkeypatch.setattr(balance, "class_counts", lambda *args: calls.append(args) or counted(*args))
    for json_flag in ([], ["--json"]):
        calls.clear()
        status, out = run_cli(capsys, "data", "summary", "--data", "sample", "--balance", "oversample", *json_flag)
        assert status == 0 and len(calls) == 1
    assert json.loads(out)["after"]["train"]["happy"] == 152


def test_data_summary_counts_faces_that_appear_twice(
    sample: FaceDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data.import_dataset(write_parquet(tmp_path / "planted.parquet", planted(sample)[0]))
    status, out = run_cli(capsys, "data", "summary", "--json")
    assert status == 0 and json.loads(out)["copies"] == {
        "Training": {"faces": 14, "same_split": 2, "in_training": None, "near_training": None, "relabelled": 1, "blank": 0},
        "PublicTest": {"faces": 14, "same_split": 0, "in_training": 1, "near_training": 0, "relabelled": 1, "blank": 0},
        "PrivateTest": {"faces": 14, "same_split": 0, "in_training": 1, "near_training": 1, "relabelled": 0, "blank": 1},
    }
    status, out = run_cli(capsys, "data", "summary")
    (private,) = [line.split() for line in out.splitlines() if line.startswith("PrivateTest")]
    assert status == 0 and "Faces that appear twice" in out and private == ["PrivateTest", "14", "0", "1", "1", "0", "1"]


def test_show_splits_the_accuracy_between_test_faces_seen_in_training_and_the_others(
    finished_run: str, sample: FaceDataset, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    splits = protocol_splits(sample, runs.get_run(finished_run).config.protocol)
    images = sample.images.copy()
    images[splits["train"][:5]] = sample.images[splits["test"][:5]]  # the test faces stay: the run still matches
    images[splits["train"][5]] = retouched(sample.images[splits["test"][5]])
    data.import_dataset(write_parquet(tmp_path / "planted.parquet", replace(sample, images=images)))
    full = copy_run(finished_run, "full", {"data": "full"}, {store.SEEN_IN_TRAINING: None})  # worked out, not kept
    correct = runs.get_run(full).probabilities().argmax(1) == sample.labels[splits["test"]]
    status, out = run_cli(capsys, "show", full)
    assert status == 0 and (
        f"accuracy {correct[6:].mean():.4f} on the {len(correct) - 6:,} test faces not seen in training, "
        f"{correct[:5].mean():.4f} on the 5 copies of Training faces, {correct[5]:.4f} on the 1 near copies"
    ) in out
    status, out = run_cli(capsys, "show", finished_run, "--json")  # the sample holds no copies
    assert json.loads(out)["seen_in_training"]["copies"] == 0
    assert "not seen in training" not in run_cli(capsys, "show", finished_run)[1]


def test_study_json_holds_the_study_and_the_runs(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_cli(capsys, "study", "--json")
    document = json.loads(out)
    assert status == 0 and document["runs"] == []
    assert [row["test accuracy"] for row in document["study"]] == [0.6698, 0.7074, 0.6707, 0.7158]
    oversampled_vgg = document["study_differences"][1]
    assert (oversampled_vgg["difference"], oversampled_vgg["points"]) == ("S4 − S2", 0.84)
    assert oversampled_vgg["verdict"] == "within test-set noise"
    assert [row["img/s if 100 epochs"] for row in document["study_speeds"]] == [1353, 4795, 2290, 1345]
    assert document["runs_paired"] == document["not_paired"] == [] and len(document["waiting_for_runs"]) == 4
    assert document["runs_paired_by_emotion"] == {}


def test_cancel_and_delete_print_json_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    queued = runs.create_run(scenario("custom", arch="cnn", epochs=1, data="sample"))
    status, out = run_cli(capsys, "cancel", queued.run_id, "--json")
    assert status == 0 and json.loads(out)["run_id"] == queued.run_id
    assert (queued.path / "cancel").exists()

    store.write_status(queued.path, state="cancelled", error="cancelled")
    status, out = run_cli(capsys, "delete", queued.run_id, "--json")
    assert status == 0 and json.loads(out) == {"run_id": queued.run_id, "deleted": True}
    assert not queued.path.exists()


def finished_run(run_id: str, config: RunConfig, metrics: dict[str, object]) -> Path:
    """A completed run of this machine holding only its config, status and metrics: all that
    listings and ``study`` read."""
    path = runs_dir() / run_id
    path.mkdir(parents=True)
    store.write_config(path, config)
    store.write_status(path, state="completed", created_at=store.now(), epoch=config.epochs, epochs=config.epochs)
    atomic_write_json(path / "metrics.json", metrics)
    return path


S2_METRICS = {"scenario": "S2", "test_accuracy": 0.3, "precision_macro": 0.2, "recall_macro": 0.25, "train_accuracy": 0.4,
              "train_seconds": 60.0, "wall_seconds": 90.0, "epochs_run": 1, "weights": "none (trained from scratch)"}


def test_study_prints_what_each_run_was_scored_on_and_the_study_only_beside_like_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sample = {**S2_METRICS, "dataset": "sample", "protocol": "standard", "test_split": "PrivateTest", "test_images": 148}
    full = {**S2_METRICS, "dataset": "full", "protocol": "thesis", "test_split": "all test images", "test_images": 7178}
    finished_run("20260101-000000-s2-vgg19-0001", scenario("S2", epochs=1, data="sample", protocol="standard"), sample)
    finished_run("20260101-000001-s2-vgg19-0002", scenario("S2", epochs=1, data="full"), full)
    status, out = run_cli(capsys, "study")
    assert status == 0
    by_data = {row["data"]: row for row in markdown_rows(out)}
    on_sample, like = by_data["sample, standard (148 test images)"], by_data["full, thesis (7,178 test images)"]
    assert (on_sample["test accuracy"], on_sample["study test accuracy"]) == ("0.3000", "—")
    assert on_sample["beside the study"] == "not like for like: sample data, standard protocol"
    assert on_sample["weights"] == "none (trained from scratch)"
    assert (like["study test accuracy"], like["beside the study"]) == ("0.7074", "like for like")
    # Then how sure the study's own differences are, in points.
    intro, differences = out.strip().split("\n\n")[1].split("\n", 1)
    assert "95% intervals over the sampling of its 7,178 test images" in intro
    rows = {row["difference"]: row for row in markdown_rows(differences)}
    assert (rows["S4 − S2"]["points"], rows["S4 − S2"]["95% interval (points)"]) == ("+0.84", "−0.6 to 2.3")
    assert rows["S2 − S1"]["verdict"] == "beyond test-set noise"
    intro, speeds = out.strip().split("\n\n")[2].split("\n", 1)
    assert "if every scenario trained its 100 epochs" in intro
    assert {row["scenario"]: row[study.SLOWER_SPEED_EPOCHS] for row in markdown_rows(speeds)}["S2"] == "28.0"

    status, out = run_cli(capsys, "study", "--json")
    documented = {row["data"]: row for row in json.loads(out)["runs"]}
    assert documented["sample, standard (148 test images)"]["study test accuracy"] is None
    assert documented["full, thesis (7,178 test images)"]["study test accuracy"] == 0.7074


def test_runs_names_the_test_split_of_each_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    sample = {**S2_METRICS, "dataset": "sample", "protocol": "thesis", "test_split": "all test images", "test_images": 296}
    finished_run("20260101-000000-s2-vgg19-0001", scenario("S2", epochs=1, data="sample"), sample)
    table = runs.runs_table(runs.list_runs())
    assert list(table.columns[table.columns.get_loc("test accuracy"):][:2]) == ["test accuracy", "test split"]
    assert table.loc[0, "test split"] == "all test images of the sample data"
    status, out = run_cli(capsys, "runs")
    assert status == 0 and "all test images of the sample data" in out and "Reference runs" not in out


def test_show_and_runs_read_the_committed_reference_run(
    committed_references: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = run_cli(capsys, "show", REFERENCE_ID)
    assert status == 0
    assert out.startswith(f"{REFERENCE_ID} (reference run committed with the project, read-only): FER-CNN fine-tuned, completed")
    assert "test accuracy 0.7010 (PrivateTest, 3,589 images)" in out
    status, out = run_cli(capsys, "show", REFERENCE_ID, "--json")
    document = json.loads(out)
    assert document["reference"] is True and document["metrics"]["test_split"] == "PrivateTest"

    status, out = run_cli(capsys, "runs")
    assert status == 0 and out.startswith("No runs yet")
    listed = out.split("Reference runs, committed with the project (read-only", 1)[1]
    assert REFERENCE_ID in listed and "0.7010" in listed and BASE_ID in listed and "0.6996" in listed
    status, out = run_cli(capsys, "runs", "--json")
    assert [(run["run_id"], run["reference"]) for run in json.loads(out)] == [(BASE_ID, True), (REFERENCE_ID, True)]


def test_compare_pairs_two_runs_overall_and_emotion_by_emotion(
    committed_references: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default model against the run it was fine-tuned from, from the repository's files alone:
    the same accuracy, but significantly better at fear and sad, worse at angry, neutral and surprise."""
    status, out = run_cli(capsys, "compare", BASE_ID, REFERENCE_ID)
    assert status == 0
    assert out.startswith(f"A: reference run · FER-CNN · {BASE_ID}\nB: reference run · FER-CNN fine-tuned · {REFERENCE_ID}")
    settings = out.split("Settings that differ:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert settings[0].split()[:4] == ["run", "augmentation", "learning", "rate"]
    assert settings[1].split()[:4] == ["A", "crop_flip", "0.05", "40"] and settings[2].split()[:4] == ["B", "photo", "0.01", "6"]
    assert "On the same 3,589 test images: A 69.96%, B 70.10%." in out
    assert "B is 0.1 points more accurate than A (95% CI −0.7 to 1.0); McNemar p = 0.79" in out
    assert "Only A right on 111 images, only B right on 116." in out
    rows = {row["emotion"]: row for row in markdown_rows(out.split("seven tests at 5%):\n", 1)[1])}
    assert list(rows) == ["angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"]
    assert sum(int(row["test faces"].replace(",", "")) for row in rows.values()) == 3_589
    significant = {emotion: float(row["points"]) for emotion, row in rows.items() if row["verdict"] == "significant at 5%"}
    assert significant == {"angry": -4.48, "fear": 5.11, "neutral": -3.04, "sad": 5.56, "surprise": -4.81}
    assert rows["disgust"]["test faces"] == "55" and rows["disgust"]["McNemar p"] == "1"

    status, out = run_cli(capsys, "compare", BASE_ID, REFERENCE_ID, "--json")
    document = json.loads(out)
    assert (document["a"], document["b"]) == (BASE_ID, REFERENCE_ID)
    assert (document["paired"]["only_a"], document["paired"]["only_b"], document["paired"]["significant"]) == (111, 116, False)
    assert [row["emotion"] for row in document["by_emotion"]] == list(rows)
    assert {row["run"] for row in document["settings_that_differ"]} == {"A", "B"}


def test_compare_refuses_runs_it_cannot_pair(finished_run: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compare", finished_run, "nope"]) == 2
    assert "no run named 'nope'" in capsys.readouterr().err
    other = copy_run(finished_run, "other", metrics={"test_set": "0123456789abcdef"})
    assert cli.main(["compare", finished_run, other]) == 2
    assert "were evaluated on different test images" in capsys.readouterr().err
    status, out = run_cli(capsys, "compare", finished_run, finished_run)
    assert status == 0 and "The same settings (a seed repeat, or the same run twice)." in out
    assert "B and A are equally accurate" in out


def test_calibrate_fits_a_standard_protocol_runs_temperature_and_balanced_answers_again(
    finished_run: str, sample: FaceDataset, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["calibrate", finished_run]) == 2  # the thesis protocol: no validation faces
    assert "has no validation faces to fit on" in capsys.readouterr().err
    test = protocol_splits(sample, "standard")["test"]
    standard = copy_run(
        finished_run, "standard", config={"protocol": "standard"},
        metrics={"test_set": fingerprint(sample.images[test], sample.labels[test])},
    )
    status, out = run_cli(capsys, "calibrate", standard)
    metrics = runs.get_run(standard).metrics()
    assert status == 0 and {"temperature_scaling", "balanced_answers"} <= set(metrics)
    lines = out.splitlines()
    assert lines[0].endswith(f"fitted on its validation faces, scored on its {len(test)} test faces")
    validation = len(protocol_splits(sample, "standard")["validation"])
    assert lines[1].startswith(f"Temperature {metrics['temperature_scaling']['temperature']:.3g}, fitted on {validation} "
                               "PublicTest faces: expected calibration error")
    assert lines[2].startswith("Balanced answers")
    # `show` says the same of the run.
    status, shown = run_cli(capsys, "show", standard)
    assert status == 0 and [f"  {line}" for line in lines[1:]] == shown.splitlines()[-len(lines) : -1]
    status, out = run_cli(capsys, "calibrate", standard, "--json")
    document = json.loads(out)
    assert status == 0 and document["run_id"] == standard
    assert document["balanced_answers"]["strength"] == metrics["balanced_answers"]["strength"]
    # A run scored before runs kept their calibration and per-class scores: what it lacks is left unsaid.
    older = copy_run(standard, "older", metrics={"ece": None, "reliability": None, "per_class": None})
    status, out = run_cli(capsys, "calibrate", older)
    assert status == 0 and "expected calibration error ->" not in out and "Recall:" not in out
    assert f"expected calibration error {metrics['temperature_scaling']['ece']:.3f}" in out


def snapshot(folder: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``folder`` with its size, modification time and content."""
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns, path.read_bytes())
        for path in sorted(folder.rglob("*")) if path.is_file()
    }


@pytest.mark.parametrize("command", ["cancel", "resume", "delete"])
def test_a_reference_run_is_read_only(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Cancel, resume and delete refuse a reference run by saying so, and change none of its files.
    They act on a copy: were the refusal lost, the committed folder would not be what is lost."""
    shutil.copytree(COMMITTED_REFERENCE_DIR / REFERENCE_ID, tmp_path / "reference" / REFERENCE_ID)
    monkeypatch.setenv("FER_REFERENCE", str(tmp_path / "reference"))
    before = snapshot(tmp_path / "reference")
    status = cli.main([command, REFERENCE_ID])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith(f"error: run {REFERENCE_ID} is a reference run committed with the project")
    done = {"cancel": "cancelled", "resume": "resumed", "delete": "deleted"}[command]
    assert f"reference runs are read-only and can't be {done}" in err
    assert snapshot(tmp_path / "reference") == before
    with pytest.raises(FerError, match="reference runs are read-only"):
        {"cancel": runs.cancel, "resume": runs.resume, "delete": runs.delete}[command](REFERENCE_ID)
    assert snapshot(tmp_path / "reference") == before
    assert not runs_dir().exists() or not any(runs_dir().iterdir())


def test_a_run_of_this_machine_wins_over_a_reference_run_of_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``export`` copies a run into the reference folder under its own id: delete then removes this
    machine's run, never the reference copy."""
    shutil.copytree(COMMITTED_REFERENCE_DIR / REFERENCE_ID, tmp_path / "reference" / REFERENCE_ID)
    monkeypatch.setenv("FER_REFERENCE", str(tmp_path / "reference"))
    own = finished_run(REFERENCE_ID, scenario("S2", epochs=1, data="sample"), S2_METRICS)
    assert not runs.get_run(REFERENCE_ID).reference
    before = snapshot(tmp_path / "reference")
    runs.delete(REFERENCE_ID)
    assert not own.exists() and snapshot(tmp_path / "reference") == before
    assert runs.get_run(REFERENCE_ID).reference  # the reference run is still there, and found


@pytest.mark.parametrize(
    ("args", "see"),
    [
        (["train", "--scenario", "S9"], "python -m fer train"),
        (["train", "--epochs", "abc"], "python -m fer train"),
        (["train", "--data", "nosuch"], "python -m fer train"),
        (["data", "summary", "--balance", "bogus"], "python -m fer data summary"),
        (["train", "--bogus"], "python -m fer train"),
        (["runs", "--x"], "python -m fer runs"),
        (["bogus"], "python -m fer"),
        ([], "python -m fer"),
    ],
)
def test_a_mistyped_option_is_one_line_like_every_other_error(
    args: list[str], see: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """argparse would print the whole usage (17 lines for ``train``) above the line that says
    what is wrong; here it is that line alone, pointing at the command's --help, exit status 2."""
    with pytest.raises(SystemExit) as exited:
        cli.main(args)
    assert exited.value.code == cli.EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("error: ") and line.endswith(f"(see {see} --help)")
    assert "usage:" not in captured.err


def test_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["--help"])
    shown = capsys.readouterr().out
    assert exited.value.code == 0
    assert "``" not in shown and "The command line over the fer library" in shown


def test_show_says_a_runs_state_once_and_counts_its_epochs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    one = finished_run("20260101-000000-s2-vgg19-0001", scenario("S2", epochs=1, data="sample"), S2_METRICS)
    status, out = run_cli(capsys, "show", one.name)
    first = out.splitlines()[0]
    assert status == 0 and first == f"{one.name}: S2 VGG19, completed after 1/1 epoch"

    three = finished_run("20260101-000000-s2-vgg19-0002", scenario("S2", epochs=3, data="sample"), S2_METRICS)
    store.write_status(three, state="running", epoch=1, batch=4, batches=10, message=None)
    (three / "metrics.json").unlink()
    monkeypatch.setattr(runs, "_process_alive", lambda path, status: True)  # as while its process trains
    status, out = run_cli(capsys, "show", three.name)
    assert out.splitlines()[0] == f"{three.name}: S2 VGG19, running: epoch 2/3 · batch 4/10"
