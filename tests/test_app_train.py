"""The Train page through Streamlit's AppTest, with real background runs on the shipped sample.

Runs are separate processes that import TensorFlow, so the tests keep them tiny (the compact
CNN, 1 epoch, the sample) and the teardown cancels and waits out whatever a test left running.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fer import processes, robustness, runs, sharing, store
from fer.calibrate import FITS
from fer.errors import FerError
from fer.hardware import gpu_names, keras_backend
from fer.paths import atomic_write_json, read_json
from fer.scenarios import CPU_IMAGES_PER_SECOND, scenario

from .conftest import COMMITTED_REFERENCE_DIR, REFERENCE_ID, copy_run

RUN_TIMEOUT_S = 120.0
APP = Path(__file__).resolve().parents[1] / "streamlit_app.py"


def _page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, at.exception
    return at


def _wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def _state(run_id: str) -> str:
    return runs.get_run(run_id).state


def _texts(at: AppTest) -> str:
    """Every message, markdown and caption on the page, as one string to search."""
    elements = [*at.markdown, *at.caption, *at.info, *at.success, *at.warning, *at.error]
    return "\n".join(str(element.value) for element in elements)


def _process_ended(pid: int) -> bool:
    """Whether a worker this test process started has exited (reaping it if so)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:  # already reaped, or this process itself (an in-process run)
        return True


@pytest.fixture(autouse=True)
def no_runs_left(artifacts: Path) -> Iterator[None]:
    """Cancel every run a test left queued or running and wait until its process has exited."""
    yield
    for run in runs.list_runs():
        if run.state in runs.ACTIVE:
            with contextlib.suppress(FerError):  # it may have finished since it was listed
                runs.cancel(run.run_id)
    pids = [read_json(path)["pid"] for path in (artifacts / "runs").glob("*/pid.json")]
    try:
        _wait_until(lambda: all(_process_ended(pid) for pid in pids), RUN_TIMEOUT_S, "the runs to stop")
    except AssertionError:
        for pid in pids:
            if not _process_ended(pid):
                os.killpg(pid, signal.SIGKILL)  # each worker leads its own session
        raise


def test_fresh_page_shows_compute_facts_and_no_runs() -> None:
    at = _page()
    texts = _texts(at)
    assert keras_backend() in texts
    assert (", ".join(gpu_names()) if gpu_names() else "No GPU found") in texts
    assert "No runs yet" in texts
    assert at.button(key="study_launch").disabled  # nothing chosen yet


def test_launching_a_custom_run_trains_it_in_the_background() -> None:
    at = _page()
    at.selectbox(key="custom_arch").set_value("cnn")
    at.number_input(key="custom_epochs_fer").set_value(1)
    at.selectbox(key="custom_data").set_value("sample")
    at.selectbox(key="custom_drop_copies").set_value("exact")
    at.text_input(key="custom_note").input("  quick check ")
    assert at.selectbox(key="custom_tta_fer").value == "shift"  # the recipe's
    at.selectbox(key="custom_tta_fer").set_value("flip")
    at.button(key="custom_launch").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]

    [run] = runs.list_runs()
    config = run.config
    assert (config.arch, config.epochs, config.data, config.optimizer, config.learning_rate) == ("cnn", 1, "sample", "sgd", 0.05)
    assert config.drop_copies == "exact" and config.note == "quick check" and config.label == "CNN (quick check)"
    assert config.tta == "flip"
    assert run.run_id in _texts(at)  # its details are open while it runs
    assert "It keeps training" in "\n".join(str(s.value) for s in at.success)  # one run, said of one run

    _wait_until(lambda: _state(run.run_id) not in runs.ACTIVE, RUN_TIMEOUT_S, "the run to finish")
    assert _state(run.run_id) == "completed", runs.get_run(run.run_id).status
    at.run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table.loc[table["run"] == run.run_id, "state"].item() == "completed"
    accuracy = runs.get_run(run.run_id).metrics()["test_accuracy"]
    assert {m.label: m.value for m in at.metric}["Test accuracy"] == f"{accuracy:.4f}"


def test_a_finished_run_shows_its_metrics_and_curves(finished_run: str) -> None:
    metrics = runs.get_run(finished_run).metrics()
    at = _page()
    shown = {metric.label: metric.value for metric in at.metric}
    assert shown["Test accuracy"] == f"{metrics['test_accuracy']:.4f}"
    assert shown["Macro precision"] == f"{metrics['precision_macro']:.4f}"
    assert shown["Macro recall"] == f"{metrics['recall_macro']:.4f}"
    assert shown["Training time"] == f"{metrics['train_seconds']:,.1f} s"
    assert shown["Images/s"] == f"{metrics['images_per_second']:,.0f}"
    texts = _texts(at)
    assert metrics["device"] in texts and metrics["backend"] in texts and metrics["weights"] in texts
    assert len(at.get("plotly_chart")) == 2  # loss and accuracy
    keys = {button.key for button in at.button}
    assert f"delete-{finished_run}" in keys and not keys & {f"cancel-{finished_run}", f"resume-{finished_run}"}
    assert "Fitted on its validation faces" not in texts  # the thesis protocol: nothing to fit on
    assert "On worse photos" not in texts  # not measured


