"""A completed run exported on one machine and imported on another (:mod:`fer.sharing`): the
same results, model and answers there, and every archive that is no exported run refused with
one line, leaving nothing behind."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from fer import predict, runs, sharing, store
from fer.arrays import npz_bytes
from fer.dataset import FaceDataset
from fer.errors import FerError
from fer.inference import classify_faces, load_classifier
from fer.paths import MAX_STATE_FILE_BYTES, artifacts_at, runs_dir

from .conftest import COMMITTED_REFERENCE_DIR, REFERENCE_ID, copy_run


def _exported(run_id: str, include_model: bool = True) -> bytes:
    return sharing.export_bytes(runs.get_run(run_id), include_model)


def _left_behind() -> list[str]:
    return sorted(path.name for path in runs_dir().iterdir())


def test_an_exported_run_is_the_same_run_on_another_machine(finished_run: str, sample: FaceDataset, tmp_path: Path) -> None:
    original = runs.get_run(finished_run)
    archive = _exported(finished_run)
    assert sorted(zipfile.ZipFile(io.BytesIO(archive)).namelist()) == sorted(
        f"{finished_run}/{name}" for name in
        ("config.json", "status.json", "history.csv", "metrics.json", "probabilities.npz", "test_labels.npz",
         "train.log", "model.keras")
    )
    with artifacts_at(tmp_path / "elsewhere"):
        imported = sharing.import_run(io.BytesIO(archive), name="/downloads/from-the-gpu.zip")
        assert imported.run_id == finished_run and imported.state == "completed"
        assert imported.path == runs_dir() / finished_run and not imported.reference
        assert imported.metrics() == original.metrics() and imported.config == original.config
        np.testing.assert_array_equal(imported.probabilities(), original.probabilities())
        np.testing.assert_array_equal(imported.test_labels(), original.test_labels())
        assert imported.history().equals(original.history())
        assert imported.status["imported_from"] == "from-the-gpu.zip"  # its name, not where it lay
        assert runs.status_summary(imported.status).startswith("completed after 1/1 epoch, imported ")
        assert runs.status_summary(imported.status).endswith(" UTC from from-the-gpu.zip")
        assert imported.display_name in runs.comparable_runs()  # Compare
        assert finished_run in [choice.run_id for choice in predict.available_models()]  # Classify
        faces = sample.images[:20]
        np.testing.assert_array_equal(
            classify_faces(load_classifier(imported.model_path), faces), classify_faces(load_classifier(original.model_path), faces)
        )
        assert _left_behind() == [finished_run]  # no staging folder left
        with pytest.raises(FerError, match=f"a run named {finished_run} is here already: delete it first"):
            sharing.import_run(io.BytesIO(archive))
    assert runs.imported_from(original.status) is None  # the exporting machine's run is as it was


def test_a_run_exported_without_its_model_has_results_only(finished_run: str, tmp_path: Path) -> None:
    archive = _exported(finished_run, include_model=False)
    assert len(archive) < 20_000 and f"{finished_run}/model.keras" not in zipfile.ZipFile(io.BytesIO(archive)).namelist()
    with artifacts_at(tmp_path / "elsewhere"):
        imported = sharing.import_run(io.BytesIO(archive))
        assert imported.has_results() and not imported.model_path.exists()


def test_only_a_completed_run_with_readable_results_is_exported(finished_run: str) -> None:
    """What an import would refuse is refused at the export already, where it can still be mended."""
    path = runs.get_run(finished_run).path
    (path / "history.csv").write_text("epoch,loss\nx,y\n")
    with pytest.raises(FerError, match=f"^run {finished_run}: its history.csv is damaged$"):
        _exported(finished_run)
    store.write_status(path, state="cancelled")
    refused = f"^run {finished_run}: only a completed run can be exported and imported: its state is cancelled$"
    with pytest.raises(FerError, match=refused):
        _exported(finished_run)


def _rewritten(archive: bytes, change: Callable[[str, bytes], tuple[str, bytes] | None]) -> bytes:
    """The archive with each member passed through ``change`` (None: left out)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(archive)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.namelist():
            changed = change(member, source.read(member))
            if changed is not None:
                target.writestr(*changed)
    return out.getvalue()


def _file(name: str, content: Callable[[bytes], bytes]) -> Callable[[str, bytes], tuple[str, bytes] | None]:
    return lambda member, data: (member, content(data) if member.endswith(f"/{name}") else data)


def _json_edit(edit: Callable[[dict], None]) -> Callable[[bytes], bytes]:
    def content(data: bytes) -> bytes:
        document = json.loads(data)
        edit(document)
        return json.dumps(document).encode()
    return content


