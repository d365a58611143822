"""Which models the Classify page can use.

Loading and running a model is :mod:`fer.inference`; this module chooses among the saved ones.
A model that can't be loaded is never offered: files that are not Keras archives are found
without Keras (a few milliseconds per model), and a model that fails when it is loaded is
remembered as broken for as long as its file stays the same. Listing models never imports
Keras, so the Classify page renders instantly until a photo needs a model.
"""

from __future__ import annotations

import contextlib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fer import runs, store
from fer.errors import FerError
from fer.inference import load_classifier

if TYPE_CHECKING:
    import keras

HAPPY_PRIVATE_TEST, PRIVATE_TEST_FACES = 879, 3_589
MAJORITY_BASELINE = (
    f"{HAPPY_PRIVATE_TEST / PRIVATE_TEST_FACES:.1%} right on FER2013's PrivateTest, where "
    f"{HAPPY_PRIVATE_TEST:,} of its {PRIVATE_TEST_FACES:,} faces are happy"
)
"""What always answering the most common emotion scores: the floor a weak model is measured
against. Chance (1 in 7) would be the wrong one: FER2013's classes are far from equal, so a
model that learnt only the class sizes already beats it."""
_WEIGHTS_FILES = ("model.weights.h5", "model.weights.npz")  # what Keras 3 stores a model's weights as
_LOAD_FAILURES: dict[tuple[str, int, int], str] = {}
"""Why a model file failed to load, by (path, mtime, size): a replaced file is tried again."""


@dataclass(frozen=True)
class ModelChoice:
    """A model the Classify page can use: a finished run of this machine, or a committed
    reference run that ships its model (the project's default model)."""

    label: str
    path: Path
    name: str = ""  # the run's short name, e.g. "S2 VGG19"
    data: str = ""  # "sample" or "full": what the model was trained on
    test_accuracy: float | None = None
    test_split: str = ""  # which images test_accuracy was measured on
    run_id: str = ""
    reference: bool = False  # committed with the project rather than trained here
    flip_tta: bool = False  # the run's own setting: its test accuracy averaged each face with its mirror image


def available_models() -> list[ModelChoice]:
    """Models of completed runs and of committed reference runs that can be loaded, in
    :func:`_rank` order: models trained on the full FER2013 first, then best test accuracy."""
    return [choice for choice, problem in _model_choices() if not problem]


def default_model(choices: list[ModelChoice]) -> ModelChoice | None:
    """The model a page should start with: the user's own best run trained on the full FER2013,
    else the best reference model, else the best of the rest (None when there is none).

    Only full-data runs compete: their test accuracies are all measured on FER2013's test
    faces (all 7,178, or the 3,589 PrivateTest ones under the standard protocol), while a run
    on the shipped sample is measured on a few hundred sample faces, a number not comparable
    with those. A run the user trained on the full data is taken over the shipped reference:
    it is the model they made for this, and the list offers the reference beside it.
    """
    own_full = [choice for choice in choices if not choice.reference and choice.data == "full"]
    references = [choice for choice in choices if choice.reference]
    preference = own_full or references or choices
    return max(preference, key=lambda choice: choice.test_accuracy or 0.0) if preference else None


def choose_model(run_id: str | None = None) -> ModelChoice:
    """The model of completed run ``run_id`` (this machine's or a reference run), or with None
    the one a page starts with (:func:`default_model`). Raises FerError saying why there is none."""
    choices = _model_choices()
    if run_id is None:
        choice = default_model([choice for choice, problem in choices if not problem])
        if choice is None:
            raise FerError(
                "there is no trained model to classify with: train one, e.g. `python -m fer train --scenario custom "
                "--arch fer_cnn --protocol standard --data full` on the imported FER2013"
            )
        return choice
    for choice, problem in choices:
        if choice.run_id == run_id:
            if problem:
                raise FerError(f"the model of run {run_id} can't be used: {problem}")
            return choice
    raise FerError(f"{run_id!r} is no completed run with a saved model: `python -m fer runs` lists the runs")


def broken_models() -> list[tuple[ModelChoice, str]]:
    """Models of completed runs that can't be loaded, each with the reason, for a page to say
    why they are not offered."""
    return [(choice, problem) for choice, problem in _model_choices() if problem]


def model_problem(path: Path) -> str:
    """Why the model file at ``path`` can't be used, or "" when nothing is known against it.

    Without Keras: the file must be a Keras archive with a config and weights. A file that
    failed to load before (:func:`load_choice`) keeps that failure's reason until it changes.
    """
    try:
        failure = _LOAD_FAILURES.get(_file_key(path))
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as error:
        return f"not a Keras model file ({error})"
    if failure:
        return failure
    if "config.json" not in names:
        return "not a Keras model file (no config.json in it)"
    if not names.intersection(_WEIGHTS_FILES):
        return "its weights (model.weights.h5) are missing from the file"
    return ""


def load_choice(choice: ModelChoice) -> keras.Model:
    """Load a listed model (:func:`fer.inference.load_classifier`). A failure is remembered, so
    the model is listed among :func:`broken_models` from then on, not among the available ones."""
    try:
        return load_classifier(choice.path)
    except FerError as error:
        with contextlib.suppress(OSError):  # a file deleted meanwhile is left out of the list anyway
            _LOAD_FAILURES[_file_key(choice.path)] = str(error).removeprefix(f"{choice.path}: ")
        raise


def _model_choices() -> list[tuple[ModelChoice, str]]:
    """Every completed run's model with what is wrong with it ("" when nothing), best first."""
    choices = []
    for run in [*runs.list_runs(), *store.reference_runs()]:
        metrics = run.metrics() if run.state == "completed" else None  # read once: it is a file
        if run.config is not None and run.model_path.exists() and store.has_headline_metrics(metrics):
            accuracy = float(metrics["test_accuracy"])
            origin = f"reference run {run.run_id}" if run.reference else run.run_id
            split = runs.scored_on(metrics.get("test_split"), metrics.get("dataset"))
            choice = ModelChoice(
                f"{run.config.label}, {run.config.data} data, test acc {accuracy:.3f} "
                f"({split or 'test split not recorded'}) · {origin}", run.model_path,
                name=run.config.label, data=run.config.data, test_accuracy=accuracy,
                test_split=str(metrics.get("test_split", "")), run_id=run.run_id, reference=run.reference,
                flip_tta=run.config.flip_tta,
            )
            choices.append((choice, model_problem(run.model_path)))
    return sorted(choices, key=lambda pair: _rank(pair[0]))


def _rank(choice: ModelChoice) -> tuple[bool, float]:
    """Models trained on the full FER2013 first, then best test accuracy first.

    Why: a run on the shipped sample is scored on a few hundred sample faces, and a lucky 0.9
    there says nothing against a full-data model's 0.69 on FER2013's test faces; a list sorted
    by accuracy alone would put it on top as if it were the better model.
    """
    return choice.data != "full", -(choice.test_accuracy or 0.0)


def _file_key(path: Path) -> tuple[str, int, int]:
    stat = Path(path).stat()
    return str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size