def test_a_run_imported_from_another_machine_says_so_and_only_completed_runs_offer_their_zip(finished_run: str) -> None:
    archive = sharing.export_bytes(runs.get_run(finished_run))
    runs.delete(finished_run)
    sharing.import_run(io.BytesIO(archive), name="trained-on-the-gpu.fer-run.zip")
    at = _page()
    assert [button.key for button in at.download_button] == [f"download-{finished_run}"]
    assert "Import runs trained on another machine" in [expander.label for expander in at.expander]
    (caption,) = [c.value for c in at.caption if c.value.startswith("Trained elsewhere")]
    assert caption.startswith("Trained elsewhere: imported 20") and caption.endswith(" UTC from trained-on-the-gpu.fer-run.zip.")
    store.write_status(runs.get_run(finished_run).path, state="failed", error="x")
    assert not _page().download_button


def test_a_measurement_in_the_queue_is_listed_beside_the_runs(finished_run: str) -> None:
    path = runs.get_run(finished_run).path
    progress = {"fraction": 0.0, "message": "waiting for a free slot (held by run x)", "started_at": store.now(),
                "error": None, "waiting": True}
    atomic_write_json(path / store.MEASURING_PROGRESS, progress)
    processes.write_pid(path / store.MEASURING_PID, os.getpid())  # alive
    assert (f"Run `{finished_run}` waits to be measured on worse photos: waiting for a free slot (held by run x) "
            "(Classify page; it shares the queue with the training runs).") in _texts(_page())
    atomic_write_json(path / store.MEASURING_PROGRESS, {**progress, "fraction": 0.4, "message": "JPEG quality 10: …",
                                                         "waiting": False})
    assert f"Run `{finished_run}` is being measured on worse photos, 40%: JPEG quality 10: …" in _texts(_page())
    processes.write_pid(path / store.MEASURING_PID, 2**31 - 1)  # its process is gone: no longer listed
    assert "measured on worse photos" not in _texts(_page())


def test_a_finished_standard_run_says_what_it_fitted_on_its_validation_faces(finished_run: str) -> None:
    fitted = {key: read_json(COMMITTED_REFERENCE_DIR / REFERENCE_ID / "metrics.json")[key] for key in (*FITS, robustness.KEY)}
    copy_run(finished_run, "fitted", config={"protocol": "standard"}, metrics=fitted)
    (caption,) = [c.value for c in _page().caption if c.value.startswith("Fitted on its validation faces")]
    assert "Temperature 0.915, fitted on 3,589 PublicTest faces" in caption
    assert f"Balanced answers, strength 0.5 (temperature {fitted['balanced_answers']['temperature']:.3g})" in caption
    assert caption.endswith(" · ".join(runs.fit_texts(runs.get_run(f"{finished_run}-fitted").metrics())))
    # And how it held up on worse photos, as `python -m fer robustness` measured the default model.
    measured = robustness.stored(fitted)
    assert f"On worse photos of {robustness.summary(measured)} (Classify page)." in _texts(_page())
    assert "the worst, a 24-px face: 62.2% (-7.8 points)" in robustness.summary(measured)


@pytest.mark.parametrize(
    "content", ["", "foo,bar\n1,2\n", "epoch,loss,accuracy\n1,abc,0.5\n"], ids=["empty", "other-columns", "text-value"]
)
def test_a_damaged_history_shows_a_note_instead_of_curves(finished_run: str, content: str) -> None:
    (runs.get_run(finished_run).path / "history.csv").write_text(content)
    at = _page()
    assert "This run's history.csv is missing or damaged" in "\n".join(str(w.value) for w in at.warning)
    assert not at.get("plotly_chart")
    metrics = runs.get_run(finished_run).metrics()
    assert {m.label: m.value for m in at.metric}["Test accuracy"] == f"{metrics['test_accuracy']:.4f}"


def test_cancel_stops_a_running_run_and_resume_queues_it_again() -> None:
    run = runs.start(scenario("custom", arch="cnn", epochs=50, data="sample"), background=True)
    _wait_until(lambda: _state(run.run_id) == "running", RUN_TIMEOUT_S, "the run to start")
    at = _page()
    assert not [b for b in at.button if b.key == f"delete-{run.run_id}"]  # no deleting a running run
    at.button(key=f"cancel-{run.run_id}").click().run()
    assert not at.exception, at.exception
    _wait_until(lambda: _state(run.run_id) != "running", RUN_TIMEOUT_S, "the run to stop")
    assert _state(run.run_id) == "cancelled"

    at.run()
    assert "cancelled" in "\n".join(str(w.value) for w in at.warning)
    assert not [b for b in at.button if b.key == f"cancel-{run.run_id}"]
    at.button(key=f"resume-{run.run_id}").click().run()
    assert not at.exception, at.exception
    assert _state(run.run_id) in runs.ACTIVE
    assert at.button(key=f"cancel-{run.run_id}").label == "Cancel"  # offered again now that it is queued


