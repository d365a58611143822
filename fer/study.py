"""The published study's results (Table 4.2), and this project's runs set beside them.

Precision and recall in the study are macro averages (see :mod:`fer.evaluate`), so ours are
compared on the same footing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from fer.scenarios import SCENARIOS

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


def run_row(name: str, metrics: dict[str, Any]) -> dict[str, Any]:
    """One row of the comparison table from a run's ``metrics.json``."""
    return {
        "run": name,
        "scenario": metrics.get("scenario", "custom"),
        "test_accuracy": metrics["test_accuracy"],
        "precision": metrics["precision_macro"],
        "recall": metrics["recall_macro"],
        "train_accuracy": metrics.get("train_accuracy"),
        "train_seconds": metrics.get("train_seconds"),
        "epochs": metrics.get("epochs_run"),
        "data": f"{metrics.get('dataset')}, {metrics.get('protocol')} ({metrics.get('test_images')} test images)",
        "backend / device": f"{metrics.get('backend')} / {metrics.get('device')}",
        "weights": metrics.get("weights"),
    }


def comparison_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Runs beside the study: for each run of S1-S4, the study's numbers and our difference.

    Custom runs have no study counterpart and get empty study columns.
    """
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    for column in METRIC_COLUMNS:
        study = table["scenario"].map(STUDY_TABLE[column])
        table[f"study {column}"] = study
        table[f"{column} diff"] = table[column] - study
    order = ["run", "scenario"]
    for column in METRIC_COLUMNS:
        order += [column, f"study {column}", f"{column} diff"]
    order += ["epochs", "data", "backend / device", "weights"]
    return table[order]


def scenarios_table() -> pd.DataFrame:
    """The study's four scenarios as this project runs them: what the study fixed and the
    defaults chosen where it said nothing (batch size, learning rate)."""
    return pd.DataFrame(
        [
            {
                "scenario": name,
                "model": STUDY_TABLE.loc[name, "model"],
                "balancing": config.balance,
                "augmentation": "random rotation, shift, shear, zoom, flip" if config.augment else "none",
                "epochs": config.epochs,
                "batch size (not stated by the study)": config.batch_size,
                "Adam learning rate (not stated by the study)": config.learning_rate,
            }
            for name, config in SCENARIOS.items()
        ]
    )
