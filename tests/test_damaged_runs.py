"""Damaged run folders: copies of a real run with one file edited or broken. Each is listed
(``unreadable`` with its reason, or as a run whose process is gone), never breaks another run's
commands, a new run's queue or a comparison, and can be deleted."""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer import compare, predict, runs, store
from fer.cli import main
from fer.paths import runs_dir
from fer.vocab import CLASSES

from .conftest import copy_run, open_page, rerun, texts

DAMAGED = "20990101-000000-custom-cnn-dead"
STALE = "the training process ended without a final state"


def damaged_copy(run_id: str, name: str, content: bytes, without: tuple[str, ...] = ()) -> Path:
    """A copy of run ``run_id`` whose file ``name`` holds ``content``, the files ``without`` removed."""
    target = runs_dir() / DAMAGED
    shutil.copytree(runs_dir() / run_id, target)
    (target / name).write_bytes(content)
    for removed in without:
        (target / removed).unlink(missing_ok=True)
    return target


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit status, stdout and stderr of ``python -m fer ARGS``, run in this process."""
    status = main(list(args))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("status.json", b"{}", "no known state"),
        ("status.json", b"[]", "status.json holds []"),
        ("status.json", b"null", "status.json holds None"),
        ("status.json", b'{"state": "paused"}', "no known state ('paused')"),
        ("status.json", b'{"state": "completed", "created_at": 5}', "created_at is 5"),
        ("status.json", b'{"state": "completed", "eta_s": Infinity}', "eta_s is inf"),
        ("status.json", b'{"state": "completed", "progress": -0.5}', "progress is -0.5"),
        ("status.json", b"[" * 100_000, "can't read"),
        ("config.json", b"[]", "config.json holds []"),
        ("config.json", b'"S2"', "config.json holds 'S2'"),
    ],
)
def test_a_damaged_folder_is_unreadable_and_every_command_still_works(
    finished_run: str, name: str, content: bytes, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged_copy(finished_run, name, content)
    listed = {run.run_id: run for run in runs.list_runs()}
    assert listed[DAMAGED].state == "unreadable" and reason in listed[DAMAGED].status["error"]
    assert listed[finished_run].state == "completed"
    assert list(runs.comparable_runs().values()) == [listed[finished_run]]

    for command in (["runs"], ["runs", "--json"], ["study"], ["study", "--all"], ["show", finished_run]):
        assert cli(capsys, *command)[0] == 0, command
    status, out, _ = cli(capsys, "show", DAMAGED)
    assert status == 0 and "unreadable" in out and reason in out
    status, _, err = cli(capsys, "cancel", DAMAGED)
    assert status == 2 and "only queued or running" in err

    # A new run queues past it (the queue lists every run), then the damaged one can be deleted.
    waiting = runs.create_run(runs.get_run(finished_run).config)
    with runs.queue_slots(waiting.path) as slots:
        assert slots == [0]
    assert cli(capsys, "delete", DAMAGED)[0] == 0
    assert not (runs_dir() / DAMAGED).exists() and (runs_dir() / finished_run).is_dir()


@pytest.mark.parametrize(
    ("status", "pid"),
    [
        ({"state": "running"}, None),  # no pid file, no timestamp
        ({"state": "queued", "queued_at": "garbage"}, None),
        ({"state": "queued", "queued_at": "2020-01-01T00:00:00"}, None),  # no time zone
        ({"state": "running"}, b'{"pid": "abc"}'),
        ({"state": "running"}, b'{"x": 1}'),
        ({"state": "running"}, b"[1]"),
        ({"state": "running"}, json.dumps({"pid": 2**70}).encode()),
        ({"state": "running"}, b'{"pid": -1}'),  # would name every process
        ({"state": "running"}, b'{"pid": 0}'),  # would name this process group
        ({"state": "running"}, b'{"pid": true}'),
    ],
)
def test_an_active_run_whose_process_is_not_known_shows_failed(
    finished_run: str, status: dict[str, str], pid: bytes | None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = damaged_copy(finished_run, "status.json", json.dumps(status).encode(), without=("metrics.json", "pid.json"))
    if pid is not None:
        (path / "pid.json").write_bytes(pid)
    run = runs.get_run(DAMAGED)
    assert run.state == "failed" and STALE in run.status["error"]
    assert cli(capsys, "runs")[0] == 0
    assert cli(capsys, "delete", DAMAGED)[0] == 0


@pytest.mark.parametrize(
    "content",
    [
        b"[1, 2]", b'"hello"', b"", b"{bad", b"\x00\x01\xff\xfe",
        b'{"test_accuracy": 0.5}', b'{"test_accuracy": "high"}',
        b'{"test_accuracy": 5.0, "precision_macro": 0.5, "recall_macro": 0.5}',  # accuracies are fractions
        b'{"test_accuracy": 0.5, "precision_macro": -0.1, "recall_macro": 0.5}',
    ],
)
def test_damaged_metrics_leave_the_run_out_of_comparisons(
    finished_run: str, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged_copy(finished_run, "metrics.json", content)
    damaged = runs.get_run(DAMAGED)
    assert damaged.state == "completed" and not damaged.has_results()
    assert damaged.metrics() is None or isinstance(damaged.metrics(), dict)
    assert [run.run_id for run in runs.comparable_runs().values()] == [finished_run]

    status, out, _ = cli(capsys, "study", "--all")
    assert status == 0 and DAMAGED not in out and finished_run in out
    for command in (["runs"], ["runs", "--json"], ["show", DAMAGED]):
        assert cli(capsys, *command)[0] == 0, command
    # The Classify page's model list: the damaged run's model is not offered, the other one is.
    assert [choice.run_id for choice in predict.available_models() if not choice.reference] == [finished_run]


@pytest.mark.parametrize(
    "fields", [{"eta_s": math.inf}, {"eta_s": math.nan}, {"progress": -0.5}, {"progress": 1.5}, {"progress": math.nan}]
)
def test_a_running_run_whose_status_holds_a_number_out_of_range_is_unreadable(
    finished_run: str, fields: dict[str, float], capsys: pytest.CaptureFixture[str]
) -> None:
    """An ETA is rounded and a progress drawn as they are: a damaged one is refused where the
    status is read, not met as a traceback by the Train page and ``show``."""
    path = damaged_copy(finished_run, "status.json", b"{}", without=("metrics.json",))
    store.write_status(path, state="running", created_at=store.now(), epoch=1, epochs=3, **fields)
    runs._write_pid(path, os.getpid())  # its process lives: only the damaged number can stop it showing as running
    ((key, value),) = fields.items()
    reason = f"status.json's {key} is {value!r}"
    damaged = runs.get_run(DAMAGED)
    assert damaged.state == "unreadable" and reason in damaged.status["error"]
    status, out, _ = cli(capsys, "show", DAMAGED)
    assert status == 0 and reason in out
    at = rerun(open_page("app_pages/train.py").multiselect(key="train_details").set_value([DAMAGED]))
    assert reason in texts(at)


def _loss_as_text(history: str) -> str:
    """The history with its first loss replaced by a word."""
    header, first, *rest = history.splitlines()
    values = first.split(",")
    values[header.split(",").index("loss")] = "abc"
    return "\n".join([header, ",".join(values), *rest]) + "\n"


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: "",
        lambda text: "foo,bar\n1,2\n",
        lambda text: text.replace("epoch,", "round,", 1),
        lambda text: text.replace(",loss,", ",cost,", 1),
        lambda text: text.splitlines()[0] + "\n",  # a header, no epoch
        _loss_as_text,
        lambda text: "\n".join("," + line.split(",", 1)[1] if k else line
                               for k, line in enumerate(text.splitlines())) + "\n",  # blank epochs
    ],
    ids=["empty", "other-columns", "no-epoch", "no-loss", "header-only", "text-value", "blank-epochs"],
)
def test_a_damaged_history_reads_as_none(
    finished_run: str, damage: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    history = (runs_dir() / finished_run / "history.csv").read_text()
    path = damaged_copy(finished_run, "history.csv", damage(history).encode())
    assert runs.get_run(DAMAGED).history() is None and store.read_history(path) == []
    assert runs.get_run(finished_run).history() is not None
    assert cli(capsys, "show", DAMAGED)[0] == 0


def test_a_diverged_epoch_keeps_its_history(finished_run: str) -> None:
    """A NaN loss is a number (training diverged): the history stays readable."""
    history = (runs_dir() / finished_run / "history.csv").read_text()
    damaged_copy(finished_run, "history.csv", _loss_as_text(history).replace("abc", "nan").encode())
    read = runs.get_run(DAMAGED).history()
    assert read is not None and math.isnan(read["loss"][0])


def test_the_parts_of_the_metrics_that_pages_draw_are_checked(finished_run: str) -> None:
    metrics = runs.get_run(finished_run).metrics()
    assert store.has_confusion_matrix(metrics) and store.has_per_class_scores(metrics)
    matrix, scores = metrics["confusion_matrix"], metrics["per_class"]
    row = len(CLASSES)
    damaged_matrices = [
        None, "7x7", [["a"] * row] * row, matrix[:-1], [counts[:-1] for counts in matrix],
        [*matrix[:-1], [-1] * row], [*matrix[:-1], [math.nan] * row], [*matrix[:-1], [True] * row],
    ]
    for damaged in damaged_matrices:
        assert not store.has_confusion_matrix({**metrics, "confusion_matrix": damaged}), damaged
    assert not store.has_confusion_matrix({k: v for k, v in metrics.items() if k != "confusion_matrix"})
    angry = scores["angry"]
    damaged_scores = [
        None, [], {k: v for k, v in scores.items() if k != "angry"}, {**scores, "angry": 0.5},
        {**scores, "angry": {**angry, "f1": "high"}}, {**scores, "angry": {**angry, "recall": 1.5}},
        {**scores, "angry": {k: v for k, v in angry.items() if k != "precision"}},
    ]
    for damaged in damaged_scores:
        assert not store.has_per_class_scores({**metrics, "per_class": damaged}), damaged
    assert not store.has_per_class_scores({k: v for k, v in metrics.items() if k != "per_class"})
    assert not store.has_confusion_matrix(None) and not store.has_per_class_scores(None)


def test_the_train_page_shows_damaged_metrics_as_dashes(finished_run: str) -> None:
    metrics = {"test_accuracy": 0.5, "train_seconds": "slow", "device": "GPU"}
    damaged_copy(finished_run, "metrics.json", json.dumps(metrics).encode())
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "streamlit_app.py"), default_timeout=120)
    at.switch_page("app_pages/train.py").run()  # details of the newest run: the copy, created at the same moment
    assert not at.exception, at.exception
    shown = {metric.label: metric.value for metric in at.metric}
    assert shown["Test accuracy"] == "0.5000" and shown["Macro recall"] == "—" and shown["Training time"] == "— s"


def test_show_prints_what_damaged_metrics_hold_and_a_dash_for_the_rest(
    finished_run: str, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = {"test_accuracy": 0.5, "train_accuracy": "high", "train_seconds": "slow", "device": "GPU"}
    damaged_copy(finished_run, "metrics.json", json.dumps(metrics).encode())
    row = runs.runs_table(runs.list_runs()).set_index("run").loc[DAMAGED]
    assert row["test accuracy"] == 0.5 and math.isnan(row["train seconds"])
    status, out, _ = cli(capsys, "show", DAMAGED)
    assert status == 0
    assert "test accuracy 0.5000 (—, — images), macro precision —, macro recall —, train accuracy —" in out
    assert "— s training (— img/s) on GPU" in out

    (runs_dir() / DAMAGED / "metrics.json").write_text("[1, 2]")
    status, out, _ = cli(capsys, "show", DAMAGED)
    assert status == 0 and "metrics unreadable" in out


def test_seed_spread_skips_values_that_are_not_numbers(finished_run: str) -> None:
    loss = runs.get_run(finished_run).metrics()["test_loss"]
    repeat = copy_run(finished_run, "seed43", config={"seed": 43}, metrics={"test_loss": "n/a", "f1_macro": None})
    finished = runs.comparable_runs()
    assert {run.run_id for run in finished.values()} == {finished_run, repeat}
    (row,) = compare.seed_table(finished, compare.group_runs(finished)).to_dict("records")
    assert row["runs"] == 2 and row["test loss"] == f"{loss:.4f}"


@pytest.mark.parametrize("command", ["show", "cancel", "delete", "resume"])
def test_a_run_id_too_long_for_a_file_name_is_a_clear_error(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cli(capsys, command, "a" * 300)
    assert status == 2 and err.startswith("error: no run named") and len(err) < 200


def test_run_ids_are_folder_names_of_this_runs_folder(finished_run: str) -> None:
    for name in ("..", ".", "a" * 201, f"{finished_run}\n", f"../runs/{finished_run}"):
        assert not store.RUN_ID.fullmatch(name)
    assert store.RUN_ID.fullmatch(finished_run) and store.RUN_ID.fullmatch("a" * 200)


def test_a_final_state_removes_a_cancel_request_that_came_too_late(
    finished_run: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fer import train

    def finish_despite_a_late_cancel(path: Path, on_status: object = None, callbacks: object = None) -> str:
        (path / "cancel").touch()  # asked while the run was finishing: too late to stop it
        store.write_status(path, state="completed")
        return "completed"

    monkeypatch.setattr(train, "run_training", finish_despite_a_late_cancel)
    run = runs.create_run(runs.get_run(finished_run).config)
    assert runs.execute(run.run_id) == "completed"
    assert not (run.path / "cancel").exists()

    cancelled = runs.create_run(runs.get_run(finished_run).config)
    (cancelled.path / "cancel").touch()
    assert runs.execute(cancelled.run_id) == "cancelled"
    assert not (cancelled.path / "cancel").exists() and runs.get_run(cancelled.run_id).state == "cancelled"


@pytest.mark.parametrize("damage", [b"{", b"[]", b"[" * 100_000, b"\xff"])
def test_a_status_damaged_while_training_is_written_again_and_the_run_goes_on(
    finished_run: str, damage: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fer import train

    def damaged_mid_run(path: Path, on_status: object = None, callbacks: object = None) -> str:
        store.write_status(path, state="running", message="epoch 1/2")
        (path / "status.json").write_bytes(damage)  # an edit, or a tool, spoils it mid-run
        store.write_status(path, state="completed", message="completed after 2/2 epochs")
        return "completed"

    monkeypatch.setattr(train, "run_training", damaged_mid_run)
    run = runs.create_run(runs.get_run(finished_run).config)
    assert runs.execute(run.run_id) == "completed"
    assert store.read_status(run.path)["message"] == "completed after 2/2 epochs"


@pytest.mark.parametrize("name", ["metrics.json", "history.csv", "status.json"])
def test_a_run_file_too_large_to_be_ours_is_not_read(
    finished_run: str, name: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("fer.paths.MAX_STATE_FILE_BYTES", 4096)  # the real limit, 64 MiB, lowered
    # The run's own file, still valid, padded past the limit: refused for its size alone.
    padding = b"\n" * 4097 if name == "history.csv" else b" " * 4097
    damaged_copy(finished_run, name, (runs_dir() / finished_run / name).read_bytes() + padding)
    damaged = runs.get_run(DAMAGED)
    if name == "status.json":
        assert damaged.state == "unreadable" and "more than a run file can be" in damaged.status["error"]
    else:
        assert damaged.state == "completed" and (damaged.metrics() is None or damaged.history() is None)
    assert runs.get_run(finished_run).history() is not None
    assert cli(capsys, "runs")[0] == 0 and cli(capsys, "show", DAMAGED)[0] == 0
