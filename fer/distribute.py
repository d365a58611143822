"""Training one run on several devices with Keras' own data-parallel engine.

``keras.distribution.DataParallel`` replicates the model on a 1-D mesh of devices and splits
each global batch between them; ``model.fit`` works unchanged inside its scope. It is Keras'
JAX path: on TensorFlow a run asking for several devices is refused with what to do. Across machines, the same run is started
on every host after ``keras.distribution.initialize`` (see the README), and the mesh then holds
every host's devices.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

import keras

from fer.errors import FerError
from fer.hardware import check_devices_backend
from fer.scenarios import RunConfig


@contextmanager
def data_parallel(config: RunConfig) -> Iterator[list[str]]:
    """Train on the devices asked for within the block; yield their names.

    One device needs no distribution. Several need the JAX backend, that many devices, and a
    global batch that splits evenly between them; each is a clear error otherwise.
    """
    _join_hosts()
    available = keras.distribution.list_devices()
    wanted = config.device_count(len(available))
    if wanted == 1:
        yield available[:1]
        return
    check_devices_backend(wanted, keras.backend.backend())
    if wanted > len(available):
        raise FerError(f"{wanted} devices asked for, but this machine has {len(available)}: {', '.join(available)}")
    if config.batch_size % wanted:
        raise FerError(f"the batch size {config.batch_size} must divide by the {wanted} devices: each gets an equal share")
    with keras.distribution.DataParallel(devices=available[:wanted]).scope():
        yield available[:wanted]


@functools.cache
def _join_hosts() -> None:
    """Join the other hosts of a multi-host run, once per process, when the
    ``KERAS_DISTRIBUTION_*`` variables describe one (every host runs the same command)."""
    if os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1") not in ("", "1"):
        keras.distribution.initialize()
