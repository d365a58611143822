"""The published study's results (Table 4.2, its model figures 4.2-4.5), other published FER2013
results (its figure 4.15), and this project's runs and models set beside them.

Precision and recall in the study are macro averages (see :mod:`fer.evaluate`), so ours are
compared on the same footing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from fer.runs import scored_on
from fer.scenarios import SCENARIOS
from fer.significance import interval_text, paired_disagreement_needed, recorded_interval, unpaired_interval
from fer.store import TEST_SPLITS, number
from fer.vocab import AUGMENTATIONS

STUDY_TABLE = pd.DataFrame(
    [
        ("S1", "ResNet50", "none", 0.6698, 0.67, 0.67, 0.9651, 2121.9),
        ("S2", "VGG19", "none", 0.7074, 0.70, 0.68, 0.8741, 598.7),
        ("S3", "ResNet50", "oversample", 0.6707, 0.68, 0.66, 0.9664, 2205.2),
        ("S4", "VGG19", "oversample", 0.7158, 0.73, 0.69, 0.9737, 3755.9),
    ],
    columns=["scenario", "model", "balance", "test_accuracy", "precision", "recall", "train_accuracy", "train_seconds"],
).set_index("scenario")
"""Table 4.2: test accuracy, macro precision, macro recall, training accuracy, training seconds."""

METRIC_COLUMNS = {
    "test_accuracy": "test accuracy",
    "precision": "precision (macro)",
    "recall": "recall (macro)",
    "train_accuracy": "train accuracy",
    "train_seconds": "train seconds",
}
"""The compared numbers: :func:`run_row` keys (and :data:`STUDY_TABLE` columns) -> column labels."""

WALL_SECONDS = "wall-clock seconds"
"""The comparison table's column of each run's wall-clock time, start to results."""

DIFFERENCE_SUFFIX = " − study"
"""Ends the label of a column of differences, ours minus the study's."""
ACCURACY_INTERVAL = "test accuracy: 95% interval"
"""The comparison table's column of each run's test accuracy's 95% interval over the sampling of
its test images (:func:`fer.significance.accuracy_interval`): ±1 point on 7,178 images, ±5 on 296."""
DIFFERENCE_INTERVAL = "test accuracy − study: 95% interval"
"""The comparison table's column of the 95% interval of a like-for-like run's test accuracy minus
the study's: how far apart the two could be, given the sampling noise of 7,178 test images."""

STUDY_DATA = {"dataset": "full", "protocol": "thesis", "test_images": 7178}
"""What the study's Table 4.2 was scored on: the full FER2013 under the thesis protocol, all
7,178 test images. Only a run with the same ``metrics.json`` facts is set beside its numbers."""

STUDY_NOTE = "beside the study"
"""The comparison table's column saying whether a run's numbers are like for like with the
study's, and if not, why its study columns are empty."""
LIKE_FOR_LIKE = "like for like"


def study_column(metric: str) -> str:
    """The label of the study's ``metric`` column, e.g. ``study test accuracy``."""
    return f"study {METRIC_COLUMNS[metric]}"


def difference_column(metric: str) -> str:
    """The label of our ``metric`` minus the study's, e.g. ``test accuracy − study``."""
    return METRIC_COLUMNS[metric] + DIFFERENCE_SUFFIX


def study_mismatch(metrics: dict[str, Any]) -> list[str]:
    """Why a run's numbers are not like for like with the study's (:data:`STUDY_DATA`), e.g.
    ``["sample data", "standard protocol"]``; empty when they are.

    Why: a run on the shipped sample (a few hundred test faces) or scored on PrivateTest alone
    gives numbers that differ from the study's for reasons other than the model, so the
    comparison table leaves its study columns empty rather than print a difference that
    reads as a result. A fact ``metrics.json`` does not record counts as a mismatch.
    """
    dataset, protocol, images = metrics.get("dataset"), metrics.get("protocol"), number(metrics.get("test_images"))
    reasons = []
    if dataset != STUDY_DATA["dataset"]:
        reasons.append(f"{dataset} data" if isinstance(dataset, str) and dataset else "data not recorded")
    if protocol != STUDY_DATA["protocol"]:
        reasons.append(f"{protocol} protocol" if isinstance(protocol, str) and protocol else "protocol not recorded")
    if not reasons and images != STUDY_DATA["test_images"]:  # the data and protocol already say why otherwise
        reasons.append(f"{images:,} test images" if images is not None else "test images not recorded")
    return reasons


