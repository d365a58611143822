"""How a model's accuracy holds up when faces are photographed worse: JPEG, blur, light, noise, size.

A model scored on FER2013's test faces is scored on clean, centred, equalized 48x48 crops; the
faces users give it come blurred, compressed, badly lit, small. Here each of a run's test faces is
enlarged to ``side`` px (a face of that size in a photo or a video frame), degraded there, and
brought back to 48x48 as the Classify page brings a face crop to the model
(:func:`fer.images.photo_face`), then classified with the run's test-time augmentation. The
round trip alone is the baseline; each degradation's answers are paired with it on the same
faces (:func:`fer.significance.paired_comparison`), so a drop of a point can be told from luck.

Tilted heads are left out: the Classify page turns a tilted face level before it classifies it
(``benchmarks/tilt.py`` measures that step), so an unlevelled tilt would overstate what users
see. ``python -m benchmarks.robustness`` adds them, and pairs two models on every condition.

:func:`measure_run` keeps the result in the run's ``metrics.json`` (``python -m fer robustness
RUN``) and each face's answers in its ``robustness.npz``; :func:`stored` reads the result back
for the Classify page, and :func:`paired_runs` pairs two runs face by face for the Compare page.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import pandas as pd

from fer.arrays import npz_bytes, read_npz_array
from fer.errors import FerError
from fer.images import FACE_SIZE, photo_face
from fer.inference import classify_faces, load_classifier
from fer.paths import atomic_write_bytes, check_state_file_size
from fer.significance import PairedComparison, paired_columns, paired_comparison
from fer.store import ROBUSTNESS_ANSWERS, Run, has_headline_metrics, number, write_metrics

if TYPE_CHECKING:
    import keras

Degradation = Callable[[np.ndarray], np.ndarray]
SIDE = 192
"""The face's side in the photo, px: a face a user's photo or a webcam frame typically holds."""
ROUND_TRIP = "none (enlarged and shrunk back only)"
"""The baseline condition: the face enlarged to ``side`` px and brought back, nothing else."""
SMALL_FACES = (32, 24)
"""Faces smaller than the 48x48 the models read, px: the Classify page finds faces down to
:data:`fer.faces.MIN_FACE_PX` (24) across and enlarges them, and says for a small face what
faces of these sizes cost."""
SMALL_FACE_PX = 40
"""A face cut from fewer pixels across than this is told what being small costs
(:func:`small_face_note`): nearer the 32 px measured than the 48 the models read. A tight crop's
face, found a few pixels inside a 48-px photo, is not."""
KEY = "robustness"
"""Where :func:`measure_run` keeps its result in a run's ``metrics.json``."""


def jpeg(quality: int) -> Degradation:
    return lambda face: cv2.imdecode(cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_GRAYSCALE)


def gaussian_blur(sigma: float) -> Degradation:
    return lambda face: cv2.GaussianBlur(face, (0, 0), sigma)


def motion_blur(length: int) -> Degradation:
    kernel = np.full((1, length), 1 / length, np.float32)  # a horizontal pan or a head turning
    return lambda face: cv2.filter2D(face, -1, kernel, borderType=cv2.BORDER_REPLICATE)


def light(gain: float, contrast: float = 1.0) -> Degradation:
    """``gain`` scales every grey level (a darker or brighter exposure, clipped at white);
    ``contrast`` scales their spread about the face's mean (haze, a flat light)."""

    def changed(face: np.ndarray) -> np.ndarray:
        mean = face.mean()
        return np.clip(((face - mean) * contrast + mean) * gain, 0, 255).astype(np.uint8)

    return changed


def noise(sigma: float, seed: int = 0) -> Degradation:
    """Gaussian sensor noise of ``sigma`` grey levels, drawn from ``seed``'s generator face after face."""
    rng = np.random.default_rng(seed)
    return lambda face: np.clip(face + rng.normal(0, sigma, face.shape), 0, 255).astype(np.uint8)


def smaller(size: int) -> Degradation:
    """The face as a ``size``-px one in the photo: shrunk as a camera would take it, then brought
    to 48x48 by enlarging, as the Classify page brings a small face to the model."""
    return lambda face: cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)


