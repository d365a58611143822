"""How a model holds up on worse photos: the degradations themselves, the measurement on a real
run's test faces, what the run keeps of it, and the command that measures it."""

from __future__ import annotations

import json
import os
from typing import Any

import cv2
import numpy as np
import pytest

from fer import cli, processes, robustness, runs, store
from fer.arrays import npz_bytes
from fer.compare import scored_faces
from fer.errors import FerError
from fer.inference import classify_faces, load_classifier
from fer.paths import atomic_write_json

from .conftest import better_on_worse_photos, copy_run, sample_images


def test_each_degradation_changes_an_enlarged_face_and_the_round_trip_none() -> None:
    face = sample_images()[612]
    grown = np.asarray(robustness.seen_as(face[None], 192, lambda image: image, prepare=lambda image: image))[0]
    assert grown.shape == (192, 192) and grown.dtype == np.uint8
    changed = {name: degrade(grown.copy()) for name, degrade in robustness.degradations().items()}
    assert list(changed)[0] == robustness.ROUND_TRIP and np.array_equal(changed[robustness.ROUND_TRIP], grown)
    small = {robustness.small_face(size): size for size in robustness.SMALL_FACES}
    for name, image in list(changed.items())[1:]:
        if name in small:  # a small face: as a camera took it, enlarged to 48x48 only as it is classified
            assert image.shape == (small[name], small[name]) and image.dtype == np.uint8, name
            image = cv2.resize(image, grown.shape, interpolation=cv2.INTER_LINEAR)
        assert image.shape == grown.shape and image.dtype == np.uint8, name
        assert np.abs(image.astype(int) - grown).mean() > 0.5, name  # each makes the face measurably worse
    assert list(small) == ["a 32-px face", "a 24-px face"] and list(changed)[-2:] == list(small)
    assert changed["darker (x0.5)"].mean() == pytest.approx(grown.mean() / 2, abs=1)
    assert changed["low contrast (x0.5)"].std() == pytest.approx(grown.std() / 2, rel=0.05)
    # Sizes scale with the face: a 96-px face is blurred half as far.
    assert "Gaussian blur, sigma 2 px" in robustness.degradations(96) and "motion blur, 8 px" in robustness.degradations(96)


def test_a_run_is_measured_on_its_own_test_faces_and_keeps_the_result(finished_run: str, few_conditions: None) -> None:
    run = runs.get_run(finished_run)
    before = run.metrics()
    heard: list[tuple[float, str]] = []
    measured = robustness.measure_run(run, progress=lambda fraction, message: heard.append((fraction, message)))
    # Worked out again here, condition by condition, from the same faces and the same model.
    dataset, test = scored_faces(run)
    faces, labels = dataset.images[test], dataset.labels[test]
    model = load_classifier(run.model_path)

    def right(degrade: Any) -> np.ndarray:
        return classify_faces(model, robustness.seen_as(faces, 192, degrade), tta=run.config.tta).argmax(axis=1) == labels

    conditions = robustness.degradations()
    assert measured.round_trip == pytest.approx(right(conditions[robustness.ROUND_TRIP]).mean())
    assert list(measured.conditions) == list(conditions)[1:]
    blurred = measured.conditions["Gaussian blur, sigma 4 px"]
    assert blurred.accuracy_b == pytest.approx(right(conditions["Gaussian blur, sigma 4 px"]).mean())
    assert blurred.n == len(test) and blurred.accuracy_a == measured.round_trip
    assert [fraction for fraction, _ in heard] == [n / len(conditions) for n in range(len(conditions))] + [1.0]
    assert heard[0][1] == f"{robustness.ROUND_TRIP}: classifying {len(test):,} faces ({run.config.tta} TTA)"
    # Kept in its metrics beside what was there, and read back as measured.
    after = run.metrics()
    assert {key: value for key, value in after.items() if key != robustness.KEY} == before
    assert robustness.stored(after) == measured
    table = robustness.table(measured)
    assert list(table["condition"]) == list(measured.conditions)
    assert table["points"].tolist() == pytest.approx([round(100 * p.difference, 2) for p in measured.conditions.values()])
    # And each face's answers, which pair two runs.
    kept = robustness.kept_answers(run)
    assert list(kept) == list(conditions)
    np.testing.assert_array_equal(kept["Gaussian blur, sigma 4 px"], right(conditions["Gaussian blur, sigma 4 px"]))


