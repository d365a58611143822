"""Paired significance of two runs' right/wrong answers, checked against hand-computed answers,
a binomial formula written out here and a literal image-resampling bootstrap."""

from __future__ import annotations

from math import comb, sqrt

import numpy as np
import pytest
from scipy.stats import binom

from fer.errors import FerError
from fer.significance import (
    PairedComparison,
    accuracy_interval,
    bootstrap_interval,
    mcnemar_exact,
    paired_comparison,
    paired_disagreement_needed,
    per_class_intervals,
    recorded_interval,
    unpaired_interval,
)


def answers(both: int, only_a: int, only_b: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    """Right/wrong vectors of two runs with the given counts of each agreement, shuffled together."""
    a = np.repeat([True, True, False, False], [both, only_a, only_b, neither])
    b = np.repeat([True, False, True, False], [both, only_a, only_b, neither])
    order = np.random.default_rng(7).permutation(len(a))
    return a[order], b[order]


def test_mcnemar_exact_matches_the_hand_computed_p_for_10_against_2() -> None:
    # Two-sided exact test: 2 * P(X <= 2) for X ~ Binomial(12, 1/2) = 2 * (1 + 12 + 66) / 4096.
    expected = 2 * (comb(12, 0) + comb(12, 1) + comb(12, 2)) / 2**12
    assert expected == pytest.approx(0.0385742, abs=1e-7)
    a, b = answers(both=30, only_a=10, only_b=2, neither=20)
    result = paired_comparison(a, b)
    assert (result.only_a, result.only_b, result.n) == (10, 2, 62)
    assert result.p_value == pytest.approx(expected, rel=1e-12)
    assert paired_comparison(b, a).p_value == pytest.approx(expected, rel=1e-12)  # symmetric
    assert result.difference == pytest.approx((2 - 10) / 62)
    assert result.accuracy_a == pytest.approx(40 / 62) and result.accuracy_b == pytest.approx(32 / 62)
    assert result.significant


@pytest.mark.parametrize(("only_a", "only_b"), [(0, 1), (1, 0), (3, 3), (5, 17), (40, 25), (0, 60), (250, 230)])
def test_mcnemar_exact_is_twice_the_smaller_binomial_tail(only_a: int, only_b: int) -> None:
    n = only_a + only_b
    expected = min(1.0, 2 * binom.cdf(min(only_a, only_b), n, 0.5))
    assert mcnemar_exact(only_a, only_b) == pytest.approx(expected, rel=1e-9)


def test_identical_runs_differ_by_nothing() -> None:
    a, _ = answers(both=120, only_a=0, only_b=0, neither=80)
    result = paired_comparison(a, a.copy())
    assert result == PairedComparison(0.6, 0.6, 0.0, 0.0, 1.0, 200, 0, 0)
    assert result.difference == 0 and not result.significant
    assert result.sentence() == (
        "B and A are equally accurate (95% CI 0.0 to 0.0); McNemar p = 1: the difference is not significant at 5%"
    )


def test_the_interval_is_the_bootstrap_over_images() -> None:
    """The multinomial shortcut against resampling image indices, as the textbook does it."""
    a, b = answers(both=200, only_a=25, only_b=45, neither=130)
    ours = paired_comparison(a, b, resamples=20_000)
    generator = np.random.default_rng(123)
    indices = generator.integers(0, len(a), size=(20_000, len(a)))
    literal = (b[indices].mean(axis=1) - a[indices].mean(axis=1))
    low, high = np.quantile(literal, [0.025, 0.975])
    assert ours.ci_low == pytest.approx(low, abs=0.004)
    assert ours.ci_high == pytest.approx(high, abs=0.004)
    assert ours.difference == pytest.approx(20 / 400)
    assert ours.ci_low < ours.difference < ours.ci_high


def test_the_interval_matches_the_normal_approximation_and_narrows_with_n() -> None:
    widths = []
    for copies in (1, 16):
        a, b = answers(both=300 * copies, only_a=40 * copies, only_b=60 * copies, neither=200 * copies)
        result = paired_comparison(a, b)
        n, p_a, p_b = result.n, result.only_a / result.n, result.only_b / result.n
        standard_error = sqrt((p_a + p_b - (p_b - p_a) ** 2) / n)
        assert result.ci_low == pytest.approx(result.difference - 1.96 * standard_error, abs=0.15 * standard_error + 1 / n)
        assert result.ci_high == pytest.approx(result.difference + 1.96 * standard_error, abs=0.15 * standard_error + 1 / n)
        widths.append(result.ci_high - result.ci_low)
    assert widths[1] / widths[0] == pytest.approx(1 / 4, rel=0.15)  # 16 times the images: a quarter as wide


def test_a_fixed_seed_gives_the_same_interval_and_another_seed_another() -> None:
    assert bootstrap_interval(30, 50, 500, 2_000, 0) == bootstrap_interval(30, 50, 500, 2_000, 0)
    assert bootstrap_interval(30, 50, 500, 2_000, 0) != bootstrap_interval(30, 50, 500, 2_000, 1)


def test_the_sentence_says_which_way_how_much_and_whether_it_counts() -> None:
    a, b = answers(both=600, only_a=5, only_b=30, neither=365)
    better = paired_comparison(a, b)
    low, high = (f"{x * 100:.1f}" for x in (better.ci_low, better.ci_high))
    assert better.sentence() == (
        f"B is 2.5 points more accurate than A (95% CI {low} to {high}); McNemar p < 0.001: "
        "the difference is significant at 5%"
    )
    worse = paired_comparison(b, a)
    assert worse.sentence("VGG19", "ResNet50").startswith("ResNet50 is 2.5 points less accurate than VGG19 (95% CI −")
    a, b = answers(both=50, only_a=2, only_b=6, neither=42)
    unclear = paired_comparison(a, b)
    assert unclear.p_value == pytest.approx(2 * (1 + 8 + 28) / 256)
    assert unclear.sentence().endswith("McNemar p = 0.29: the difference is not significant at 5%")
    assert "B is 4.0 points more accurate than A" in unclear.sentence()


@pytest.mark.parametrize(("a", "b"), [([True, False], [True]), ([], []), ([[True]], [[True]])])
def test_unpaired_answers_are_refused(a: list, b: list) -> None:
    with pytest.raises(FerError, match="equally long"):
        paired_comparison(np.array(a, bool), np.array(b, bool))


# ---------------------------------------------------------------------------------------------
# Published accuracies: no per-image answers


def test_the_accuracy_interval_is_wilsons_and_stays_inside_0_and_1() -> None:
    assert accuracy_interval(0.5, 100) == pytest.approx((0.4038, 0.5962), abs=1e-4)  # the textbook 50 of 100
    low, high = accuracy_interval(1.0, 10)
    assert high == 1.0 and low == pytest.approx(0.7225, abs=1e-4)  # where accuracy ± 1.96 SE would say [1, 1]
    wide, narrow = accuracy_interval(0.7, 296), accuracy_interval(0.7, 7178)
    assert wide[1] - wide[0] > 4 * (narrow[1] - narrow[0]) and narrow[1] - narrow[0] == pytest.approx(0.021, abs=0.001)
    with pytest.raises(FerError, match="fraction"):
        accuracy_interval(1.5, 100)
    # As read from a file: a missing accuracy or image count gives no interval, a float count the same one.
    assert recorded_interval(0.5, 100.0) == accuracy_interval(0.5, 100)
    assert recorded_interval(None, 100) is recorded_interval(0.5, None) is recorded_interval(0.5, float("nan")) is None


def test_the_unpaired_interval_is_newcombes_worked_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17, table II, example (a): 56/70 against 48/80, method 10.
    low, high = unpaired_interval(48 / 80, 80, 56 / 70, 70)
    assert (low, high) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_the_disagreement_a_paired_test_needs_is_where_mcnemar_turns() -> None:
    """S4's 0.84-point lead over S2 on 7,178 images: McNemar passes below the share, fails above it."""
    n, difference = 7178, 0.0084
    needed = paired_disagreement_needed(difference, n)
    assert needed == pytest.approx(0.1318, abs=1e-4)
    for share, significant in ((0.85, True), (1.15, False)):
        discordant = round(share * needed * n)
        only_b = round((discordant + n * difference) / 2)
        assert (mcnemar_exact(discordant - only_b, only_b) < 0.05) is significant


def test_per_class_intervals_are_the_bootstrap_over_images() -> None:
    """From the confusion matrix alone, the same intervals as resampling the images themselves and
    scoring each resample with scikit-learn; a rare class's are the widest."""
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    rng = np.random.default_rng(3)
    labels = rng.choice(7, size=600, p=[0.14, 0.02, 0.14, 0.25, 0.17, 0.17, 0.11])
    predicted = np.where(rng.random(600) < 0.65, labels, rng.integers(0, 7, 600))
    intervals = per_class_intervals(confusion_matrix(labels, predicted, labels=range(7)), resamples=4000)
    resampled = []
    for _ in range(2000):
        drawn = rng.integers(0, 600, 600)
        resampled.append(precision_recall_fscore_support(labels[drawn], predicted[drawn], labels=range(7), zero_division=0)[:3])
    literal = np.quantile(np.array(resampled), [0.025, 0.975], axis=0)  # (2, score, class)
    for index, score in enumerate(("precision", "recall", "f1")):
        low, high = intervals[score]
        np.testing.assert_allclose(low, literal[0, index], atol=0.04)
        np.testing.assert_allclose(high, literal[1, index], atol=0.04)
    widths = intervals["recall"][1] - intervals["recall"][0]
    assert widths.argmax() == 1 and widths[1] > 3 * widths[3]  # disgust (2%) against happy (25%)


def test_a_perfect_run_has_no_spread_and_no_images_is_refused() -> None:
    intervals = per_class_intervals(np.diag([5, 1, 5, 9, 6, 6, 4]))
    for low, high in intervals.values():
        assert low.tolist() == high.tolist() == [1.0] * 7
    with pytest.raises(FerError, match="no test images"):
        per_class_intervals(np.zeros((7, 7), int))