def degradations(side: int = SIDE) -> dict[str, Degradation]:
    """What is done to a ``side``-px face, by condition name, the round trip first; blur sizes
    scale with ``side`` (the names give them at that size), small faces are the size named."""
    px = side / SIDE
    return {
        ROUND_TRIP: lambda face: face,
        "JPEG quality 50": jpeg(50),
        "JPEG quality 20": jpeg(20),
        "JPEG quality 10": jpeg(10),
        f"Gaussian blur, sigma {2 * px:g} px": gaussian_blur(2 * px),
        f"Gaussian blur, sigma {4 * px:g} px": gaussian_blur(4 * px),
        f"motion blur, {round(15 * px)} px": motion_blur(round(15 * px)),
        "darker (x0.5)": light(0.5),
        "brighter (x1.5, clipped)": light(1.5),
        "low contrast (x0.5)": light(1.0, 0.5),
        "camera-like (x0.85, contrast x0.65)": light(0.85, 0.65),
        "noise, sigma 10 grey levels": noise(10),
        "noise, sigma 25 grey levels": noise(25),
        **{small_face(size): smaller(size) for size in SMALL_FACES},
    }


def small_face(size: int) -> str:
    """The condition name of a ``size``-px face (:data:`SMALL_FACES`)."""
    return f"a {size}-px face"


def seen_as(
    faces: np.ndarray, side: int, degrade: Degradation, prepare: Callable[[np.ndarray], np.ndarray] = photo_face
) -> np.ndarray:
    """The 48x48 ``faces`` enlarged to ``side`` px, degraded, and brought back to 48x48 by ``prepare``."""
    grown = (cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC) for face in faces)
    return np.stack([prepare(degrade(face)) for face in grown])


@dataclass(frozen=True)
class Robustness:
    """A model's accuracy on its test faces under each degradation, against the round trip."""

    side: int  # the faces' side in the photo, px
    tta: str  # the test-time augmentation they were classified with
    round_trip: float  # the accuracy on the round trip alone
    conditions: dict[str, PairedComparison]  # each degradation (B) against the round trip (A), on the same faces

    def worst(self) -> tuple[str, PairedComparison]:
        """The condition that costs the most accuracy."""
        return min(self.conditions.items(), key=lambda item: item[1].difference)


def answers(
    model: keras.Model,
    faces: np.ndarray,
    labels: np.ndarray,
    tta: str = "none",
    side: int = SIDE,
    progress: Callable[[float, str], None] | None = None,
) -> dict[str, np.ndarray]:
    """Per condition of :func:`degradations` (the round trip first), per face, whether ``model``
    answered it right: what :func:`summarized` sums up, and what pairs two models face by face.
    ``progress(fraction, message)`` hears of each condition (with shift TTA, about 45 s for each on
    FER2013's 3,589 PrivateTest faces on a 2-core CPU: 11 minutes in all)."""
    report = progress or (lambda fraction, message: None)
    conditions = degradations(side)
    right: dict[str, np.ndarray] = {}
    for number_done, (name, degrade) in enumerate(conditions.items()):
        report(number_done / len(conditions), f"{name}: classifying {len(faces):,} faces ({tta} TTA)")
        right[name] = classify_faces(model, seen_as(faces, side, degrade), tta=tta).argmax(axis=1) == labels
    report(1.0, "measured")
    return right


def summarized(right: dict[str, np.ndarray], side: int, tta: str) -> Robustness:
    """:func:`answers` as a :class:`Robustness`: each condition paired with the round trip."""
    baseline = right[ROUND_TRIP]
    conditions = {name: paired_comparison(baseline, kept) for name, kept in right.items() if name != ROUND_TRIP}
    return Robustness(side, tta, float(baseline.mean()), conditions)