def run_row(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """One row of the comparison table from a run's ``metrics.json``; what it lacks, or holds
    as something other than a number, stays None.

    Beside the table's columns it holds what the accuracy charts label bars with: ``split`` and
    ``scored_on`` (the test images, short and with their count; ``test_images``, their number, sets
    the width of a bar's interval) and ``other_scores``, the same
    model's accuracy under the other protocol where its ``metrics.json`` keeps one; and
    ``dataset``, which the chart beside published results keeps only full-data runs by.
    """
    data = ", ".join(str(metrics[key]) for key in ("dataset", "protocol") if metrics.get(key))
    if number(metrics.get("test_images")):
        images = f"{metrics['test_images']:,} test images"
        data = f"{data} ({images})" if data else images
    machine = " / ".join(str(metrics[key]) for key in ("backend", "device") if metrics.get(key))
    scenario = metrics.get("scenario")
    scenario = scenario if isinstance(scenario, str) else "custom"
    mismatch = study_mismatch(metrics)
    if scenario not in STUDY_TABLE.index:
        note = "no study scenario"
    else:
        note = f"not like for like: {', '.join(mismatch)}" if mismatch else LIKE_FOR_LIKE
    return {
        "run": name,
        "scenario": scenario,
        "study_note": note,
        "dataset": metrics.get("dataset"),
        "split": _split_label(metrics.get("test_split"), metrics.get("dataset"), metrics.get("test_images")),
        "scored_on": scored_on(metrics.get("test_split"), metrics.get("dataset"), metrics.get("test_images")),
        "other_scores": _other_scores(metrics),
        "test_accuracy": number(metrics.get("test_accuracy")),
        "test_images": number(metrics.get("test_images")),
        "precision": number(metrics.get("precision_macro")),
        "recall": number(metrics.get("recall_macro")),
        "train_accuracy": number(metrics.get("train_accuracy")),
        "train_seconds": number(metrics.get("train_seconds")),
        "wall_seconds": number(metrics.get("wall_seconds")),
        "epochs": number(metrics.get("epochs_run")),
        "data": data or None,
        "backend / device": machine or None,
        "weights": metrics.get("weights"),
    }


def _other_scores(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's accuracy under each other protocol its ``metrics.json`` keeps (``other_protocols``,
    e.g. a standard-protocol reference run scored again on all 7,178 test images), each with the
    images it was measured on; a damaged entry is left out."""
    others, dataset = metrics.get("other_protocols"), metrics.get("dataset")
    scores = []
    for protocol, values in (others.items() if isinstance(others, dict) else ()):
        accuracy = number(values.get("test_accuracy")) if isinstance(values, dict) else None
        split = TEST_SPLITS.get(protocol)
        if accuracy is None or split is None:
            continue
        scored = scored_on(split, dataset, values.get("test_images"))
        if metrics.get("protocol") == "standard" and protocol == "thesis":
            scored += "; includes PublicTest, on which the epoch was chosen"
        scores.append({
            "accuracy": accuracy, "split": _split_label(split, dataset, values.get("test_images")), "scored_on": scored,
            "test_images": number(values.get("test_images")),
        })
    return scores


def _split_label(split: Any, dataset: Any, images: Any) -> str:
    """The test images as a bar's name ends: ``all 7,178 test images`` with their count (the
    study's wording), ``PrivateTest`` without (its count is in the table)."""
    return scored_on(split, dataset, images if split == TEST_SPLITS["thesis"] else None)


def bar_name(row: dict[str, Any], separator: str = " ") -> str:
    """A run's name on an accuracy bar, followed by the test images it was scored on, e.g.
    ``S2 VGG19 · … (all 296 test images of the sample data)`` or ``… (PrivateTest)``.

    Why: runs scored on a few hundred sample faces, on PrivateTest or on all 7,178 test images
    share an axis in the charts, and their numbers can't be ranked against each other; the name
    says which images each bar is. ``separator`` goes between the two (``<br>`` in a chart
    whose bar names run along the x axis)."""
    return f"{row['run']}{separator}({row.get('split') or 'test images not recorded'})"


def run_rows(metrics: Mapping[str, dict[str, Any] | None], *, study_scenarios_only: bool = False) -> list[dict[str, Any]]:
    """:func:`run_row` of each finished run's metrics, by name (as :func:`fer.runs.comparable_runs`
    names the runs), in order: what the Overview and Compare pages and ``python -m fer study`` set
    beside the study. The metrics, not the runs, so that a page that already read them (Compare)
    does not read every file again.

    ``study_scenarios_only`` leaves out runs of no scenario the study has (custom runs).
    """
    rows = [run_row(name, values or {}) for name, values in metrics.items()]
    return [row for row in rows if not study_scenarios_only or row["scenario"] in STUDY_TABLE.index]


def comparison_table(rows: list[dict[str, Any]], differences: bool = True) -> pd.DataFrame:
    """Runs beside the study, with readable column names: for each run of S1-S4 scored like the
    study (:data:`STUDY_DATA`), the study's numbers and (``differences``) ours minus the study's.

    Other runs get empty study columns, and the :data:`STUDY_NOTE` column says why: custom runs
    have no study counterpart, and a run on the sample or under the standard protocol was
    scored on other test images than the study's 7,178, so a difference would mislead. The test
    accuracy comes with its 95% interval (:data:`ACCURACY_INTERVAL`), and so does its difference
    from the study's (:data:`DIFFERENCE_INTERVAL`).
    """
    runs = pd.DataFrame(rows)
    if runs.empty:
        return runs
    table = runs[["run", "scenario"]].copy()
    table[STUDY_NOTE] = runs["study_note"]
    like = runs["study_note"] == LIKE_FOR_LIKE
    for metric, label in METRIC_COLUMNS.items():
        ours, study = pd.to_numeric(runs[metric]), runs["scenario"].map(STUDY_TABLE[metric]).where(like)
        table[label] = ours
        if metric == "test_accuracy":
            table[ACCURACY_INTERVAL] = [_accuracy_text(accuracy, n) for accuracy, n in zip(ours, runs["test_images"])]
        table[study_column(metric)] = study
        if differences:
            table[difference_column(metric)] = ours - study
        if differences and metric == "test_accuracy":
            table[DIFFERENCE_INTERVAL] = [_interval_text(them, us) for them, us in zip(study, ours)]
    # Wall-clock seconds (data, compilation, training, the test) have no study counterpart: the
    # study's seconds are training time, as ours in "train seconds" are.
    facts = runs[["wall_seconds", "epochs", "data", "backend / device", "weights"]].rename(
        columns={"wall_seconds": WALL_SECONDS}
    )
    return pd.concat([table, facts.astype({WALL_SECONDS: float})], axis=1)


def _accuracy_text(accuracy: float, n: float | None) -> str | None:
    """``0.686 to 0.716``: a run's test accuracy's 95% interval over its ``n`` test images."""
    interval = recorded_interval(accuracy, n)
    return None if interval is None else f"{interval[0]:.3f} to {interval[1]:.3f}"


def _interval_text(study_accuracy: float, our_accuracy: float) -> str | None:
    """``−4.2 to −1.2``: the 95% interval of ours minus the study's, both on the study's 7,178
    test images; unpaired, as the study's per-image answers are not published."""
    if pd.isna(study_accuracy) or pd.isna(our_accuracy):
        return None
    low, high = unpaired_interval(study_accuracy, STUDY_DATA["test_images"], our_accuracy, STUDY_DATA["test_images"])
    return f"{interval_text(low, high)} points"


def number_formats(table: pd.DataFrame) -> dict[str, str]:
    """``Styler.format`` strings for a comparison or study table's numeric columns.

    Fractions get four decimals (the study's precision), differences a sign, seconds none;
    :func:`study_differences` and :func:`study_speeds` columns as :data:`COLUMN_FORMATS` says.
    """
    formats = {}
    for column in table.columns:
        if column in COLUMN_FORMATS:
            formats[column] = COLUMN_FORMATS[column]
            continue
        if not pd.api.types.is_numeric_dtype(table[column]) or column == "epochs":
            continue
        seconds = "seconds" in column
        signed = column.endswith(DIFFERENCE_SUFFIX)
        formats[column] = "{:" + ("+" if signed else "") + (",.0f" if seconds else ".4f") + "}"
    return formats


def markdown_table(table: pd.DataFrame) -> str:
    """``table`` as a Markdown table, numbers formatted as the pages show them (missing: "—"),
    for pasting results into a README or a note."""
    formats = number_formats(table)
    rows = [
        [_markdown_cell(value, formats.get(column)) for column, value in row.items()]
        for _, row in table.iterrows()
    ]
    numeric = [pd.api.types.is_numeric_dtype(table[column]) for column in table.columns]
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _markdown_cell(value: Any, number_format: str | None) -> str:
    if pd.isna(value):
        return "—"
    if number_format:
        return number_format.format(value)
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def study_table() -> pd.DataFrame:
    """The study's Table 4.2 with readable column names."""
    return STUDY_TABLE.reset_index().rename(columns={"balance": "balancing", **METRIC_COLUMNS})


STUDY_COMPARISONS = (
    ("oversampling, ResNet50", "S1", "S3"),
    ("oversampling, VGG19", "S2", "S4"),
    ("VGG19 against ResNet50", "S1", "S2"),
    ("VGG19 against ResNet50, oversampled", "S3", "S4"),
)
"""The questions Table 4.2 answers, each as (what is compared, scenario A, scenario B): B - A."""
DISAGREEMENT_COLUMN = "paired test: significant if they disagree on under"
"""The :func:`study_differences` column of the largest share of test images two scenarios could
disagree on for a paired test to find their difference; 100% where any share would do."""


def study_differences() -> pd.DataFrame:
    """How sure each of the study's conclusions is: each difference in :data:`STUDY_COMPARISONS`,
    in points, with its 95% interval over the sampling of its 7,178 test images.

    Why: the study trained each scenario once and reports four decimals, so S4's lead over S2 reads
    as a finding. The study gives no per-image answers, so the interval is the unpaired one
    (:func:`fer.significance.unpaired_interval`); its scenarios shared their test images, and a
    paired test could be sharper, but only if the two networks disagreed on fewer images than
    the last column says (:func:`fer.significance.paired_disagreement_needed`).
    """
    n, rows = STUDY_DATA["test_images"], []
    for question, a, b in STUDY_COMPARISONS:
        accuracy_a, accuracy_b = STUDY_TABLE.loc[a, "test_accuracy"], STUDY_TABLE.loc[b, "test_accuracy"]
        low, high = unpaired_interval(accuracy_a, n, accuracy_b, n)
        rows.append({
            "comparison": question,
            "difference": f"{b} − {a}",
            "points": round((accuracy_b - accuracy_a) * 100, 2),
            "95% interval (points)": interval_text(low, high),
            DISAGREEMENT_COLUMN: min(1.0, paired_disagreement_needed(accuracy_b - accuracy_a, n)),
            "verdict": "beyond test-set noise" if low > 0 or high < 0 else "within test-set noise",
        })
    return pd.DataFrame(rows)


STUDY_EPOCHS = 100
STUDY_TRAINING_IMAGES = {"none": 28_709, "oversample": 50_505}
"""Faces per training epoch in the study, by balancing: FER2013's Training split, and that split
oversampled to its largest class (7,215 happy faces, 7 times)."""
SLOWER_SPEED_EPOCHS = "epochs at the same network's slower speed"
"""The :func:`study_speeds` column: how many epochs a scenario's seconds buy at the speed of the
same network's slower scenario (100 for that one)."""


def study_speeds() -> pd.DataFrame:
    """The training speed Table 4.2's seconds imply if every scenario trained its 100 epochs.

    Why: the table's training times read as a property of each network and balancing, but the
    same VGG19 would then have trained 3.6 times slower on oversampled data (S4) than on the
    data as it is (S2), while ResNet50 trained faster oversampled (S3) than not (S1). At S4's
    speed, S2's 598.7 s are 28 epochs, and S2's training accuracy (0.874 against 0.965-0.974
    for the other three) fits a run that stopped early. The study states neither early stopping
    nor its hardware, so its times compare sessions, not networks.
    """
    images = STUDY_TABLE["balance"].map(STUDY_TRAINING_IMAGES)
    speeds = images * STUDY_EPOCHS / STUDY_TABLE["train_seconds"]
    slower = speeds.groupby(STUDY_TABLE["model"]).transform("min")
    return pd.DataFrame({
        "scenario": STUDY_TABLE.index,
        "model": STUDY_TABLE["model"].to_numpy(),
        "faces per epoch": images.to_numpy(),
        "train seconds": STUDY_TABLE["train_seconds"].to_numpy(),
        "img/s if 100 epochs": speeds.round().to_numpy(),
        "train accuracy": STUDY_TABLE["train_accuracy"].to_numpy(),
        SLOWER_SPEED_EPOCHS: (STUDY_TABLE["train_seconds"] * slower / images).round(1).to_numpy(),
    })


COLUMN_FORMATS = {
    "points": "{:+.2f}", "study (points)": "{:+.2f}", "McNemar p": "{:.2g}", DISAGREEMENT_COLUMN: "{:.1%}",
    "faces per epoch": "{:,.0f}", "img/s if 100 epochs": "{:,.0f}", SLOWER_SPEED_EPOCHS: "{:.1f}", "test faces": "{:,.0f}",
}
"""Formats of the columns of :func:`study_differences`, :func:`study_speeds` and
:func:`fer.compare.study_comparisons` and :func:`fer.compare.paired_emotion_table` that are neither fractions nor seconds."""


def scenarios_table() -> pd.DataFrame:
    """The study's four scenarios as this project runs them: what the study fixed and the
    defaults chosen where it said nothing (batch size, learning rate, starting weights). Short column names and
    the long augmentation text last, so that the numbers fit the page's width."""
    return pd.DataFrame(
        [
            {
                "scenario": name,
                "model": STUDY_TABLE.loc[name, "model"],
                "balancing": config.balance,
                "epochs": config.epochs,
                "batch size": config.batch_size,
                "learning rate (Adam)": config.learning_rate,
                "weights": config.weights,
                "augmentation": AUGMENTATIONS[config.augment],
            }
            for name, config in SCENARIOS.items()
        ]
    )


# --------------------------------------------------------------------------------------------
# The study's model figures (4.2-4.5): Keras summaries before and after the head is replaced

IMAGENET_ORIGINAL = "ImageNet original"
"""keras.applications with its ImageNet top: 224x224x3 input, 1,000 classes."""
HEAD_REPLACED = "head replaced"
"""The base without its top + GlobalAveragePooling2D + Dense(7): what the study trained ("fine tuning")."""

STUDY_MODEL_FIGURES = pd.DataFrame(
    [
        ("vgg19", IMAGENET_ORIGINAL, "total", 143_667_240, ""),
        ("vgg19", HEAD_REPLACED, "total", 20_027_975, ""),
        (
            "vgg19",
            HEAD_REPLACED,
            "base",
            20_024_383,
            ("The figure prints 20,024,383; Keras counts 20,024,384. Each VGG19 convolution has "
            "out·(9·in + 1) parameters with out from 64 to 512, an even number, so the base's count is even; "
            "and the study's own total agrees with Keras: 20,027,975 = 20,024,384 + 3,591 (Dense(7): "
            "512·7 + 7). An off-by-one typo in the figure."),
        ),
        ("resnet50", IMAGENET_ORIGINAL, "total", 25_636_712, ""),
        ("resnet50", IMAGENET_ORIGINAL, "trainable", 25_583_592, ""),
        ("resnet50", IMAGENET_ORIGINAL, "non-trainable", 53_120, "batch-norm moving means and variances"),
        ("resnet50", HEAD_REPLACED, "total", 23_602_055, ""),
        ("resnet50", HEAD_REPLACED, "trainable", 23_548_935, ""),
        ("resnet50", HEAD_REPLACED, "non-trainable", 53_120, "the head has no batch norm: unchanged"),
    ],
    columns=["arch", "version", "quantity", "study", "note"],
)
"""Parameter counts as the study's figures print them; a quantity a figure does not give is absent."""


def model_figures_beside_ours(arch: str, ours: pd.DataFrame) -> pd.DataFrame:
    """The study's printed counts for ``arch`` beside this project's and the difference.

    ``ours`` is :attr:`fer.architecture.Anatomy.versions` (one row per version, a column per
    quantity). Empty for an architecture the study did not train.
    """
    figures = STUDY_MODEL_FIGURES[STUDY_MODEL_FIGURES["arch"] == arch].drop(columns="arch")
    counted = ours.set_index("version")
    figures.insert(3, "ours", [int(counted.loc[v, q]) for v, q in zip(figures["version"], figures["quantity"])])
    figures.insert(4, "difference", figures["ours"] - figures["study"])
    return figures.reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# Published FER2013 results (the study's figure 4.15)

ALL_TEST = "all 7,178 test images (PublicTest + PrivateTest)"
PRIVATE_TEST = "PrivateTest (3,589 images)"
PUBLISHED_TEST_IMAGES = {ALL_TEST: 7178, PRIVATE_TEST: 3589}
"""How many test images a published result's split holds: the width of its interval; a split not
verified here has none."""

PUBLISHED_RESULTS = pd.DataFrame(
    [
        (
            "Kusuma et al. 2020: VGG16 fine-tuned", 0.6940, "not verified here", "single", "ImageNet",
            ("Kusuma, Jonathan, Lim: Emotion Recognition on FER-2013 Face Images Using Fine-Tuned VGG-16, "
            "ASTESJ 5(6), 2020"),
            "with class balancing; the balancing method and the split it was scored on are not verified here",
        ),
        (
            "Khaireddin & Chen 2021: VGGNet", 0.7328, PRIVATE_TEST, "single", "none (from scratch)",
            ("Khaireddin, Chen: Facial Emotion Recognition: State of the Art Performance on FER2013, "
            "arXiv:2105.03588, 2021"),
            "tuned hyper-parameters and optimiser, no extra data",
        ),
        (
            "Pham et al. 2020: ResMaskingNet", 0.7414, PRIVATE_TEST, "single", "ImageNet (ResNet34 backbone)",
            ("Pham, Vu, Tran: Facial Expression Recognition Using Residual Masking Network, 25th ICPR "
            "(2020), pp. 4513-4519; github.com/phamquiluan/ResidualMaskingNetwork"),
            "faces upscaled to 224x224; the ImageNet start is what the authors' code loads (not verified in the paper here)",
        ),
        (
            "Pham et al. 2020: ResMaskingNet + 6 (ensemble)", 0.7682, PRIVATE_TEST, "ensemble of 7",
            "ImageNet", "as above", "ResMaskingNet averaged with six other CNNs",
        ),
        (
            "fer package (PyPI), shipped model", 0.584, ALL_TEST, "single", "not documented",
            "the fer package's bundled emotion model, measured by this project",
            "measured here on the Kaggle test folder; how the package's model was trained is not documented",
        ),
    ],
    columns=["result", "accuracy", "test split", "models", "weights", "source", "note"],
)
"""Published FER2013 accuracies with their protocol, to set the study's and ours beside.

Only what the sources state is filled in; "not verified here" and the notes mark the rest.
"""

STUDY_WEIGHTS = "not stated (the study calls replacing the head fine tuning)"


def accuracy_landscape(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """This project's runs (:func:`run_row` dicts), the study's S1-S4 and :data:`PUBLISHED_RESULTS`
    in one table, one row per bar of the accuracy chart (the study's figure 4.15), best first.

    Only runs on the full FER2013 are in it: a run on the shipped sample, scored on a few hundred
    faces, compares with none of these results, and a bar beside them would read as if it did
    (so would a run that does not record its data).

    A run whose ``metrics.json`` also keeps its score under the other protocol gets a bar for
    each, both labelled with their test images (``… (PrivateTest)``, ``… (all 7,178 test
    images)``): a standard-protocol run's PrivateTest number alone was scored on other images
    than the study's bars, which were scored on all 7,178.
    """
    full = [row for row in rows if row.get("dataset") == STUDY_DATA["dataset"]]
    columns = ["result", "accuracy", "test split", "test images", "models", "weights", "group"]
    ours = pd.DataFrame([bar for row in full for bar in _run_bars(row)], columns=["result", "accuracy", "test split", "test images", "weights"])
    ours = ours.assign(models="single", group="this project")[columns]
    studied = pd.DataFrame(
        {
            "result": [f"study {name} {model}" + ("" if balance == "none" else f" + {balance}")
                       for name, model, balance in zip(STUDY_TABLE.index, STUDY_TABLE["model"], STUDY_TABLE["balance"])],
            "accuracy": STUDY_TABLE["test_accuracy"].to_numpy(),
            "test split": ALL_TEST,
            "test images": STUDY_DATA["test_images"],
            "models": "single",
            "weights": STUDY_WEIGHTS,
            "group": "the study",
        }
    )
    others = PUBLISHED_RESULTS.drop(columns=["source", "note"]).assign(
        group="other work", **{"test images": PUBLISHED_RESULTS["test split"].map(PUBLISHED_TEST_IMAGES)}
    )[columns]
    table = pd.concat([frame for frame in (ours, studied, others) if not frame.empty], ignore_index=True)
    return table.sort_values("accuracy", ascending=False, ignore_index=True)


def _run_bars(row: dict[str, Any]) -> list[tuple[str, float | None, str | None, float | None, Any]]:
    """A run's bars (result, accuracy, test split, test images, weights): its own test accuracy and
    any score under another protocol (:func:`_other_scores`); with more than one, each name says its split."""
    others = row.get("other_scores") or []
    own_split = row.get("scored_on") or row.get("data")
    own = (row["test_accuracy"], own_split, row.get("test_images"), row.get("weights"))
    if not others:
        return [(row["run"], *own)]
    bars = [(bar_name(row), *own)]
    bars += [
        (f"{row['run']} ({other['split']})", other["accuracy"], other["scored_on"], other.get("test_images"), row.get("weights"))
        for other in others
    ]
    return bars
