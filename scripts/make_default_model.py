"""Commit a completed compact-CNN run as the Classify page's default model.

    python -m scripts.make_default_model RUN_ID

Copies the run's config, status, history, metrics and ``model.keras`` (float32, no optimizer
state: about 1.2 MB) into ``artifacts/reference/RUN_ID/``, and adds to its metrics the test
metrics under the other protocol, so the model's accuracy is known both ways: a run trained
under the standard protocol (best epoch on PublicTest, reported on PrivateTest) also gets its
accuracy on all 7,178 test images (which include the PublicTest images it was selected on).
"""

from __future__ import annotations

import sys

from fer import data, runs
from fer.evaluate import classification_metrics
from fer.paths import atomic_write_json, read_json
from fer.predict import classify_faces, load_classifier


def main(run_id: str) -> None:
    run = runs.get_run(run_id)
    if run.config.arch != "cnn":
        raise SystemExit(f"{run_id} is a {run.config.arch} run: only the compact CNN is small enough to commit")
    target = runs.export_reference(run_id, runs.REFERENCE_DIR, include_model=True)
    dataset = data.load_dataset(run.config.data)
    other = "thesis" if run.config.protocol == "standard" else "standard"
    test = data.protocol_splits(dataset, other)["test"]
    probabilities = classify_faces(load_classifier(target / "model.keras"), dataset.images[test])
    metrics = read_json(target / "metrics.json")
    metrics["other_protocols"] = {other: classification_metrics(dataset.labels[test], probabilities)}
    atomic_write_json(target / "metrics.json", metrics)
    print(
        f"{target}: {run.config.protocol} test accuracy {metrics['test_accuracy']:.4f}, "
        f"{other} test accuracy {metrics['other_protocols'][other]['test_accuracy']:.4f}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
