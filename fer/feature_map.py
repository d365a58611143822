"""Where a run's network puts its test faces: the features its last layer reads, laid out in 2-D.

A confusion matrix counts the mistakes; this map shows their shape. Every model here ends in one
Dense layer over a feature vector per face (the global average pool: 256 numbers for the
FER-CNN, 512 for VGG19, 2,048 for ResNet50). :func:`feature_map` reads those vectors for the
run's test faces and lays them out with t-SNE (after PCA to 50 dimensions, as its authors
advise), which keeps each face near the faces it is near in the feature space. So the emotions the
network keeps apart form islands (happy, surprise for the default model), the ones it merges
share ground (sad, neutral, fear), and a face among another emotion's faces is one the network
sees as that emotion. t-SNE keeps neighbours, not distances: the size of an island and the gap
between two mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fer.compare import DatasetLoader, scored_answers
from fer.data import load_dataset
from fer.errors import FerError
from fer.inference import check_faces, load_classifier, predict_in_batches
from fer.store import Run
from fer.vocab import CLASSES

if TYPE_CHECKING:
    import keras

NEIGHBOURS = 10
"""The nearest faces on the map that :meth:`FeatureMap.agreement` asks of each face."""
PCA_DIMENSIONS = 50
PERPLEXITY = 30
"""t-SNE's effective number of neighbours: scikit-learn's default, fine from a hundred faces to FER2013's 7,178."""


@dataclass(frozen=True)
class FeatureMap:
    """A run's test faces in evaluation order: where each lies on the map (``points``, ``(N, 2)``),
    its true emotion and the run's answer (indices into :data:`fer.vocab.CLASSES`, the answer from
    its kept test probabilities, as on its confusion matrix), the probability it gave that answer,
    the 48x48 faces themselves, and the width of the feature vectors laid out."""

    points: np.ndarray
    labels: np.ndarray
    answers: np.ndarray
    confidence: np.ndarray
    images: np.ndarray
    features: int

    def table(self) -> pd.DataFrame:
        """One row per face: its place in the run's test order, true emotion, answer, probability and map position."""
        return pd.DataFrame({
            "face": np.arange(len(self.labels)),
            "true": np.asarray(CLASSES)[self.labels],
            "answered": np.asarray(CLASSES)[self.answers],
            "probability": self.confidence.round(4),
            "x": self.points[:, 0].round(3),
            "y": self.points[:, 1].round(3),
        })

    def agreement(self, k: int = NEIGHBOURS) -> tuple[float, float, dict[str, float]]:
        """How well the map keeps faces together, in numbers to compare between runs: the share of
        faces whose ``k`` nearest other faces on it mostly carry the face's own answer, the same for
        its true emotion, and that by true emotion (ties go to the first emotion in
        :data:`fer.vocab.CLASSES`)."""
        from sklearn.neighbors import NearestNeighbors

        nearest = NearestNeighbors(n_neighbors=k).fit(self.points).kneighbors(return_distance=False)

        def agree(emotions: np.ndarray) -> np.ndarray:
            votes = np.array([np.bincount(row, minlength=len(CLASSES)).argmax() for row in emotions[nearest]])
            return votes == emotions

        answered, true = agree(self.answers), agree(self.labels)
        by_emotion = {
            name: float(true[self.labels == i].mean()) for i, name in enumerate(CLASSES) if (self.labels == i).any()
        }
        return float(answered.mean()), float(true.mean()), by_emotion

    def summary(self) -> str:
        """:meth:`agreement` in a sentence (Markdown), beside the run's accuracy on the same faces."""
        answered, true, by_emotion = self.agreement()
        ranked = sorted(by_emotion.items(), key=lambda item: -item[1])
        by_true = ", ".join(f"{name} {share:.0%}" for name, share in ranked)
        return (
            f"A face's {NEIGHBOURS} nearest faces on this map mostly share its answer for **{answered:.1%}** of the "
            f"faces, and its true emotion for **{true:.1%}** (the run's accuracy: "
            f"{(self.answers == self.labels).mean():.1%}). By true emotion: {by_true}."
        )


def face_features(model: keras.Model, faces: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The vectors ``(N, F)`` that ``model``'s last Dense layer reads for uint8 faces ``(N, 48, 48)``:
    the faces as they are, one view each (no test-time augmentation), so that a point is one face."""
    import keras

    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise FerError(f"model {model.name!r} has no Dense layer on top: there are no features to read before it")
    reader = keras.Model(model.inputs, dense[-1].input)
    faces = check_faces(faces)
    return predict_in_batches(reader, faces, batch_size).reshape(len(faces), -1)


def layout(features: np.ndarray, seed: int = 0) -> np.ndarray:
    """Points ``(N, 2)`` for feature vectors ``(N, F)``: PCA to :data:`PCA_DIMENSIONS`, then t-SNE
    (seeded, so a map drawn again is the same map)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    if len(features) <= PERPLEXITY:
        raise FerError(f"{len(features)} faces are too few to lay out: t-SNE needs more than {PERPLEXITY}")
    reduced = PCA(min(PCA_DIMENSIONS, *features.shape), random_state=seed).fit_transform(features)
    points = TSNE(2, perplexity=PERPLEXITY, init="pca", learning_rate="auto", random_state=seed).fit_transform(reduced)
    return points.astype(np.float32)


def feature_map(
    run: Run, model: keras.Model | None = None, load: DatasetLoader = load_dataset, seed: int = 0
) -> FeatureMap:
    """``run``'s test faces laid out as its network sees them (``model``: its model, loaded from
    the run's file when None). Raises FerError for a run without a model file, and where its test
    faces can't be matched (:func:`fer.compare.scored_faces`); about 20 s for PrivateTest's 3,589
    faces on a 2-core CPU, t-SNE half of it."""
    if model is None:
        if not run.model_path.exists():
            raise FerError(f"{run.display_name} kept no model file: there is no network to read the faces with")
        model = load_classifier(run.model_path)
    labels, probabilities, images = scored_answers(run, load)
    faces = images(np.arange(len(labels)))
    features = face_features(model, faces)
    answers = probabilities.argmax(axis=1)
    confidence = probabilities[np.arange(len(answers)), answers]
    return FeatureMap(layout(features, seed), labels, answers, confidence, faces, features.shape[1])
