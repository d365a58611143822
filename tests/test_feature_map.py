"""The feature map: what a network's last layer reads, laid out in 2-D, on the sample's real test
faces with the committed default model and with a real finished run."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest

from fer import compare, feature_map, runs, store
from fer.data import load_sample
from fer.dataset import protocol_splits
from fer.errors import FerError
from fer.inference import classify_faces, load_classifier
from fer.vocab import CLASSES

from .conftest import REFERENCE_ID


def neighbours_agree(points: np.ndarray, emotions: np.ndarray, k: int = 10) -> np.ndarray:
    """Whether the commonest emotion among each point's ``k`` nearest other points is its own, by brute force."""
    distances = np.linalg.norm(points[:, None] - points[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    nearest = np.argsort(distances, axis=1, kind="stable")[:, :k]
    votes = np.array([np.bincount(emotions[row], minlength=7).argmax() for row in nearest])
    return votes == emotions


def test_the_features_are_what_the_last_layer_reads_and_the_map_keeps_neighbours(committed_references: Path) -> None:
    model = load_classifier(store.reference_run(REFERENCE_ID).model_path)
    sample = load_sample()
    faces = sample.images[protocol_splits(sample, "thesis")["test"]]
    features = feature_map.face_features(model, faces, batch_size=100)  # batches that don't divide the 296 faces
    assert features.shape == (len(faces), 256)
    weights, bias = model.get_layer("emotion").get_weights()
    logits = features @ weights + bias
    through_the_layer = np.exp(logits - logits.max(axis=1, keepdims=True))
    through_the_layer /= through_the_layer.sum(axis=1, keepdims=True)
    probabilities = classify_faces(model, faces)
    assert through_the_layer == pytest.approx(probabilities, abs=1e-5)

    points = feature_map.layout(features)
    assert points.shape == (len(faces), 2) and np.isfinite(points).all()
    assert np.array_equal(points, feature_map.layout(features))  # seeded: the same map again
    answers = probabilities.argmax(axis=1)
    labels = sample.labels[protocol_splits(sample, "thesis")["test"]]
    drawn = feature_map.FeatureMap(points, labels, answers, probabilities.max(axis=1), faces, 256)
    answered, true, by_emotion = drawn.agreement()
    assert answered == neighbours_agree(points, answers).mean()
    assert true == neighbours_agree(points, labels).mean()
    assert by_emotion["happy"] == neighbours_agree(points, labels)[labels == CLASSES.index("happy")].mean()
    # Faces the network answers alike lie together on the map (86% here); shuffled places agree by chance (18%).
    assert answered > 0.7 and true < answered
    assert neighbours_agree(np.random.default_rng(0).permutation(points), answers).mean() < 0.4


def test_a_runs_map_holds_its_test_faces_in_order_with_its_answers(finished_run: str) -> None:
    run = runs.get_run(finished_run)
    drawn = feature_map.feature_map(run)
    labels = compare.test_labels(run)
    probabilities = run.probabilities()
    assert np.array_equal(drawn.labels, labels)
    assert np.array_equal(drawn.answers, probabilities.argmax(axis=1))
    assert drawn.confidence == pytest.approx(probabilities.max(axis=1))
    sample = load_sample()
    assert np.array_equal(drawn.images, sample.images[protocol_splits(sample, run.config.protocol)["test"]])
    table = drawn.table()
    assert list(table.columns) == ["face", "true", "answered", "probability", "x", "y"]
    assert len(table) == len(labels) == drawn.points.shape[0] and drawn.features == 128
    assert (table["true"] == [CLASSES[i] for i in labels]).all()


def test_what_cant_be_mapped_says_why(finished_run: str) -> None:
    run = runs.get_run(finished_run)
    run.model_path.unlink()
    with pytest.raises(FerError, match="kept no model file"):
        feature_map.feature_map(run)
    with pytest.raises(FerError, match="too few to lay out"):
        feature_map.layout(np.ones((feature_map.PERPLEXITY, 8), np.float32))
    faces = keras.Input((48, 48, 1))
    pooled = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(7, 3)(faces))
    with pytest.raises(FerError, match="no Dense layer"):
        feature_map.face_features(keras.Model(faces, keras.layers.Softmax()(pooled)), np.zeros((2, 48, 48), np.uint8))


def test_the_map_command_writes_the_map_and_its_numbers(
    finished_run: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from fer import cli

    drawn = feature_map.feature_map(runs.get_run(finished_run))
    answered, true, by_emotion = drawn.agreement()
    written = tmp_path / "map.csv"
    assert cli.main(["map", finished_run, "--csv", str(written), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["faces"], document["features"], document["neighbours"]) == (len(drawn.labels), 128, 10)
    assert (document["share_of_answers"], document["share_of_true"]) == (answered, true)
    assert document["share_of_true_by_emotion"] == by_emotion
    table = pd.read_csv(written)
    assert table[["face", "true", "answered"]].equals(drawn.table()[["face", "true", "answered"]])

    assert cli.main(["map", finished_run]) == 0
    assert capsys.readouterr().out == f"CNN · {finished_run}: {drawn.summary().replace('**', '')}\n"
    assert cli.main(["map", finished_run, "--json", "--csv", "-"]) == 2
    assert "would both write to stdout" in capsys.readouterr().err
    runs.get_run(finished_run).model_path.unlink()
    assert cli.main(["map", finished_run]) == 2
    assert "kept no model file" in capsys.readouterr().err