def measure_run(run: Run, progress: Callable[[float, str], None] | None = None) -> Robustness:
    """The :func:`answers` of a completed run's model on the test faces it was scored on, kept
    (:func:`keep`): each face's in ``robustness.npz``, their summary in its ``metrics.json``
    under :data:`KEY`; the summary.

    Raises FerError for a run that has not completed with results, kept no model file, or was
    scored on other test faces than those imported now (:func:`fer.compare.scored_faces`).
    """
    # Imported here, not above: fer.compare imports scikit-learn (0.8 s), and the Classify page,
    # which reads a measurement (:func:`stored`) as it lists the models, needs none of it.
    from fer.compare import scored_faces

    check_measurable(run)
    dataset, test = scored_faces(run)
    model = load_classifier(run.model_path)
    return keep(run, answers(model, dataset.images[test], dataset.labels[test], run.config.tta, progress=progress))


def keep(run: Run, right: dict[str, np.ndarray]) -> Robustness:
    """``right`` (:func:`answers` of ``run``'s model on its test faces) kept in the run: each face's
    answers in ``robustness.npz``, then their summary in ``metrics.json``, its other metrics as
    they are; the summary."""
    measured = summarized(right, SIDE, run.config.tta)
    # The answers first: metrics that hold a measurement then always have its answers beside them.
    kept = {"conditions": np.array(list(right)), "right": np.stack(list(right.values()))}
    atomic_write_bytes(run.path / ROBUSTNESS_ANSWERS, npz_bytes(compress=True, **kept))
    # Read again: the run's metrics may have gained a fit (`fer calibrate`) in the minutes this took.
    write_metrics(run.path, (run.metrics() or {}) | {KEY: document(measured)})
    return measured


def kept_answers(run: Run) -> dict[str, np.ndarray] | None:
    """The per-face :func:`answers` that :func:`measure_run` kept for ``run``
    (``robustness.npz``), or None: not measured (or before answers were kept), or a file that
    disagrees with the measurement in its metrics (damaged, or left by an earlier one)."""
    measured = stored(run.metrics())
    path = run.path / ROBUSTNESS_ANSWERS
    if measured is None or not path.exists():
        return None
    try:
        check_state_file_size(path)
        names, right = read_npz_array(path, "conditions"), read_npz_array(path, "right")
    except (OSError, ValueError):
        return None
    expected = [ROUND_TRIP, *measured.conditions]
    faces = next(iter(measured.conditions.values())).n
    if names.tolist() != expected or right.dtype != bool or right.shape != (len(expected), faces):
        return None
    kept = dict(zip(expected, right))
    accuracies = [(kept[ROUND_TRIP], measured.round_trip)]
    accuracies += [(kept[name], paired.accuracy_b) for name, paired in measured.conditions.items()]
    return kept if all(math.isclose(answered.mean(), accuracy) for answered, accuracy in accuracies) else None


def paired_runs(a: Run, b: Run) -> dict[str, PairedComparison]:
    """Run B against run A on worse photos of the same test faces, condition by condition (the
    round trip first), each as its own run classifies (its TTA): which model holds up better, and
    how surely. Raises FerError unless both were measured with their answers kept, on the same
    test faces and conditions.

    Why paired: two models' drops against their own clean faces, side by side, can't say whether
    one reads blurred faces better than the other; the same faces made worse the same way can.
    """
    kept = [kept_answers(run) for run in (a, b)]
    for run, right in zip((a, b), kept, strict=True):
        if right is None:
            command = f"`python -m fer robustness {run.run_id}`"
            how = (
                "it kept no model file, so it can't be" if not run.model_path.exists()
                else f"{command} measures it" if run.reference
                else f"the Classify page (How it holds up on worse photos) or {command} measures it"
            )
            raise FerError(f"{run.display_name} was not measured on worse photos with its answers kept: {how}")
    right_a, right_b = kept
    if (a.metrics() or {}).get("test_set") != (b.metrics() or {}).get("test_set") or list(right_a) != list(right_b):
        raise FerError(f"{a.display_name} and {b.display_name} were measured on different test faces or conditions")
    return {name: paired_comparison(right_a[name], right_b[name]) for name in right_a}


def check_measurable(run: Run) -> None:
    """Raise FerError for a run that can't be measured: not completed with results, or without
    its model file."""
    if run.config is None or run.state != "completed" or not has_headline_metrics(run.metrics()):
        raise FerError(f"{run.display_name} has not completed with results: there is nothing to measure")
    if not run.model_path.exists():
        raise FerError(f"{run.display_name} kept no model file: there is no model to measure")