HOSTILE = {
    "not a zip": (lambda archive: b"PK\x03\x04 this is no zip", "not a readable zip of an exported run"),
    "cut short": (lambda archive: archive[: len(archive) // 2], "not a readable zip of an exported run"),
    "empty zip": (lambda archive: _rewritten(archive, lambda member, data: None), "holds one folder, named by the run; this holds 0"),
    "two folders": (
        lambda archive: _rewritten(archive, lambda member, data: ("other/x.json", data) if member.endswith("train.log") else (member, data)),
        "holds one folder, named by the run; this holds 2",
    ),
    "a folder out of the runs": (
        lambda archive: _rewritten(archive, lambda member, data: ("../" + member.split("/", 1)[1], data)),
        "its folder '..' is no run's name",
    ),
    "no metrics": (
        lambda archive: _rewritten(archive, lambda member, data: None if member.endswith("metrics.json") else (member, data)),
        "lacks metrics.json",
    ),
    "still running": (
        lambda archive: _rewritten(archive, _file("status.json", _json_edit(lambda status: status.update(state="running")))),
        "only a completed run can be exported and imported: its state is running",
    ),
    "unreadable config": (
        lambda archive: _rewritten(archive, _file("config.json", lambda data: b"{")),
        "only a completed run can be exported and imported: can't read this run's files",
    ),
    "accuracy of 5": (
        lambda archive: _rewritten(archive, _file("metrics.json", _json_edit(lambda metrics: metrics.update(test_accuracy=5)))),
        "its metrics.json is damaged",
    ),
    "damaged history": (
        lambda archive: _rewritten(archive, _file("history.csv", lambda data: b"epoch,loss\nx,y\n")),
        "its history.csv is damaged",
    ),
    "damaged probabilities": (
        lambda archive: _rewritten(archive, _file("probabilities.npz", lambda data: data[:40])),
        "its probabilities file is damaged",
    ),
    "probabilities of other faces": (
        lambda archive: _rewritten(archive, _file(
            "probabilities.npz", lambda data: bytes(npz_bytes(compress=True, probabilities=np.full((3, 7), 1 / 7, np.float16)))
        )),
        r"its test probabilities \(3 faces\) and labels \(296\) disagree",
    ),
    "model that is no model": (
        lambda archive: _rewritten(archive, _file("model.keras", lambda data: b"not a keras file")),
        "its model.keras is no Keras model file",
    ),
    "metrics that unpack past a run file's size": (
        lambda archive: _rewritten(archive, _file("metrics.json", lambda data: data + b" " * MAX_STATE_FILE_BYTES)),
        "its metrics.json unpacks to 67,112,",
    ),
}


@pytest.mark.parametrize("hostile", HOSTILE, ids=list(HOSTILE))
def test_an_archive_that_is_no_exported_run_is_refused_and_leaves_nothing(finished_run: str, hostile: str, tmp_path: Path) -> None:
    damage, said = HOSTILE[hostile]
    archive = damage(_exported(finished_run))
    with artifacts_at(tmp_path / "elsewhere"):
        with pytest.raises(FerError, match=f"^upload.zip: .*{said}"):
            sharing.import_run(io.BytesIO(archive), name="upload.zip")
        assert _left_behind() == []


def test_a_committed_reference_run_is_not_imported_again(committed_references: Path, tmp_path: Path) -> None:
    reference = store.reference_run(REFERENCE_ID)
    archive = sharing.export_bytes(reference, include_model=False)
    with artifacts_at(tmp_path / "elsewhere"):
        with pytest.raises(FerError, match=f"run {REFERENCE_ID} is committed with the project as a reference run"):
            sharing.import_run(io.BytesIO(archive))
        assert _left_behind() == []
    # Under another name (a copy of it trained elsewhere, say) it imports, with its compact probabilities.
    copy = tmp_path / "copy" / f"{REFERENCE_ID}-copy"
    shutil.copytree(COMMITTED_REFERENCE_DIR / REFERENCE_ID, copy, ignore=shutil.ignore_patterns("model.keras"))
    with artifacts_at(tmp_path / "elsewhere"):
        imported = sharing.import_run(io.BytesIO(sharing.export_bytes(store.read_run(copy))))
        assert imported.metrics() == reference.metrics()
        np.testing.assert_array_equal(imported.probabilities(), reference.probabilities())


def test_the_cli_exports_and_imports_and_says_what_is_wrong_in_one_line(finished_run: str, artifacts: Path, tmp_path: Path) -> None:
    def fer(*args: str, artifacts_dir: Path = artifacts) -> subprocess.CompletedProcess[str]:
        env = {"FER_ARTIFACTS": str(artifacts_dir), "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        return subprocess.run([sys.executable, "-m", "fer", *args], capture_output=True, text=True, timeout=120,
                              env={**os.environ, **env}, check=False)

    exported = fer("export", finished_run, "-o", str(tmp_path), "--json")
    assert exported.returncode == 0, exported.stderr
    document = json.loads(exported.stdout)
    archive = tmp_path / f"{finished_run}.fer-run.zip"
    assert document["path"] == str(archive) and document["bytes"] == archive.stat().st_size
    assert "model.keras" in document["files"] and not list(tmp_path.glob(".*partial"))

    imported = fer("import", str(archive), artifacts_dir=tmp_path / "elsewhere")
    assert imported.returncode == 0, imported.stderr
    assert f"{finished_run}: imported from {archive}" in imported.stdout
    assert "completed after 1/1 epoch, imported " in imported.stdout

    # Several at once: each one that can't be imported is one line, and the others still come in.
    other = copy_run(finished_run, "other")
    (tmp_path / "other").mkdir()
    assert fer("export", other, "-o", str(tmp_path / "other")).returncode == 0
    missing = tmp_path / "nothing.zip"
    again = fer("import", str(archive), str(missing), str(tmp_path / "other" / f"{other}.fer-run.zip"), "--json",
                artifacts_dir=tmp_path / "elsewhere")
    assert again.returncode == 2 and again.stderr.strip().splitlines()[-2:] == [
        f"error: a run named {finished_run} is here already: delete it first to import it again",
        f"error: {missing}: no such file",
    ]
    assert [run["run_id"] for run in json.loads(again.stdout)] == [other]
    unwritable = fer("export", finished_run, "-o", str(tmp_path / "no-such-folder" / "run.zip"))
    assert unwritable.returncode == 2 and "can't be written" in unwritable.stderr
