"""Oversampling after the fact: the default model's answers divided by FER2013's class frequencies.

    FER_ARTIFACTS=/some/folder python -m experiments.prior_shift [--against RUN_ID]   # full FER2013 imported there

Why: random oversampling trains a model as if every emotion were as common as happy, which
shifts its answers towards the rare ones (experiments/README.md, "Oversampling, the study's
question"). Bayes' rule does that to a trained model's probabilities without any training:
``p(emotion | face) / p(emotion) ** strength``, renormalised, where ``p(emotion)`` is the emotion's
share of the Training split. Strength 0 leaves the model as it is, 1 answers as if every emotion
were equally common. Trains nothing: it scores the committed default model (shift TTA) on
PublicTest, where the strength is chosen (the highest macro recall), and on PrivateTest, where
the choice is tested paired against the model as it is and, with ``--against``, against a run
scored on the same PrivateTest faces (the oversampled fine-tuning, say).

Since 2026-12-07 every standard-protocol run fits this itself (:mod:`fer.priors`, its
``balanced_answers``), with a temperature of its own, and the Classify page and ``python -m fer
classify --balanced`` offer it; this script keeps the whole table of strengths and the paired tests.
"""

from __future__ import annotations

import argparse

from fer import evaluate, runs, store
from fer.balance import learnt_shares
from fer.data import load_dataset
from fer.dataset import protocol_splits
from fer.inference import classify_faces, load_classifier
from fer.priors import STRENGTHS, choose_strength, prior, recalls
from fer.significance import paired_comparison
from fer.temperature import tempered
from fer.vocab import CLASSES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", help="a run scored on the standard protocol's PrivateTest, to pair with")
    args = parser.parse_args()

    dataset = load_dataset("full")
    splits = protocol_splits(dataset, "standard")
    shares = learnt_shares(dataset.labels[splits["train"]], "none")
    default = next(run for run in store.reference_runs() if run.model_path.exists())
    model = load_classifier(default.model_path)
    scored = {
        split: (classify_faces(model, dataset.images[splits[split]], tta="shift"), dataset.labels[splits[split]])
        for split in ("validation", "test")
    }

    listed = ", ".join(f"{emotion} {share:.3f}" for emotion, share in zip(CLASSES, shares, strict=True))
    print(f"{default.display_name}, shift TTA; the emotions' shares of the Training split: {listed}\n")
    print("| strength | PublicTest accuracy | PublicTest macro recall | PrivateTest accuracy | PrivateTest macro recall | disgust recall |")
    print("|---:|---:|---:|---:|---:|---:|")
    for strength in STRENGTHS:
        cells = []
        for split in ("validation", "test"):  # the test split last: per_class is PrivateTest's
            probabilities, labels = scored[split]
            shifted = tempered(probabilities, 1.0, prior(shares, strength))
            per_class = recalls(labels, shifted, len(CLASSES))
            cells += [(shifted.argmax(axis=1) == labels).mean(), per_class.mean()]
        print(f"| {strength} | " + " | ".join(f"{cell:.4f}" for cell in cells) + f" | {per_class[CLASSES.index('disgust')]:.3f} |")

    validation_probabilities, validation_labels = scored["validation"]
    chosen = choose_strength(validation_labels, validation_probabilities, shares)  # the highest macro recall
    probabilities, labels = scored["test"]
    shifted = tempered(probabilities, 1.0, prior(shares, chosen))
    right = shifted.argmax(axis=1) == labels
    print(f"\nChosen on PublicTest: strength {chosen}. On PrivateTest, paired:")
    print(f"- against the model as it is: {paired_comparison(probabilities.argmax(axis=1) == labels, right).sentence()}")
    if args.against:
        run = runs.get_run(args.against)
        test = splits["test"]
        if (run.metrics() or {}).get("test_set") != evaluate.fingerprint(dataset.images[test], dataset.labels[test]):
            raise SystemExit(f"{run.display_name} was not scored on these PrivateTest faces: it can't be paired")
        theirs = run.probabilities()
        print(f"- against {run.display_name} (A): {paired_comparison(theirs.argmax(axis=1) == labels, right).sentence()}")
        per_class = recalls(labels, theirs, len(CLASSES))
        print(f"  its macro recall {per_class.mean():.4f}, disgust recall {per_class[CLASSES.index('disgust')]:.3f}")


if __name__ == "__main__":
    main()