def summary(measured: Robustness) -> str:
    """What was measured and what hurt most, in a sentence."""
    faces = next(iter(measured.conditions.values())).n
    name, worst = measured.worst()
    return (
        f"its {faces:,} test faces, each enlarged to {measured.side} px, made worse there and brought back as the "
        f"Classify page brings a face to the model ({measured.tta} TTA): {measured.round_trip:.1%} right with nothing "
        f"made worse; the worst, {name}: {worst.accuracy_b:.1%} ({100 * worst.difference:+.1f} points)"
    )


def small_face_note(measured: Robustness | None, side_px: float) -> str:
    """What being small costs a face cut from ``side_px`` pixels across: "" for one of at least
    :data:`SMALL_FACE_PX`; else, for a model ``measured`` on faces so small (:data:`SMALL_FACES`),
    its accuracy on them against the round trip's, and without that measurement, that small
    faces are read less accurately."""
    if side_px >= SMALL_FACE_PX:
        return ""
    lead = f"A small face ({side_px:.0f} px across, enlarged to the {FACE_SIZE}x{FACE_SIZE} the model reads)"
    known = [(size, measured.conditions[small_face(size)]) for size in SMALL_FACES
             if measured is not None and small_face(size) in measured.conditions]
    if not known:
        return f"{lead}: small faces are read less accurately than the test faces the model was scored on."
    scores = " and ".join(f"{paired.accuracy_b:.1%} at {size} px" for size, paired in known)
    return (
        f"{lead}: on its test faces made as small it was right {scores}, against {measured.round_trip:.1%} at full size "
        "(How it holds up on worse photos)."
    )


def table(measured: Robustness) -> pd.DataFrame:
    """One row per degradation: its accuracy, and the points it costs against the round trip
    with their paired interval, McNemar's p and the verdict (:func:`fer.significance.paired_columns`)."""
    return pd.DataFrame([
        {"condition": name, "accuracy": paired.accuracy_b, **paired_columns(paired)}
        for name, paired in measured.conditions.items()
    ])


def document(measured: Robustness) -> dict[str, Any]:
    """``measured`` as ``metrics.json`` keeps it (and ``--json`` prints it)."""
    return {
        "side": measured.side, "tta": measured.tta, "round_trip": measured.round_trip,
        "conditions": {name: asdict(paired) for name, paired in measured.conditions.items()},
    }


def stored(metrics: dict[str, Any] | None) -> Robustness | None:
    """The run's :class:`Robustness` from its metrics, or None where they lack it (not measured)
    or hold one that doesn't add up (an edited or damaged file)."""
    kept = (metrics or {}).get(KEY)
    if not isinstance(kept, dict) or not isinstance(kept.get("conditions"), dict) or not kept["conditions"]:
        return None
    side, round_trip = number(kept.get("side")), number(kept.get("round_trip"))
    if side is None or side < 1 or round_trip is None or not 0 <= round_trip <= 1 or not isinstance(kept.get("tta"), str):
        return None
    conditions = {}
    for name, paired in kept["conditions"].items():
        conditions[name] = _paired(paired)
        if conditions[name] is None or not math.isclose(conditions[name].accuracy_a, round_trip):
            return None
    return Robustness(int(side), kept["tta"], float(round_trip), conditions)


def _paired(kept: Any) -> PairedComparison | None:
    """A :class:`PairedComparison` as :func:`document` keeps it, checked; None if it doesn't add up."""
    names = [field.name for field in fields(PairedComparison)]
    values = [number(kept.get(name)) if isinstance(kept, dict) else None for name in names]
    if any(value is None for value in values):
        return None
    paired = PairedComparison(**dict(zip(names, values)))
    fractions = (paired.accuracy_a, paired.accuracy_b, paired.p_value)
    counts_fit = paired.n >= 1 and 0 <= paired.only_a <= paired.n and 0 <= paired.only_b <= paired.n
    if not all(0 <= value <= 1 for value in fractions) or not -1 <= paired.ci_low <= paired.ci_high <= 1 or not counts_fit:
        return None
    return paired
