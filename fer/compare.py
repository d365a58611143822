"""Comparing runs beyond their headline numbers: is a difference real (paired significance on the
same test images), how much of a score came from test faces the run had trained on (exact
copies of Training faces), what differs between the runs (their settings side by side), and how
far the seed alone moves a result (repeats grouped, mean ± standard deviation).

Experiment trackers show curves and numbers; none of them can tell whether run B beat run A
by more than chance, because they do not know which test images each run got right. The runs
here keep their test-set probabilities and a fingerprint of the test images, which is enough.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from fer import copies, evaluate, store, study
from fer.data import load_dataset
from fer.dataset import FaceDataset, protocol_splits
from fer.errors import FerError
from fer.paths import dataset_cache_path
from fer.significance import PairedComparison, paired_columns, paired_comparison, paired_emotions
from fer.store import Run, creation_order, number
from fer.temperature import tempered
from fer.vocab import ARCHITECTURE_NAMES, CLASSES

EMPTY = "—"
"""What a table shows where a run has no value."""

SETTINGS: dict[str, str] = {
    "scenario": "scenario",
    "note": "note",
    "arch": "architecture",
    "balance": "balancing",
    "augment": "augmentation",
    "batch_size": "batch size",
    "learning_rate": "learning rate",
    "optimizer": "optimizer",
    "schedule": "schedule",
    "weight_decay": "weight decay",
    "label_smoothing": "label smoothing",
    "tta": "test-time augmentation",
    "epochs": "epochs",
    "early_stopping": "early stopping",
    "drop_copies": "held-out copies dropped",
    "input_size": "input size (px)",
    "weights": "weights",
    "precision": "numeric precision",
    "devices": "devices",
    "protocol": "protocol",
    "data": "data",
    "seed": "seed",
}
"""Every :class:`~fer.scenarios.RunConfig` field with its column label, in display order."""

MACHINE: dict[str, str] = {"backend": "backend", "device": "device"}
"""Where the run trained, from its ``metrics.json``: settings too, though not chosen in the config."""

SEED_METRICS: dict[str, str] = {
    "test_accuracy": "test accuracy",
    "precision_macro": "precision (macro)",
    "recall_macro": "recall (macro)",
    "f1_macro": "F1 (macro)",
    "test_loss": "test loss",
    "train_accuracy": "train accuracy",
    "train_seconds": "train seconds",
}
"""The ``metrics.json`` numbers summarised over a group of seeds, with their column labels."""

DatasetLoader = Callable[[str], FaceDataset]
T = TypeVar("T")


# --------------------------------------------------------------------------------------------
# Paired significance


def paired_runs(a: Run, b: Run, load: DatasetLoader = load_dataset) -> PairedComparison:
    """Run B against run A, image by image, on the test images both were evaluated on.

    ``load`` gives a dataset by name (``sample`` or ``full``) for runs that kept no test labels;
    the dashboard passes its cached loader. Raises :class:`FerError` when the runs can't be
    paired: different or unrecorded test sets, no kept probabilities, or test labels neither kept
    nor available.
    """
    _, correct_a, correct_b = _paired_answers(a, b, load)
    return paired_comparison(correct_a, correct_b)


def paired_by_emotion(a: Run, b: Run, load: DatasetLoader = load_dataset) -> dict[str, PairedComparison]:
    """Run B against run A emotion by emotion: on each class's test images alone, B − A paired
    (:func:`fer.significance.paired_comparison`; its accuracies are then the two runs' recalls),
    by emotion, for each emotion with test images. Raises FerError as :func:`paired_runs`.

    Why: a change can trade one emotion for another at the same overall accuracy (oversampling
    bought disgust recall with accuracy elsewhere), and only a paired test on the same faces sees
    a few points' difference in one class. Seven tests at once: at 5% each, about one pair of
    equally good runs in three shows a "significant" emotion by chance.
    """
    return paired_emotions(*_paired_answers(a, b, load))


def balanced_against_own(
    run: Run, load: DatasetLoader = load_dataset
) -> tuple[PairedComparison, dict[str, PairedComparison]]:
    """The run's balanced answers (B: :func:`fer.store.balanced_answers`) against its own (A) on
    its test faces, paired, overall and as :func:`paired_by_emotion` does it, from its kept test
    probabilities. Raises FerError for a run without balanced answers, and as :func:`paired_runs`.

    Why: balanced answers trade the common emotions' recall for the rare ones'; whether an
    emotion really gained or lost is a paired question, which bars with whiskers of their own
    can't answer. A reference run keeps its probabilities in steps of 1/255, so a face or two
    near a tie may answer otherwise than the run's own ``balanced_answers`` scores say.
    """
    fitted = store.balanced_answers(run.metrics())
    if fitted is None:
        raise FerError(f"{run.display_name} has no balanced answers: its run fitted none")
    labels = test_labels(run, load)
    probabilities = _probabilities(run, labels)
    own = probabilities.argmax(axis=1) == labels
    balanced = tempered(probabilities, 1.0, fitted.prior).argmax(axis=1) == labels  # a temperature keeps the answers
    return paired_comparison(own, balanced), paired_emotions(labels, own, balanced)


def paired_emotion_table(paired: Mapping[str, PairedComparison]) -> pd.DataFrame:
    """:func:`paired_by_emotion` as a table, one row per emotion, in :func:`study_comparisons`' columns."""
    return pd.DataFrame([
        {
            "emotion": emotion,
            "test faces": result.n,
            "recall A": result.accuracy_a,
            "recall B": result.accuracy_b,
            **paired_columns(result),
        }
        for emotion, result in paired.items()
    ])


def _paired_answers(a: Run, b: Run, load: DatasetLoader) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The test labels both runs were scored on, and per image whether A and whether B was right."""
    if _test_set(a) != _test_set(b):
        raise FerError(
            f"{a.display_name} ({_test_images(a.metrics() or {})}) and {b.display_name} "
            f"({_test_images(b.metrics() or {})}) were evaluated on different test images: a paired comparison "
            "needs the same ones"
        )
    labels = test_labels(a, load)
    return labels, _correct(a, labels), _correct(b, labels)


@dataclass(frozen=True)
class StudyPair:
    """One of the study's comparisons (:data:`fer.study.STUDY_COMPARISONS`) asked of two of this
    project's runs: ``run_b`` (scenario ``b``) against ``run_a`` (scenario ``a``)."""

    question: str
    a: str
    b: str
    run_a: Run
    run_b: Run

    @property
    def label(self) -> str:
        """``oversampling, VGG19 (S4 − S2)``."""
        return f"{self.question} ({self.b} − {self.a})"


def study_pairs(runs: Mapping[str, Run]) -> tuple[list[StudyPair], list[str]]:
    """The study's comparisons that ``runs`` can answer: for each whose two scenarios both have a
    run scored like the study, the first run of each (:func:`fer.runs.comparable_runs` lists the
    newest first); and, for each comparison still lacking a run, which."""
    like: dict[str, Run] = {}
    for run in runs.values():
        metrics = run.metrics() or {}
        scenario = metrics.get("scenario")
        if scenario in study.STUDY_TABLE.index and not study.study_mismatch(metrics):
            like.setdefault(scenario, run)
    pairs, waiting = [], []
    for question, a, b in study.STUDY_COMPARISONS:
        absent = [scenario for scenario in (a, b) if scenario not in like]
        if absent:
            waiting.append(f"{question} ({b} − {a}): no run of {' nor '.join(absent)} scored like the study yet")
        else:
            pairs.append(StudyPair(question, a, b, like[a], like[b]))
    return pairs, waiting


def study_comparisons(
    runs: Mapping[str, Run], load: DatasetLoader = load_dataset
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """The study's comparisons asked of this project's runs (:func:`study_pairs`): B − A paired on
    the same 7,178 test images (:func:`paired_runs`), beside the study's own difference. Also, for
    each comparison not made, why: in one list those still lacking a run, in another those whose
    runs can't be paired (different test images, say).

    Why: the study's numbers cannot say whether oversampling helps, since its differences are
    within its test set's noise and can only be tested unpaired; two runs answering the same
    images can be tested far more sharply.
    """
    pairs, waiting = study_pairs(runs)
    rows, unpaired = [], []
    for pair in pairs:
        try:
            paired = paired_runs(pair.run_a, pair.run_b, load)
        except FerError as error:
            unpaired.append(f"{pair.label}: {error}")
            continue
        theirs = study.STUDY_TABLE.loc[pair.b, "test_accuracy"] - study.STUDY_TABLE.loc[pair.a, "test_accuracy"]
        rows.append({
            "comparison": pair.question,
            "difference": f"{pair.b} − {pair.a}",
            **paired_columns(paired),
            "study (points)": round(theirs * 100, 2),
            "runs": f"{pair.run_b.display_name} against {pair.run_a.display_name}",
        })
    return pd.DataFrame(rows), waiting, unpaired


def test_labels(run: Run, load: DatasetLoader = load_dataset) -> np.ndarray:
    """The true classes of the test images ``run`` was scored on, in its probabilities' order: as
    the run keeps them (``test_labels.npz``), or from the dataset (:func:`scored_faces`) for a run
    trained before runs kept them.

    Why kept: the paired tests of the committed reference runs, the study's scenarios among them,
    then need no FER2013 import, which a fresh clone lacks; showing the faces still does.
    """
    kept = run.test_labels()
    if kept is not None:
        return kept
    dataset, test = scored_faces(run, load)
    return dataset.labels[test]


def scored_faces(run: Run, load: DatasetLoader = load_dataset) -> tuple[FaceDataset, np.ndarray]:
    """The dataset ``run`` was evaluated on and its test images' indices there, in evaluation order.

    They are recomputed from the run's data and protocol, and the fingerprint the run recorded
    proves they are the images and labels it was scored on (a dataset imported again from
    another source would not match).
    """
    fingerprint = _test_set(run)
    if run.config is None:
        raise FerError(f"{run.display_name}: its config can't be read, so its test images are unknown")
    if run.config.data == "full" and not dataset_cache_path().exists():
        raise FerError(
            f"{run.display_name} was evaluated on the imported FER2013, which this machine does not have: "
            "import it (Dataset page, or `python -m fer data import SOURCE`) to look at its predictions face by face"
        )
    dataset = load(run.config.data)
    test = protocol_splits(dataset, run.config.protocol)["test"]
    if evaluate.fingerprint(dataset.images[test], dataset.labels[test]) != fingerprint:
        raise FerError(
            f"the {run.config.protocol} test images of {dataset.source} are not the ones {run.display_name} "
            "was evaluated on (the dataset was imported again since?): its predictions can't be matched to them"
        )
    return dataset, test


def _test_set(run: Run) -> str:
    """The fingerprint of the test images ``run`` was evaluated on; why there is none, as a :class:`FerError`."""
    recorded = (run.metrics() or {}).get("test_set")
    if recorded is None:
        raise FerError(
            f"{run.display_name} did not record which test images it was evaluated on (runs before that "
            "was recorded): its predictions can't be matched to test faces; train it again to compare"
        )
    return recorded


def _test_images(metrics: dict[str, Any]) -> str:
    """``sample, thesis: 296 test images``: where a run's test images came from."""
    return f"{metrics.get('dataset', '?')}, {metrics.get('protocol', '?')}: {metrics.get('test_images', '?')} test images"


def _correct(run: Run, labels: np.ndarray) -> np.ndarray:
    """Per test image, whether the run's top class is the true one."""
    return _probabilities(run, labels).argmax(axis=1) == labels


def _probabilities(run: Run, labels: np.ndarray) -> np.ndarray:
    """The run's kept test-set probabilities, one row per test image of ``labels``."""
    probabilities = run.probabilities()
    if probabilities is None:
        raise FerError(
            f"{run.display_name} did not keep its test-set probabilities (probabilities.npz): "
            "train it again to compare it image by image"
        )
    if len(probabilities) != len(labels):
        raise FerError(
            f"{run.display_name}: probabilities.npz holds {len(probabilities)} predictions for "
            f"{len(labels)} test images: the file is damaged"
        )
    return probabilities


def _each_run(runs: Mapping[str, Run], work: Callable[[Run], T]) -> tuple[dict[str, T], dict[str, str]]:
    """``work`` done on each run, by display name, and for each run it can't be done on (a
    FerError), why: one run's missing or damaged file must not hide the others."""
    done, reasons = {}, {}
    for name, run in runs.items():
        try:
            done[name] = work(run)
        except FerError as error:
            reasons[name] = str(error)
    return done, reasons


# --------------------------------------------------------------------------------------------
# Test faces seen in training

SEEN_COLUMNS: dict[str, str] = {
    "test_images": "test images",
    "copies": "copies",
    "near_copies": "near copies",
    "accuracy_others": "accuracy on the others",
    "accuracy_copies": "on copies",
    "accuracy_near": "on near copies",
}
"""The columns of :func:`seen_in_training_table` after ``run``, by key, with their labels."""


def seen_in_training_table(
    runs: Mapping[str, Run], load: DatasetLoader = load_dataset
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Each run's test accuracy split three ways (:func:`fer.copies.seen_in_training`): on the
    test faces that are exact copies of faces the run trained on (none for a run that dropped
    them), on those that are near copies of them, and on the others.

    Each row is :func:`run_seen_in_training`. Returns the table (one row per run that can be
    split, by display name; a group with no faces leaves its accuracy empty) and, for each run
    that can't, why (as :func:`paired_runs`).
    """
    splits, reasons = _each_run(runs, lambda run: run_seen_in_training(run, load))
    table = pd.DataFrame([{"run": name, **split} for name, split in splits.items()], columns=["run", *SEEN_COLUMNS])
    accuracies = [key for key in SEEN_COLUMNS if key.startswith("accuracy")]
    table[accuracies] = table[accuracies].astype(float)  # None (a group with no faces) as NaN
    return table.rename(columns=SEEN_COLUMNS), reasons


def run_seen_in_training(run: Run, load: DatasetLoader = load_dataset) -> dict[str, int | float | None]:
    """``run``'s :func:`fer.copies.seen_in_training`: as its metrics keep it, or, for a run trained
    before runs kept it, worked out from its probabilities and the dataset (``load``). Raises
    FerError saying why it can't be (no kept probabilities, FER2013 not imported here, ...)."""
    if kept := store.seen_in_training(run.metrics()):
        return kept
    dataset, test = scored_faces(run, load)
    correct = _correct(run, dataset.labels[test])
    trained = copies.training_faces(dataset, protocol_splits(dataset, run.config.protocol), run.config.drop_copies)
    return copies.seen_in_training(dataset, test, trained, correct)


# --------------------------------------------------------------------------------------------
# Calibration


def calibration_curves(
    runs: Mapping[str, Run], load: DatasetLoader = load_dataset
) -> tuple[dict[str, tuple[float, list[dict[str, Any]]]], dict[str, str]]:
    """Each run's expected calibration error and reliability bins (:func:`run_calibration`), by
    display name, and for each run that has none, why."""
    return _each_run(runs, lambda run: run_calibration(run, load))


def run_calibration(run: Run, load: DatasetLoader = load_dataset) -> tuple[float, list[dict[str, Any]]]:
    """``run``'s :func:`fer.evaluate.calibration`: as its metrics keep it, or, for a run scored
    before runs kept it, worked out from its probabilities and the dataset (``load``). Raises
    FerError saying why it can't be."""
    if kept := store.calibration(run.metrics()):
        return kept
    labels = test_labels(run, load)
    worked_out = evaluate.calibration(labels, _probabilities(run, labels))
    return worked_out["ece"], worked_out["reliability"]


def scaled_calibration(runs: Mapping[str, Run]) -> dict[str, tuple[float, float, list[dict[str, Any]]]]:
    """Each run's temperature and its test faces' ECE and reliability bins once scaled by it
    (:func:`fer.store.temperature_scaling`), by display name, for the runs that fitted one: the
    probabilities the Classify page shows."""
    scaled = {name: store.temperature_scaling(run.metrics()) for name, run in runs.items()}
    return {name: scaling for name, scaling in scaled.items() if scaling}


# --------------------------------------------------------------------------------------------
# The faces behind a confusion

CONFUSED_FACES = 40
"""Most faces :func:`confused_faces` returns: enough to see what a confusion looks like."""


@dataclass(frozen=True)
class ConfusedFaces:
    """A run's test faces of the emotion ``true`` that it answered ``predicted`` (rightly, when
    the two are the same), the ones it was surest of first: at most :data:`CONFUSED_FACES` of
    ``total``, out of ``of_true`` test faces of ``true``. ``probabilities`` is the run's
    probability of ``predicted`` for each face shown."""

    true: str
    predicted: str
    images: np.ndarray
    probabilities: np.ndarray
    total: int
    of_true: int


def commonest_confusion(run: Run, load: DatasetLoader = load_dataset) -> tuple[str, str]:
    """The (true, predicted) pair of different emotions ``run`` answered most often on its test
    faces: where to start looking. Raises FerError as :func:`scored_faces` does."""
    labels, probabilities, _ = scored_answers(run, load)
    matrix = np.zeros((len(CLASSES), len(CLASSES)), int)
    np.add.at(matrix, (labels, probabilities.argmax(axis=1)), 1)
    np.fill_diagonal(matrix, -1)
    true, predicted = np.unravel_index(matrix.argmax(), matrix.shape)
    return CLASSES[true], CLASSES[predicted]


def confused_faces(
    run: Run, true: str, predicted: str, load: DatasetLoader = load_dataset, limit: int = CONFUSED_FACES
) -> ConfusedFaces:
    """The test faces of ``true`` that ``run`` answered ``predicted``, from its kept probabilities
    and the test images they were scored on (:func:`scored_faces`), surest first. Raises
    FerError for an emotion that is none of :data:`fer.vocab.CLASSES`, or as :func:`scored_faces`."""
    unknown = [name for name in (true, predicted) if name not in CLASSES]
    if unknown:
        raise FerError(f"unknown emotion {unknown[0]!r}: choose one of {', '.join(CLASSES)}")
    labels, probabilities, images = scored_answers(run, load)
    row, column = CLASSES.index(true), CLASSES.index(predicted)
    chosen = np.flatnonzero((labels == row) & (probabilities.argmax(axis=1) == column))
    surest = chosen[np.argsort(-probabilities[chosen, column], kind="stable")][:limit]
    return ConfusedFaces(
        true, predicted, images(surest), probabilities[surest, column], len(chosen), int((labels == row).sum())
    )


def scored_answers(
    run: Run, load: DatasetLoader = load_dataset
) -> tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """A run's test labels and its kept probabilities for them, in evaluation order, and a way to
    fetch test images by their place in that order (without copying all of them). Raises
    FerError as :func:`scored_faces` does, and for probabilities that are missing or too few."""
    dataset, test = scored_faces(run, load)
    labels = dataset.labels[test]
    return labels, _probabilities(run, labels), lambda places: dataset.images[test[places]]


# --------------------------------------------------------------------------------------------
# Settings side by side


def config_table(runs: Mapping[str, Run], differences_only: bool = False) -> pd.DataFrame:
    """One row per run (by display name), one column per setting, every value as text.

    ``differences_only`` keeps the settings whose value is not the same for every run: with
    many settings, the one or two that changed are what explains a difference.
    """
    columns = ["run", *SETTINGS.values(), *MACHINE.values()]
    table = pd.DataFrame([{"run": name, **_settings(run)} for name, run in runs.items()], columns=columns)
    if differences_only:
        table = table[["run", *(column for column in columns[1:] if table[column].nunique() > 1)]]
    return table


def _settings(run: Run) -> dict[str, str]:
    config = run.config.to_dict() if run.config else {}
    machine = run.metrics() or {}
    shown = {label: _text(field, config.get(field)) for field, label in SETTINGS.items()}
    return shown | {label: _text(key, machine.get(key)) for key, label in MACHINE.items()}


def _text(field: str, value: Any) -> str:
    """A setting as a reader expects it: ``VGG19``, ``0.0001``, ``yes``, ``off``, ``—``."""
    if value is None:
        return EMPTY
    if field == "arch":
        return ARCHITECTURE_NAMES.get(value, value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if field == "early_stopping" and value == 0:
        return "off"
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------------------------
# Seeds


def group_runs(runs: Mapping[str, Run]) -> dict[str, list[str]]:
    """Seed repeats grouped: group name -> the runs' display names.

    Runs are repeats of one experiment when their configs match except the seed and they were
    tested on the same images (``metrics.json``'s ``test_set`` fingerprint: a ``full`` run tested
    on another import of FER2013 measured something else, and runs that did not record it are
    repeats only of each other). Their seeds must differ too: of runs that share the seed as
    well (the same run launched twice), only the newest is the group's run for that seed, and
    each older one is a group of its own, so that no seed counts twice in a mean ± sd.

    A group takes its first run's name, and ``+ N other seeds`` when it has repeats. Groups and
    their runs keep the order of ``runs``; a run whose config can't be read is a group of its own.
    """
    experiments = {name: _experiment(name, run) for name, run in runs.items()}
    newest: dict[tuple[Any, int | None], str] = {}  # (experiment, seed) -> its newest run
    for name, run in sorted(runs.items(), key=lambda item: creation_order(item[1])):  # oldest first: the newest stays
        newest[experiments[name], run.config.seed if run.config else None] = name
    repeats = set(newest.values())
    members: dict[Any, list[str]] = {}
    for name in runs:
        members.setdefault(experiments[name] if name in repeats else name, []).append(name)
    return {_group_name(names): names for names in members.values()}


def _experiment(name: str, run: Run) -> Any:
    """What seed repeats share: the config without its seed, and the test images; a run whose
    config can't be read shares nothing (its own name)."""
    if run.config is None:
        return name
    settings = tuple((key, value) for key, value in run.config.to_dict().items() if key != "seed")
    return settings, (run.metrics() or {}).get("test_set")


def _group_name(names: list[str]) -> str:
    others = len(names) - 1
    return names[0] if not others else f"{names[0]} + {others} other seed{'s' if others > 1 else ''}"


def seed_table(runs: Mapping[str, Run], groups: Mapping[str, list[str]]) -> pd.DataFrame:
    """Mean ± sample standard deviation of each metric over every group of two or more runs.

    A difference between two single runs smaller than these spreads may be the seed alone.
    """
    rows = []
    for group, names in groups.items():
        if len(names) < 2:
            continue
        metrics = [runs[name].metrics() or {} for name in names]
        seeds = [str(runs[name].config.seed) for name in names]
        row: dict[str, Any] = {"group": group, "runs": len(names), "seeds": ", ".join(seeds)}
        for key, label in SEED_METRICS.items():
            values = [number(m.get(key)) for m in metrics]
            row[label] = _mean_sd([value for value in values if value is not None], "seconds" in key)
        rows.append(row)
    return pd.DataFrame(rows, columns=["group", "runs", "seeds", *SEED_METRICS.values()])


def _mean_sd(values: list[float], seconds: bool) -> str:
    """``0.5311 ± 0.0040`` (``1,234 ± 56`` for seconds); one value alone, ``—`` for none."""
    if not values:
        return EMPTY
    number = "{:,.0f}" if seconds else "{:.4f}"
    mean = number.format(float(np.mean(values)))
    return mean if len(values) < 2 else f"{mean} ± {number.format(float(np.std(values, ddof=1)))}"
