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
from typing import TYPE_CHECKING, Any

from fer import runs, store
from fer.errors import FerError
from fer.inference import load_classifier
from fer.robustness import Robustness
from fer.robustness import stored as stored_robustness
from fer.temperature import Scaling
from fer.vocab import CLASSES

if TYPE_CHECKING:
    import keras
    import pandas as pd

HAPPY_PRIVATE_TEST, PRIVATE_TEST_FACES = 879, 3_589
MAJORITY_BASELINE = (
    f"{HAPPY_PRIVATE_TEST / PRIVATE_TEST_FACES:.1%} right on FER2013's PrivateTest, where "
    f"{HAPPY_PRIVATE_TEST:,} of its {PRIVATE_TEST_FACES:,} faces are happy"
)
"""What always answering the most common emotion scores: the floor a weak model is measured
against. Chance (1 in 7) would be the wrong one: FER2013's classes are far from equal, so a
model that learnt only the class sizes already beats it. A model is measured against its own
test images' floor where its metrics count their classes (:func:`majority_baseline`)."""
BARELY_BETTER = 0.05
"""How far above the majority baseline a model still counts as barely better: on a few hundred
test faces (the shipped sample's 296) a test accuracy's standard error is about 2.5 points, so
a gain under two of them may be luck."""
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
    test_split: str = ""  # which images test_accuracy was measured on, as metrics.json records it
    scored_on: str = ""  # the same in words, with the number of images (fer.runs.scored_on)
    majority: tuple[str, int, int] | None = None  # (most common emotion, its faces, all faces) of the test images
    run_id: str = ""
    reference: bool = False  # committed with the project rather than trained here
    tta: str = "none"  # the run's own test-time augmentation (fer.vocab.TTA), which its test accuracy was measured with
    seen: dict[str, Any] | None = None  # its test accuracy split by what it had seen in training (fer.store.seen_in_training)
    ece: float | None = None  # its expected calibration error on its test faces (fer.store.calibration)
    temperature: float = 1.0  # what its probabilities are scaled by: fitted on its validation faces, else 1
    scaled_ece: float | None = None  # its ECE on its test faces once so scaled (fer.store.temperature_scaling)
    balanced: store.BalancedAnswers | None = None  # its answers with the emotions' training shares taken out
    robustness: Robustness | None = None  # its accuracy on worse photos of its test faces, where measured

    @property
    def offers_balanced(self) -> bool:
        """Whether its balanced answers differ from its own: its run fitted them, at a strength above 0."""
        return self.balanced is not None and self.balanced.strength > 0

    def scaling(self, calibrated: bool = True, balanced: bool = False) -> Scaling:
        """What its probabilities go through before they are shown: its own answers or its
        balanced ones, each with the temperature fitted to them (``calibrated``) or none.
        Raises FerError for balanced answers it does not offer (:attr:`offers_balanced`)."""
        if not balanced:
            return Scaling(self.temperature if calibrated else 1.0)
        if self.balanced is None:
            raise FerError(
                f"{self.name} has no balanced answers: its run fitted none (only runs on the standard protocol have "
                f"the validation faces to fit them on; `python -m fer calibrate {self.run_id}` fits them for one "
                "trained before runs did)"
            )
        if not self.offers_balanced:
            raise FerError(
                f"{self.name} has no balanced answers: on its validation faces, none found the emotions better "
                "than its own answers (it learnt them in even proportions already, as an oversampled run does)"
            )
        return Scaling(self.balanced.temperature if calibrated else 1.0, self.balanced.prior)


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


def majority_baseline(choice: ModelChoice) -> tuple[str, float, str]:
    """The most common emotion, what always answering it scores, and that score in words: on
    the chosen model's own test images where its metrics count their classes, so its accuracy is
    set beside a number measured on the same faces; else on FER2013's PrivateTest
    (:data:`MAJORITY_BASELINE`)."""
    if choice.majority is None:
        return "happy", HAPPY_PRIVATE_TEST / PRIVATE_TEST_FACES, MAJORITY_BASELINE
    emotion, count, images = choice.majority
    share = count / images
    return emotion, share, f"{share:.1%} right on the same {images:,} test images, {count:,} of them {emotion}"


def compared_with_majority(accuracy: float, baseline: float) -> str:
    """``worse than``, ``no better than``, ``barely better than`` or ``better than``: how a test
    accuracy compares with always answering the most common emotion, so a warning about a weak
    model never contradicts its own numbers: both are compared as the page shows them, to 0.1%
    (24.04% against 23.96% is "24.0%" twice, so "no better than")."""
    accuracy, baseline = round(accuracy, 3), round(baseline, 3)
    if accuracy < baseline:
        return "worse than"
    if accuracy == baseline:
        return "no better than"
    return "barely better than" if accuracy < baseline + BARELY_BETTER else "better than"


def per_class_metrics(choice: ModelChoice) -> dict[str, Any] | None:
    """The chosen model's run's metrics where they hold every class's scores (the Classify page
    draws them per emotion); None for a run gone since the choice was listed, or damaged."""
    try:
        metrics = runs.get_run(choice.run_id).metrics()
    except FerError:
        return None
    return metrics if store.has_per_class_scores(metrics) else None


