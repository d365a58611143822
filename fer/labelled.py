"""A model scored on someone's own labelled photos: how far its FER2013 test accuracy carries
to other faces (a lab's recordings, another dataset such as CK+ or JAFFE).

The layout is the one such datasets are shared in: ``[top/]<emotion>/[...]/<photo>``, a folder or a
``.zip``, the folders named by emotion in any case or by a common synonym (:data:`EMOTION_FOLDERS`),
the nearest such folder labelling a photo; photos under no such folder (CK+'s ``contempt``) are
left out and counted. :func:`score_labelled`
classifies them as the Classify page does, a batch at a time, and scores the answers with the
metrics of a run's test faces (:func:`fer.evaluate.classification_metrics`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fer.errors import FerError
from fer.evaluate import classification_metrics
from fer.photos import MAX_PHOTOS, PHOTO_SUFFIXES, PhotoResult, classify_in_batches, face_columns
from fer.significance import PairedComparison, accuracy_interval, paired_comparison, paired_emotions
from fer.sources import MAX_IMAGE_FILE_BYTES, ListedFile, check_sizes, hidden, listed_files, zip_files
from fer.temperature import Scaling
from fer.vocab import CLASSES

if TYPE_CHECKING:
    from typing import BinaryIO

    import keras

EMOTION_FOLDERS: Mapping[str, str] = {
    **{name: name for name in CLASSES},
    "anger": "angry", "disgusted": "disgust", "fearful": "fear", "afraid": "fear", "scared": "fear",
    "happiness": "happy", "joy": "happy", "sadness": "sad", "surprised": "surprise",
}
"""Folder names (compared lower-cased) taken as each emotion: FER2013's class names and the words
other datasets use for them (CK+, KDEF, RAF-DB, AffectNet, ExpW)."""

TABLE_COLUMNS = ("file", "label", "emotion", "probability", "correct", "faces", "problem", *CLASSES)
"""One row per photo: its label (its folder's emotion), the answer and its probability, whether
it was right, the faces found in it (the largest is scored), what kept it from being scored
(empty when it was), and every emotion's probability."""

NO_FACE = "no face found"
"""The problem of a photo in which the detector found no face."""


@dataclass(frozen=True)
class LabelledPhoto:
    """A photo listed under an emotion folder, not read yet."""

    label: str  # one of CLASSES
    file: ListedFile


@dataclass(frozen=True)
class Labelled:
    """A folder's or zip's labelled photos, and what was left out of them."""

    source: str
    photos: list[LabelledPhoto]
    left_out: dict[str, int] = field(default_factory=dict)  # folder -> photos under it that name no emotion


@dataclass(frozen=True)
class LabelledScore:
    """A model's answers on labelled photos (:data:`TABLE_COLUMNS`) and their metrics.

    ``metrics`` is :func:`fer.evaluate.classification_metrics` over the photos scored (``None``
    when none was): ``test_accuracy``, ``test_images``, per-class scores, the confusion matrix."""

    table: pd.DataFrame
    metrics: dict[str, Any] | None
    left_out: dict[str, int]

    @property
    def scored(self) -> pd.DataFrame:
        """The rows of the photos whose face was classified."""
        return self.table[_was_scored(self.table)]

    def problems(self) -> list[str]:
        """What kept each photo not scored from being scored, a line each, naming the photo."""
        unscored = self.table[~_was_scored(self.table)]
        return [f"{row.file}: {NO_FACE}" if row.problem == NO_FACE else row.problem for row in unscored.itertuples()]

    def interval(self) -> tuple[float, float] | None:
        """The accuracy's 95% Wilson interval (:func:`fer.significance.accuracy_interval`)."""
        if self.metrics is None:
            return None
        return accuracy_interval(self.metrics["test_accuracy"], self.metrics["test_images"])

    def commonest(self) -> tuple[str, float]:
        """The commonest label among the photos scored, and its share: always answering it would
        be right that often, the accuracy a model must beat on these photos to have learnt anything."""
        shares = self.scored["label"].value_counts(normalize=True)
        return str(shares.index[0]), float(shares.iloc[0])


@contextmanager
def labelled_photos(source: str | Path) -> Iterator[Labelled]:
    """The photos under the emotion folders of a folder or ``.zip`` on this machine, readable
    while the context lasts (a zip stays open until they are scored).

    Raises FerError for a source that can't be read, holds no emotion folder, or more than
    :data:`fer.photos.MAX_PHOTOS` photos, or whose files are too large for photos.
    """
    with listed_files(source) as (name, files):
        yield _labelled(files, name)


@contextmanager
def labelled_upload(file: BinaryIO, name: str) -> Iterator[Labelled]:
    """:func:`labelled_photos` of an uploaded ``.zip`` (``file``, named ``name`` in errors)."""
    with zip_files(file, name) as (_, files):
        yield _labelled(files, name)


def _labelled(files: list[ListedFile], source: str) -> Labelled:
    photos: list[LabelledPhoto] = []
    left_out: Counter[str] = Counter()
    for file in files:
        path = PurePosixPath(file.path)
        if hidden(file.path) or path.suffix.lower() not in PHOTO_SUFFIXES:
            continue
        # The nearest folder named by an emotion: happy/session-2/a.jpg is happy, as happy/a.jpg.
        labels = (EMOTION_FOLDERS.get(folder.strip().lower()) for folder in reversed(path.parent.parts))
        if label := next(filter(None, labels), None):
            photos.append(LabelledPhoto(label, file))
        else:
            left_out[path.parent.name or "(no folder)"] += 1
    if not photos:
        found = f" (photos found under: {_listed(left_out)})" if left_out else ""
        raise FerError(
            f"{source}: no photos in emotion folders{found}: put each photo in a folder named by its emotion, "
            f"one of {', '.join(CLASSES)}"
        )
    if len(photos) > MAX_PHOTOS:
        raise FerError(f"{source}: {len(photos):,} labelled photos, more than the {MAX_PHOTOS:,} scored at once: score a part")
    check_sizes([photo.file for photo in photos], source)
    return Labelled(source, photos, dict(left_out))


def score_labelled(
    model: keras.Model,
    labelled: Labelled,
    *,
    whole: bool = False,
    tta: str = "none",
    scaling: Scaling = Scaling(),
    progress: Callable[[float, str], None] | None = None,
) -> LabelledScore:
    """Classify every labelled photo and score the answers against its folder's emotion.

    Faces are found in each photo as on the Classify page, and the largest is taken to be the
    one the label names (a photo of several people rarely carries one label); with ``whole``,
    each photo is classified whole, as one face (face crops the detector may miss). A photo that
    can't be read, or in which no face is found, is kept in the table with its problem and left
    out of the metrics: an accuracy over the photos actually classified, with how many were not.
    ``tta`` and ``scaling`` are :func:`fer.inference.classify_faces`'.
    """
    readers = [(f"{labelled.source}: {photo.file.path}", _reader(photo.file, labelled.source)) for photo in labelled.photos]
    results = classify_in_batches(model, readers, whole=whole, tta=tta, scaling=scaling, progress=progress)
    rows = [_row(photo, result) for photo, result in zip(labelled.photos, results, strict=True)]
    table = pd.DataFrame(rows, columns=list(TABLE_COLUMNS))
    scored = table[_was_scored(table)]
    metrics = None
    if len(scored):
        labels = scored["label"].map(CLASSES.index).to_numpy()
        metrics = classification_metrics(labels, scored[list(CLASSES)].to_numpy(np.float64))
    return LabelledScore(table, metrics, labelled.left_out)


def paired(a: LabelledScore, b: LabelledScore) -> tuple[PairedComparison, dict[str, PairedComparison]]:
    """Model B's answers against model A's on the same labelled photos, paired (McNemar's exact
    test, a bootstrap interval), overall and emotion by emotion, over the photos both scored.

    Why: on a few hundred photos of one's own, two models' accuracy intervals overlap, while a
    paired test, counting only the photos one got right and the other wrong, still tells them apart.
    Raises FerError for scores of different photos, or with no photo scored by both.
    """
    if not a.table["file"].equals(b.table["file"]):
        raise FerError("the two scores are not of the same photos: score both models on one folder or zip")
    both = (_was_scored(a.table) & _was_scored(b.table)).to_numpy()
    if not both.any():
        raise FerError("no photo was scored by both models")
    labels = a.table["label"].map(CLASSES.index).to_numpy()[both]
    right_a, right_b = (score.table["correct"].to_numpy()[both].astype(bool) for score in (a, b))
    return paired_comparison(right_a, right_b), paired_emotions(labels, right_a, right_b)


def describe(score: LabelledScore, own_accuracy: float | None = None, own_faces: str = "") -> str:
    """The score in a few sentences: the accuracy with its interval, the commonest label's share
    to beat, the model's accuracy on its own test faces where given (``own_faces`` names them),
    and the photos that were not scored (and why), so the number is read for what it is."""
    table = score.table
    if score.metrics is None:
        text = f"None of the {len(table):,} photos could be scored."
    else:
        accuracy, n = score.metrics["test_accuracy"], score.metrics["test_images"]
        low, high = score.interval() or (accuracy, accuracy)
        label, share = score.commonest()
        text = (
            f"Right on {round(accuracy * n):,} of {n:,} photos: {accuracy:.1%} (95% interval {low:.1%} to {high:.1%}); "
            f"always answering their commonest emotion, {label}, would be right on {share:.1%}. "
            f"Macro recall {score.metrics['recall_macro']:.1%}."
        )
    if own_accuracy is not None:
        text += f" On its own test faces{', ' + own_faces + ',' if own_faces else ''} it scored {own_accuracy:.1%}."
    problems = table.loc[~_was_scored(table), "problem"]
    no_face = int((problems == NO_FACE).sum())
    if no_face:
        text += f" No face found in {no_face:,} photo{'s' if no_face != 1 else ''} (classify them whole if they are face crops)."
    if unreadable := len(problems) - no_face:
        text += f" {unreadable:,} photo{'s' if unreadable != 1 else ''} could not be read."
    if score.left_out:
        total = sum(score.left_out.values())
        text += f" Left out: {total:,} photo{'s' if total != 1 else ''} in folders that name no FER2013 emotion ({_listed(score.left_out)})."
    return text


def _was_scored(table: pd.DataFrame) -> pd.Series:
    """Which rows of a scored table (:data:`TABLE_COLUMNS`) are photos whose face was classified."""
    return table["problem"] == ""


def _reader(file: ListedFile, source: str) -> Callable[[], bytes]:
    def read() -> bytes:
        content = file.read()  # at most MAX_IMAGE_FILE_BYTES + 1 bytes
        if len(content) > MAX_IMAGE_FILE_BYTES:
            raise FerError(f"{source}: {file.path}: more than {MAX_IMAGE_FILE_BYTES:,} bytes, too many for a photo")
        return content

    return read


def _row(photo: LabelledPhoto, result: PhotoResult) -> dict[str, Any]:
    row: dict[str, Any] = {"file": photo.file.path, "label": photo.label, "faces": len(result.faces)}
    if result.error or not result.faces:
        return row | {"problem": result.error or NO_FACE, "correct": None}
    largest = max(range(len(result.faces)), key=lambda i: result.faces[i].box[2] * result.faces[i].box[3])
    columns = face_columns(result.faces[largest], result.probabilities[largest])
    answer = {key: columns[key] for key in ("emotion", "probability", *CLASSES)}
    return row | answer | {"problem": "", "correct": answer["emotion"] == photo.label}


def _listed(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{folder} {count:,}" for folder, count in sorted(counts.items(), key=lambda item: -item[1]))
