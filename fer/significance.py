"""Is run B really more accurate than run A, or did it get lucky on these test images?

Two runs scored on the same test images make paired observations: per image, each was right or
wrong. Two numbers answer the question, as in the model-comparison literature (Dietterich 1998):

* a **paired bootstrap** confidence interval for the accuracy difference B - A: resampling
  images (with both runs' answers on each) keeps the pairing, so the interval is as narrow as
  the runs' agreement allows, where two unpaired intervals would overlap and say nothing;
* **McNemar's exact test**: only the images exactly one run got right carry information; under
  "equally accurate" each of them is B's with probability 1/2, a binomial test on their count.

Neither needs anything but the two right/wrong vectors, so this module knows nothing of runs.

Published numbers come without per-image answers, so for them only the sampling noise of each
accuracy can be said: a **Wilson interval** per accuracy, **Newcombe's interval** for the
difference of two, and how rarely two runs would have to disagree for a paired test to find a
difference of that size (:func:`paired_disagreement_needed`). A run's per-class scores get
intervals resampled from its confusion matrix (:func:`per_class_intervals`).
"""

from __future__ import annotations

import math
import statistics
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fer.errors import FerError
from fer.vocab import CLASSES

ALPHA = 0.05
"""The significance level of the sentence and of the confidence interval (95%)."""

Z = statistics.NormalDist().inv_cdf(1 - ALPHA / 2)
"""The normal quantile of the two-sided 95% level, 1.96."""

RESAMPLES = 2_000
SEED = 0
"""A fixed seed: the same two runs always get the same interval."""


@dataclass(frozen=True)
class PairedComparison:
    """Run B against run A on the same ``n`` test images.

    Accuracies and differences are fractions (0.012 = 1.2 points); ``only_a`` counts images A got
    right and B wrong, ``only_b`` the reverse (McNemar's discordant pairs).
    """

    accuracy_a: float
    accuracy_b: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    only_a: int
    only_b: int

    @property
    def difference(self) -> float:
        """B's accuracy minus A's."""
        return self.accuracy_b - self.accuracy_a

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    def sentence(self, a: str = "A", b: str = "B") -> str:
        """The verdict in plain words, e.g. ``B is 1.2 points more accurate than A (95% CI 0.3
        to 2.1); McNemar p = 0.01: the difference is significant at 5%``."""
        points = abs(self.difference) * 100
        if self.only_a == self.only_b:
            lead = f"{b} and {a} are equally accurate"
        else:
            lead = f"{b} is {points:.1f} points {'more' if self.difference > 0 else 'less'} accurate than {a}"
        interval = f"95% CI {interval_text(self.ci_low, self.ci_high)}"
        verdict = "significant" if self.significant else "not significant"
        return f"{lead} ({interval}); McNemar {_p_text(self.p_value)}: the difference is {verdict} at 5%"


def paired_comparison(
    correct_a: np.ndarray, correct_b: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED
) -> PairedComparison:
    """B against A from their per-image right (True) / wrong (False) answers, in the same image order."""
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if correct_a.shape != correct_b.shape or correct_a.ndim != 1 or not len(correct_a):
        raise FerError(
            f"paired answers must be two equally long, non-empty lists (got {correct_a.shape} and {correct_b.shape})"
        )
    only_a = int(np.sum(correct_a & ~correct_b))
    only_b = int(np.sum(correct_b & ~correct_a))
    low, high = bootstrap_interval(only_a, only_b, len(correct_a), resamples, seed)
    return PairedComparison(
        accuracy_a=float(correct_a.mean()),
        accuracy_b=float(correct_b.mean()),
        ci_low=low,
        ci_high=high,
        p_value=mcnemar_exact(only_a, only_b),
        n=len(correct_a),
        only_a=only_a,
        only_b=only_b,
    )


def paired_emotions(labels: np.ndarray, correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, PairedComparison]:
    """B − A paired on each emotion's images alone (``labels``: class indices), for each emotion
    with images: :func:`paired_comparison`, whose accuracies are then the two's recalls."""
    return {
        emotion: paired_comparison(correct_a[labels == index], correct_b[labels == index])
        for index, emotion in enumerate(CLASSES)
        if (labels == index).any()
    }