def test_two_measured_runs_are_paired_face_by_face_under_each_condition(finished_run: str, few_conditions: None) -> None:
    robustness.measure_run(runs.get_run(finished_run))
    better = better_on_worse_photos(finished_run, "deblurred", "Gaussian blur, sigma 4 px", gained=12)
    paired = robustness.paired_runs(runs.get_run(finished_run), runs.get_run(better))
    assert list(paired) == list(robustness.degradations())  # the round trip first
    blurred = paired.pop("Gaussian blur, sigma 4 px")
    assert (blurred.only_a, blurred.only_b, blurred.n) == (0, 12, 296) and blurred.significant
    assert all(result.difference == 0 and result.only_a == result.only_b == 0 for result in paired.values())
    # Unmeasured, measured on other faces, or kept answers that disagree with the measurement: no pairing.
    unmeasured = copy_run(finished_run, "unmeasured")
    (runs.get_run(unmeasured).path / store.ROBUSTNESS_ANSWERS).unlink()  # as runs measured before answers were kept
    elsewhere = copy_run(finished_run, "elsewhere", metrics={"test_set": "0" * 16})
    for other, refusal in ((unmeasured, "was not measured on worse photos with its answers kept: the Classify page "
                            r"\(How it holds up on worse photos\) or `python -m fer robustness .*-unmeasured` measures it"),
                           (elsewhere, "were measured on different test faces or conditions")):
        with pytest.raises(FerError, match=refusal):
            robustness.paired_runs(runs.get_run(finished_run), runs.get_run(other))


def test_kept_answers_that_disagree_with_the_measurement_read_as_none(finished_run: str, few_conditions: None) -> None:
    run = runs.get_run(finished_run)
    robustness.measure_run(run)
    right = robustness.kept_answers(run)
    path = run.path / store.ROBUSTNESS_ANSWERS
    names, stacked = np.array(list(right)), np.stack(list(right.values()))
    flipped = stacked.copy()
    flipped[1, 0] = ~flipped[1, 0]  # one face's answer changed: no longer the measurement's accuracy
    for damaged in (
        npz_bytes(compress=True, conditions=names[::-1], right=stacked),
        npz_bytes(compress=True, conditions=names, right=stacked[:, :-1]),
        npz_bytes(compress=True, conditions=names, right=stacked.astype(np.uint8)),
        npz_bytes(compress=True, conditions=names, right=flipped),
        npz_bytes(compress=True, conditions=names),
        b"not an archive",
    ):
        path.write_bytes(bytes(damaged))
        assert robustness.kept_answers(runs.get_run(finished_run)) is None
    # Exported as a reference run, the answers go with it.
    robustness.keep(run, right)
    exported = store.export_reference(runs.get_run(finished_run), run.path.parent.parent / "exported")
    assert (exported / store.ROBUSTNESS_ANSWERS).read_bytes() == path.read_bytes()


def test_only_a_completed_run_with_its_model_and_its_test_faces_is_measured(finished_run: str) -> None:
    elsewhere = runs.get_run(copy_run(finished_run, "other", metrics={"test_set": "0" * 16}))
    with pytest.raises(FerError, match="are not the ones .* was evaluated on"):
        robustness.measure_run(elsewhere)
    without_model = runs.get_run(copy_run(finished_run, "nomodel"))
    without_model.model_path.unlink()
    with pytest.raises(FerError, match="kept no model file"):
        robustness.measure_run(without_model)
    failed = runs.get_run(copy_run(finished_run, "failed"))
    (failed.path / "status.json").write_text(json.dumps({**failed.status, "state": "failed"}))
    with pytest.raises(FerError, match="has not completed with results"):
        robustness.measure_run(runs.get_run(failed.run_id))
    assert robustness.KEY not in runs.get_run(failed.run_id).metrics()


