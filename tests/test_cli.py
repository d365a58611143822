"""The command line's options and documents, run in this process (no training)."""

from __future__ import annotations

import json
from dataclasses import fields
from types import SimpleNamespace

import pytest

from fer import cli, runs, store
from fer.scenarios import RunConfig, scenario

COMMANDS = {
    "data import": ["data", "import", "fer2013.zip"],
    "data summary": ["data", "summary"],
    "train": ["train"],
    "runs": ["runs"],
    "study": ["study"],
    "show": ["show", "RUN"],
    "cancel": ["cancel", "RUN"],
    "delete": ["delete", "RUN"],
    "resume": ["resume", "RUN"],
    "classify": ["classify", "photo.jpg"],
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
        optimizer="sgd", schedule="cosine", weight_decay=0.001, label_smoothing=0.2, flip_tta=True,
        precision="float32", devices="2", input_size=64, weights="imagenet", protocol="standard",
        early_stopping=2, data="sample", seed=7,
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
        "--label-smoothing", "0.2", "--flip-tta", "--precision", "float32", "--devices", "2", "--input-size", "64",
        "--weights", "imagenet", "--protocol", "standard", "--early-stopping", "2", "--data", "sample", "--seed", "7",
    ]
    queued = "new-run: queued in the background; watch with `python -m fer show new-run`\n"
    assert run_cli(capsys, "train", *options, "--background") == (0, queued)
    assert started == [wanted]


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


def test_study_json_holds_the_study_and_the_runs(capsys: pytest.CaptureFixture[str]) -> None:
    status, out = run_cli(capsys, "study", "--json")
    document = json.loads(out)
    assert status == 0 and document["runs"] == []
    assert [row["test accuracy"] for row in document["study"]] == [0.6698, 0.7074, 0.6707, 0.7158]


def test_cancel_and_delete_print_json_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    queued = runs.create_run(scenario("custom", arch="cnn", epochs=1, data="sample"))
    status, out = run_cli(capsys, "cancel", queued.run_id, "--json")
    assert status == 0 and json.loads(out)["run_id"] == queued.run_id
    assert (queued.path / "cancel").exists()

    store.write_status(queued.path, state="cancelled", error="cancelled")
    status, out = run_cli(capsys, "delete", queued.run_id, "--json")
    assert status == 0 and json.loads(out) == {"run_id": queued.run_id, "deleted": True}
    assert not queued.path.exists()