def bootstrap_interval(only_a: int, only_b: int, n: int, resamples: int, seed: int) -> tuple[float, float]:
    """The percentile 95% interval of B - A over ``resamples`` paired bootstrap resamples of the images.

    Per image, B's answer minus A's is +1 (only B right), -1 (only A right) or 0, so a resample
    of ``n`` images is fully described by how many of each it drew: a multinomial draw with the
    observed proportions. Drawing those counts is the same bootstrap as drawing ``n`` image
    indices, in ``resamples`` numbers instead of ``resamples * n`` (2,000 x 7,178 indices would
    take 115 MB).
    """
    generator = np.random.default_rng(seed)
    counts = generator.multinomial(n, np.array([only_b, only_a, n - only_a - only_b]) / n, size=resamples)
    differences = (counts[:, 0] - counts[:, 1]) / n
    low, high = np.quantile(differences, [ALPHA / 2, 1 - ALPHA / 2])
    return float(low), float(high)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test of ``only_b`` out of the discordant
    pairs against 1/2; 1 when the runs never disagree (nothing speaks for either)."""
    from scipy.stats import binomtest  # here, not above: SciPy takes 0.4 s to import, and reading results needs none

    discordant = only_a + only_b
    return 1.0 if discordant == 0 else float(binomtest(only_b, discordant, 0.5).pvalue)


def per_class_intervals(
    matrix: np.ndarray, resamples: int = RESAMPLES, seed: int = SEED
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """95% intervals of each class's precision, recall and F1 (by score: lows and highs, one per
    class) over resamples of the test images, from the confusion matrix alone.

    Why: the rare classes' scores stand on few faces (55 disgust faces in PrivateTest), so two runs'
    bars for them differ by chance far more than the accuracy does. A resample of ``n`` images is
    a multinomial draw over the matrix's cells with the observed shares, as in
    :func:`bootstrap_interval`. A resample without a class's faces says nothing of its recall
    (nor one that never answers it of its precision), so it is left out of that score's interval
    rather than counted as 0, and so is its F1. A class no resample can score gets NaN.
    """
    matrix = np.asarray(matrix, np.int64)
    n, classes = int(matrix.sum()), len(matrix)
    if n <= 0:
        raise FerError("a confusion matrix with no test images has no intervals")
    generator = np.random.default_rng(seed)
    cells = generator.multinomial(n, matrix.ravel() / n, size=resamples).reshape(resamples, classes, classes)
    right = np.diagonal(cells, axis1=1, axis2=2).astype(float)
    answered, present = cells.sum(axis=1), cells.sum(axis=2)  # per class: faces answered as it, faces of it
    with np.errstate(invalid="ignore", divide="ignore"):
        precision, recall = right / answered, right / present  # NaN where undefined
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        f1[np.isnan(precision) | np.isnan(recall)] = np.nan
    quantiles = [ALPHA / 2, 1 - ALPHA / 2]
    with warnings.catch_warnings():  # a class no resample can score: NaN, said once here, not warned about
        warnings.simplefilter("ignore", RuntimeWarning)
        return {name: tuple(np.nanquantile(scores, quantiles, axis=0)) for name, scores in
                (("precision", precision), ("recall", recall), ("f1", f1))}


def accuracy_interval(accuracy: float, n: int) -> tuple[float, float]:
    """The 95% Wilson score interval of an accuracy measured on ``n`` test images: how far a
    second draw of as many images could move it. Wilson rather than accuracy ± 1.96 standard
    errors, which is too narrow on a few hundred faces and can leave [0, 1] near its ends. A
    published accuracy, rounded, stands for the nearest whole number of images right."""
    from scipy.stats import binomtest  # as in mcnemar_exact

    if n <= 0 or not 0 <= accuracy <= 1:
        raise FerError(f"an accuracy needs a fraction and some test images (got {accuracy} on {n})")
    interval = binomtest(round(accuracy * n), n).proportion_ci(1 - ALPHA, method="wilson")
    return float(interval.low), float(interval.high)


def recorded_interval(accuracy: float | None, n: float | None) -> tuple[float, float] | None:
    """:func:`accuracy_interval` of a score read from a file, or None where the accuracy or its
    number of test images is missing (older or damaged metrics): no interval rather than a made-up one."""
    if accuracy is None or n is None or pd.isna(accuracy) or pd.isna(n) or not n:
        return None
    return accuracy_interval(float(accuracy), int(n))


def unpaired_interval(accuracy_a: float, n_a: int, accuracy_b: float, n_b: int) -> tuple[float, float]:
    """The 95% interval of B - A from the two accuracies alone (Newcombe 1998, method 10, built
    from their Wilson intervals): what can be said of two published numbers. Two runs scored on
    the same images get a narrower, paired one from their answers (:func:`paired_comparison`)."""
    (low_a, high_a), (low_b, high_b) = accuracy_interval(accuracy_a, n_a), accuracy_interval(accuracy_b, n_b)
    difference = accuracy_b - accuracy_a
    return (
        difference - math.hypot(accuracy_b - low_b, high_a - accuracy_a),
        difference + math.hypot(high_b - accuracy_b, accuracy_a - low_a),
    )


def paired_disagreement_needed(difference: float, n: int) -> float:
    """The share of ``n`` shared test images below which two runs must disagree (one right, the
    other wrong) for McNemar's test to call an accuracy ``difference`` significant at 5%.

    With ``b`` and ``c`` images right for one run only, the test's statistic is
    ``|b - c| / sqrt(b + c)`` (normal approximation) and ``b - c = n * difference``, so it passes
    ``Z`` while ``(b + c) / n < n * difference**2 / Z**2``. Even a model and its own fine-tuned
    copy (the default model and the run it was fine-tuned from) disagree on 6.3% of PrivateTest's
    faces; networks trained apart, as the study's scenarios were, on more.
    """
    return n * difference**2 / Z**2


def points_text(fraction: float) -> str:
    """A signed difference in percentage points with one decimal, ``−2.1`` (never ``-0.0``)."""
    return f"{round(fraction * 100, 1) + 0.0:.1f}".replace("-", "−")


def interval_text(low: float, high: float) -> str:
    """An interval of a difference in points, ``−0.6 to 2.3``: how every page and table says one."""
    return f"{points_text(low)} to {points_text(high)}"


def paired_columns(paired: PairedComparison) -> dict[str, Any]:
    """B − A in points, its interval, McNemar's p and the verdict: the columns every table of paired tests has."""
    return {
        "points": round(paired.difference * 100, 2),
        "95% interval, paired (points)": interval_text(paired.ci_low, paired.ci_high),
        "McNemar p": paired.p_value,
        "verdict": f"{'' if paired.significant else 'not '}significant at 5%",
    }


def _p_text(p_value: float) -> str:
    """``p = 0.039``, ``p < 0.001``: two significant digits, none of them spurious."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.2g}"
