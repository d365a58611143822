"""What a standard-protocol run fits on its validation faces once trained: the temperature that
makes its probabilities honest (:mod:`fer.temperature`) and its balanced answers (:mod:`fer.priors`).

Both are fitted on the validation split (PublicTest), which the run neither trained nor was
tested on, and scored on its test faces, so its test numbers still measure how well they work.
:func:`validation_fits` ends every standard-protocol run (:func:`fer.train.train`);
:func:`calibrate_run` fits them again for a finished run from its model file, for a run trained
before runs kept them (``python -m fer calibrate RUN``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from fer.balance import learnt_shares
from fer.copies import training_faces
from fer.data import load_dataset
from fer.dataset import STANDARD_USAGES, FaceDataset, protocol_splits
from fer.errors import FerError
from fer.evaluate import balanced_answers, fingerprint, temperature_scaling
from fer.inference import classify_faces, load_classifier
from fer.store import Run, has_headline_metrics, write_metrics
from fer.vocab import DATASETS

if TYPE_CHECKING:
    import keras

FITS = ("temperature_scaling", "balanced_answers")
"""The keys :func:`validation_fits` adds to a run's ``metrics.json``."""


def validation_fits(
    model: keras.Model,
    dataset: FaceDataset,
    splits: dict[str, np.ndarray],
    probabilities: np.ndarray,
    tta: str,
    shares: np.ndarray,
) -> dict[str, Any]:
    """:func:`fer.evaluate.temperature_scaling` and :func:`fer.evaluate.balanced_answers` of a
    standard-protocol run's saved ``model``, whose test faces' ``probabilities`` (with ``tta``)
    are given, and which learnt the emotions in the proportions ``shares``
    (:func:`fer.balance.learnt_shares`). Its validation faces are classified once, for both."""
    validation, test = splits["validation"], splits["test"]
    scored = (dataset.labels[validation], classify_faces(model, dataset.images[validation], tta=tta),
              dataset.labels[test], probabilities)
    fitted_on = STANDARD_USAGES["validation"]
    return {
        "temperature_scaling": temperature_scaling(*scored, fitted_on=fitted_on),
        "balanced_answers": balanced_answers(*scored, shares, fitted_on=fitted_on),
    }


def calibrate_run(run: Run, progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """Fit :func:`validation_fits` again for a completed standard-protocol run that kept its
    model, on the FER2013 it was trained on, and write them into its ``metrics.json`` (its other
    metrics, and its probabilities, stay as they are); return them. ``progress(fraction, message)``
    hears of each of its two passes over faces (for FER2013's 3,589 and shift TTA, about 45 s each
    on a 2-core CPU).

    Raises FerError for a run that can't have them: not completed, trained on the thesis
    protocol (no validation faces: its test faces were its only held-out ones), without a model
    file, or scored on other test faces than those imported now (another import of FER2013).
    """
    metrics = run.metrics() if run.state == "completed" else None
    if run.config is None or not has_headline_metrics(metrics):
        raise FerError(f"{run.display_name} has not completed with results: there is nothing to calibrate")
    config = run.config
    if config.protocol != "standard":
        raise FerError(
            f"{run.display_name} was trained on the {config.protocol} protocol, whose test faces were its only "
            "held-out faces: it has no validation faces to fit on"
        )
    if not run.model_path.exists():
        raise FerError(f"{run.display_name} kept no model file: there is no model to calibrate")
    dataset = load_dataset(config.data)
    splits = protocol_splits(dataset, config.protocol)
    test = splits["test"]
    # The check fer.compare.scored_faces makes, written here: compare imports fer.study, which
    # imports fer.runs, which starts fer.train, which imports this module (tests/test_structure.py).
    if metrics.get("test_set") != fingerprint(dataset.images[test], dataset.labels[test]):
        raise FerError(
            f"{run.display_name} was scored on other test faces than those of {DATASETS[config.data]} here now "
            "(FER2013 imported again, from another source, since): import the data it was trained on again"
        )
    model = load_classifier(run.model_path)
    shares = learnt_shares(dataset.labels[training_faces(dataset, splits, config.drop_copies)], config.balance)
    report = progress or (lambda fraction, message: None)
    report(0.0, f"classifying its {len(test):,} test faces ({config.tta} TTA)")
    probabilities = classify_faces(model, dataset.images[test], tta=config.tta)
    report(0.5, f"classifying its {len(splits['validation']):,} validation faces and fitting")
    fits = validation_fits(model, dataset, splits, probabilities, config.tta, shares)
    write_metrics(run.path, metrics | fits)
    report(1.0, "fitted")
    return fits