def kept(**changes: Any) -> dict[str, Any]:
    """A plausible ``metrics.json`` entry of two conditions, with ``changes`` to its first one."""
    paired = {"accuracy_a": 0.7, "accuracy_b": 0.6, "ci_low": -0.12, "ci_high": -0.08, "p_value": 1e-20, "n": 3589,
              "only_a": 500, "only_b": 141}
    return {robustness.KEY: {"side": 192, "tta": "shift", "round_trip": 0.7, "conditions": {
        "JPEG quality 10": {**paired, **changes}, "darker (x0.5)": {**paired, "accuracy_b": 0.69},
    }}}


@pytest.mark.parametrize("changes", [
    {"accuracy_b": 1.5}, {"accuracy_b": "0.6"}, {"p_value": float("nan")}, {"n": 0}, {"only_a": 4000},
    {"ci_low": 0.1, "ci_high": -0.1}, {"accuracy_a": 0.5},  # not paired with the round trip
])
def test_a_damaged_measurement_reads_as_none(changes: dict[str, Any]) -> None:
    assert robustness.stored(kept()) is not None
    assert robustness.stored(kept(**changes)) is None
    assert robustness.stored({robustness.KEY: {**kept()[robustness.KEY], "conditions": {}}}) is None
    assert robustness.stored({robustness.KEY: "high"}) is None and robustness.stored(None) is None


def test_the_worst_condition_is_named() -> None:
    measured = robustness.stored(kept())
    assert measured.worst()[0] == "JPEG quality 10"
    assert robustness.summary(measured).endswith("the worst, JPEG quality 10: 60.0% (-10.0 points)")


def test_a_small_face_is_told_what_being_small_costs() -> None:
    assert robustness.small_face_note(robustness.stored(kept()), 48) == ""  # as large as the model reads
    assert robustness.small_face_note(robustness.stored(kept()), 40) == ""  # nearer 48 px than the 32 measured
    lead = "A small face (30 px across, enlarged to the 48x48 the model reads)"
    unmeasured = f"{lead}: small faces are read less accurately than the test faces the model was scored on."
    assert robustness.small_face_note(None, 30) == unmeasured
    assert robustness.small_face_note(robustness.stored(kept()), 30) == unmeasured  # measured before small faces were
    paired = kept()[robustness.KEY]["conditions"]["darker (x0.5)"]
    measured = robustness.stored({robustness.KEY: {**kept()[robustness.KEY], "conditions": {
        "a 32-px face": {**paired, "accuracy_b": 0.674}, "a 24-px face": {**paired, "accuracy_b": 0.637},
    }}})
    assert robustness.small_face_note(measured, 30.4) == (
        f"{lead}: on its test faces made as small it was right 67.4% at 32 px and 63.7% at 24 px, against 70.0% at "
        "full size (How it holds up on worse photos)."
    )


def test_the_robustness_command_measures_keeps_and_prints(
    finished_run: str, few_conditions: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["robustness", finished_run, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    measured = robustness.stored(runs.get_run(finished_run).metrics())
    assert document == {"run_id": finished_run, **robustness.document(measured)}
    assert cli.main(["robustness", finished_run]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{runs.get_run(finished_run).display_name}: its 296 test faces, each enlarged to 192 px")
    assert lines[1].startswith("| condition | accuracy | points |") and len(lines) == 2 + 1 + len(measured.conditions)
    # `show` says it too.
    assert cli.main(["show", finished_run]) == 0
    assert f"  Worse photos (python -m fer robustness): {robustness.summary(measured)}" in capsys.readouterr().out.splitlines()
    assert cli.main(["robustness", "no-such-run"]) == 2
    assert "no-such-run" in capsys.readouterr().err
    # Being measured in the background (the Classify page): the command measures it no second time.
    path = runs.get_run(finished_run).path
    atomic_write_json(path / store.MEASURING_PROGRESS,
                      {"fraction": 0.4, "message": "x", "started_at": store.now(), "error": None})
    processes.write_pid(path / store.MEASURING_PID, os.getpid())
    assert cli.main(["robustness", finished_run]) == 2
    assert "is being measured in the background already (40%; Classify page)" in capsys.readouterr().err