def test_a_failed_run_shows_its_error() -> None:
    run = runs.create_run(scenario("custom", arch="cnn", epochs=1, data="sample"))
    store.write_status(run.path, state="failed", error="the disk is on fire")
    at = _page()
    assert "the disk is on fire" in "\n".join(str(e.value) for e in at.error)
    assert at.button(key=f"resume-{run.run_id}").label == "Resume"


def test_delete_asks_then_removes_the_run(finished_run: str) -> None:
    at = _page()
    assert at.button(key=f"delete-{finished_run}").label == "Delete for good"  # inside the Delete popover
    assert [run.run_id for run in runs.list_runs()] == [finished_run]  # rendering deletes nothing
    at.button(key=f"delete-{finished_run}").click().run()
    assert not at.exception, at.exception
    assert runs.list_runs() == []
    assert "No runs yet" in _texts(at)


@pytest.mark.parametrize(
    ("widget", "key", "value", "message"),
    [
        ("selectbox", "custom_weights", "imagenet", "has no ImageNet weights"),
        ("number_input", "custom_epochs_fer", 0, "epochs must be between"),
        ("number_input", "custom_batch", -4, "batch size must be between"),
    ],
)
def test_an_invalid_custom_setting_shows_an_error(widget: str, key: str, value: object, message: str) -> None:
    at = _page()
    at.selectbox(key="custom_arch").set_value("cnn")
    getattr(at, widget)(key=key).set_value(value)
    at.run()
    assert not at.exception, at.exception
    assert message in "\n".join(str(e.value) for e in at.error)
    assert at.button(key="custom_launch").disabled
    assert runs.list_runs() == []


def test_an_invalid_epochs_override_for_the_study_shows_an_error() -> None:
    at = _page()
    at.multiselect(key="study_scenarios").set_value(["S1", "S2"])
    at.number_input(key="study_epochs").set_value(0)
    at.run()
    assert "epochs must be between" in "\n".join(str(e.value) for e in at.error)
    assert at.button(key="study_launch").disabled


def test_the_recipe_sets_the_learning_rate_and_the_architecture_does_not() -> None:
    at = _page()
    assert at.selectbox(key="custom_arch").value == ("vgg19" if gpu_names() else "fer_cnn")
    at.number_input(key="custom_lr_fer").set_value(0.02).run()
    at.selectbox(key="custom_arch").set_value("cnn").run()
    assert at.number_input(key="custom_lr_fer").value == 0.02  # kept: the architecture changes nothing else
    at.selectbox(key="custom_recipe").set_value("study").run()
    assert at.number_input(key="custom_lr_study").value == 1e-4 and at.selectbox(key="custom_optimizer_study").value == "adam"


def test_seeds_launch_one_run_per_seed() -> None:
    at = _page()
    at.selectbox(key="custom_arch").set_value("cnn")
    at.number_input(key="custom_epochs_fer").set_value(1)
    at.number_input(key="custom_seeds").set_value(2)
    at.selectbox(key="custom_data").set_value("sample")
    at.button(key="custom_launch").click().run()
    assert not at.exception, at.exception
    assert sorted(run.config.seed for run in runs.list_runs()) == [42, 43]
    assert "They keep training" in "\n".join(str(s.value) for s in at.success)


def test_no_long_training_warning_for_a_quick_check_on_the_sample() -> None:
    at = _page()
    at.multiselect(key="study_scenarios").set_value(["S2"])
    at.number_input(key="study_epochs").set_value(1)
    at.selectbox(key="study_data").set_value("sample").run()
    assert not at.exception, at.exception
    assert "will take roughly" not in "\n".join(str(i.value) for i in at.info)
    at.number_input(key="study_epochs").set_value(100).run()
    if not gpu_names():  # 100 VGG19 epochs on a CPU take a while even on the sample
        assert "will take roughly" in "\n".join(str(i.value) for i in at.info)


@pytest.mark.skipif(bool(gpu_names()), reason="the time estimate is shown where runs train on the CPU")
def test_the_cpu_time_estimate_counts_the_images_balancing_adds() -> None:
    # On the sample, S2 trains on the 609 Training faces; S4 oversamples them to 7 x 152 = 1,064.
    at = _page()
    at.multiselect(key="study_scenarios").set_value(["S2", "S4"])
    at.selectbox(key="study_data").set_value("sample").run()
    assert not at.exception, at.exception
    seconds = 100 * (609 + 1_064) / CPU_IMAGES_PER_SECOND["vgg19"]
    shown = "\n".join(str(i.value) for i in at.info)
    assert f"these 2 runs, one after another, will take roughly {runs.duration(seconds)}" in shown
