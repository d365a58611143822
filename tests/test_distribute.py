"""Data-parallel training with keras.distribution on 2 virtual CPU devices (JAX), checked against
the same run on 1 device. Each run is a subprocess: the backend and the device count are fixed
when JAX starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fer.errors import FerError
from fer.scenarios import scenario

pytest.importorskip("jax", reason="JAX is not installed (requirements-dev.txt installs it for CPU)")

TOLERANCE = 0.01

TRAIN = """
import json, sys
from fer import runs
from fer.scenarios import scenario
config = scenario(
    "custom", recipe="study", arch="cnn", augment="none", learning_rate=1e-3, balance="oversample", epochs=2,
    batch_size=64, data="sample", precision="float32", devices=sys.argv[1],
)
run = runs.start(config, background=False)
print(json.dumps({"state": run.state, "error": run.status.get("error"), "metrics": run.metrics()}))
"""


def train_on(devices: list[str], artifacts: Path) -> list[dict]:
    """Train the run on each number of ``devices``, in processes side by side (most of each is
    JAX starting and compiling, on one core); each run's outcome."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    started = [
        subprocess.Popen([sys.executable, "-c", TRAIN, count], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env={**env, "FER_ARTIFACTS": str(artifacts / count)})
        for count in devices
    ]
    outcomes = []
    try:
        for process in started:
            out, err = process.communicate(timeout=600)
            assert process.returncode == 0, err[-3000:]
            outcomes.append(json.loads(out.strip().splitlines()[-1]))
    finally:  # one failed: the other must not go on training beside the tests that follow
        for process in started:
            process.kill()
            process.wait()
    return outcomes


@pytest.mark.slow
def test_two_devices_train_the_same_run_as_one(artifacts: Path) -> None:
    one, two = train_on(["1", "2"], artifacts)
    assert one["state"] == two["state"] == "completed", (one["error"], two["error"])
    assert len(one["metrics"]["devices"]) == 1 and len(set(two["metrics"]["devices"])) == 2
    assert (two["metrics"]["global_batch"], two["metrics"]["per_device_batch"]) == (64, 32)
    # The same seed, the same images in the same order (an even count: oversampled to 7 x 152,
    # the largest class) and the same global batch: the step is the same computation, sharded, so
    # the results agree up to float32 summation order.
    assert two["metrics"]["train_images"] == one["metrics"]["train_images"]
    assert two["metrics"]["test_loss"] == pytest.approx(one["metrics"]["test_loss"], rel=TOLERANCE)
    assert two["metrics"]["test_accuracy"] == pytest.approx(one["metrics"]["test_accuracy"], abs=TOLERANCE)


def test_devices_setting_is_checked() -> None:
    assert scenario("custom", arch="cnn", devices=2).devices == "2"
    assert scenario("custom", arch="cnn", devices="all").device_count(4) == 4
    with pytest.raises(FerError, match="devices must be"):
        scenario("custom", arch="cnn", devices="two")


def test_several_devices_on_tensorflow_say_what_to_do() -> None:
    import keras

    from fer.distribute import data_parallel

    if keras.backend.backend() != "tensorflow":
        pytest.skip("checks the TensorFlow backend's refusal")
    with pytest.raises(FerError, match="JAX backend"), data_parallel(scenario("custom", arch="cnn", devices="2")):
        pass


def test_several_devices_without_jax_are_refused_before_a_run_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    from fer import runs
    from fer.paths import runs_dir

    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    with pytest.raises(FerError, match="training on 2 devices needs Keras' JAX backend .* not tensorflow"):
        runs.create_run(scenario("custom", arch="cnn", data="sample", devices="2"))
    assert not list(runs_dir().iterdir())  # no run folder left to fail later, one per seed
    assert runs.create_run(scenario("custom", arch="cnn", data="sample", devices="all")).config.devices == "all"  # 1 here
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert runs.create_run(scenario("custom", arch="cnn", data="sample", devices="2")).state == "queued"