def balanced_effect(choice: ModelChoice) -> str:
    """What the chosen model's balanced answers changed on its test faces, in a sentence: its
    accuracy, its macro recall, and the emotions found more and less often (by a point or more).
    "" for a model without balanced answers, or whose run is gone or damaged since it was listed."""
    own = per_class_metrics(choice)
    if not choice.offers_balanced or own is None:
        return ""
    balanced = choice.balanced.metrics
    changes = sorted(
        ((balanced["per_class"][name]["recall"] - own["per_class"][name]["recall"], name) for name in CLASSES),
        reverse=True,
    )
    moved = {
        way: ", ".join(f"{name} {own['per_class'][name]['recall']:.0%} → {balanced['per_class'][name]['recall']:.0%}"
                       for change, name in (changes if sign > 0 else changes[::-1]) if sign * change >= 0.01)
        for way, sign in (("more", 1), ("less", -1))  # each from the largest change
    }
    found = "; ".join(f"found {way} often: {names}" for way, names in moved.items() if names)
    return (
        f"Balanced, on its {choice.scored_on or 'test faces'}: accuracy {own['test_accuracy']:.1%} → "
        f"{balanced['test_accuracy']:.1%}, emotions found {own['recall_macro']:.1%} → {balanced['recall_macro']:.1%} "
        f"of the time on average (macro recall)" + (f"; {found}." if found else ".")
    )


ANSWERED_BY_COLUMNS = ("model", "tta", "temperature", "balanced_strength")
"""The columns :func:`results_csv` adds to every row: how the probabilities in it were made."""


def results_csv(table: pd.DataFrame, choice: ModelChoice, tta: str, scaling: Scaling) -> str:
    """``table`` (a photo's faces or a video's timeline) as CSV, each row also naming how its
    answers were made (:data:`ANSWERED_BY_COLUMNS`): the run whose model gave them, the test-time
    views averaged, the temperature and the balanced answers' strength (0: the model's own answers).

    The same face reads 60% sad calibrated and 70% uncalibrated, happy or neutral balanced or not:
    a CSV opened next month, or two of them compared, must say which it holds. Columns rather
    than a comment line, because every CSV reader keeps columns and many choke on comments."""
    strength = choice.balanced.strength if scaling.prior is not None and choice.balanced is not None else 0.0
    answered_by = {"model": choice.run_id, "tta": tta, "temperature": scaling.temperature, "balanced_strength": strength}
    return table.assign(**answered_by).to_csv(index=False)


def trust_warning(choice: ModelChoice) -> str:
    """Why the chosen model's answers are not to be taken as emotions, or "" when nothing speaks
    against them: a model trained on the shipped sample is a check of the pipeline whatever its
    score, and any model at most barely better than the majority baseline learnt little beyond
    the class sizes."""
    emotion, baseline, scores = majority_baseline(choice)
    accuracy = choice.test_accuracy
    compared = "" if accuracy is None else compared_with_majority(accuracy, baseline)
    floor = f"always answering the most common emotion, {emotion} ({scores})"
    if choice.data == "sample":
        if compared == "better than":
            verdict = f"it is better than {floor}, but learnt from a few hundred faces only:"
        else:
            verdict = f"it is {compared} {floor}, so" if compared else "it learnt from a few hundred faces only:"
        return (
            f"This model was trained on the small shipped sample: {verdict} treat its answers as a demonstration "
            "of the pipeline, not as emotions."
        )
    if compared and compared != "better than":
        return f"This model is {compared} {floor}: its answers say little about emotions."
    return ""


def _model_choices() -> list[tuple[ModelChoice, str]]:
    """Every completed run's model with what is wrong with it ("" when nothing), best first."""
    choices = []
    for run in [*runs.list_runs(), *store.reference_runs()]:
        metrics = run.metrics() if run.state == "completed" else None  # read once: it is a file
        if run.config is not None and run.model_path.exists() and store.has_headline_metrics(metrics):
            accuracy = float(metrics["test_accuracy"])
            origin = f"reference run {run.run_id}" if run.reference else run.run_id
            split = runs.scored_on(metrics.get("test_split"), metrics.get("dataset"))
            calibration, scaling = store.calibration(metrics), store.temperature_scaling(metrics)
            choice = ModelChoice(
                f"{run.config.label}, {run.config.data} data, test acc {accuracy:.3f} "
                f"({split or 'test split not recorded'}) · {origin}", run.model_path,
                name=run.config.label, data=run.config.data, test_accuracy=accuracy,
                test_split=str(metrics.get("test_split", "")),
                scored_on=runs.scored_on(metrics.get("test_split"), metrics.get("dataset"), metrics.get("test_images")),
                majority=_majority(metrics), run_id=run.run_id, reference=run.reference, tta=run.config.tta,
                seen=store.seen_in_training(metrics), ece=calibration[0] if calibration else None,
                temperature=scaling[0] if scaling else 1.0, scaled_ece=scaling[1] if scaling else None,
                balanced=store.balanced_answers(metrics), robustness=stored_robustness(metrics),
            )
            choices.append((choice, model_problem(run.model_path)))
    return sorted(choices, key=lambda pair: _rank(pair[0]))


def _majority(metrics: dict[str, Any]) -> tuple[str, int, int] | None:
    """(the most common emotion, its faces, all faces) among a run's test images, from the
    per-class supports of its ``metrics.json``; None where they are missing or damaged."""
    per_class = metrics.get("per_class")
    if not isinstance(per_class, dict):
        return None
    counts = [store.number(scores.get("support")) if isinstance(scores, dict) else None
              for scores in (per_class.get(name) for name in CLASSES)]
    if any(count is None or count < 0 or count != int(count) for count in counts) or not sum(counts):
        return None
    emotion, count = max(zip(CLASSES, counts), key=lambda pair: pair[1])
    return emotion, int(count), int(sum(counts))


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
