"""Completed runs carried between machines: one zip out (:func:`export_run`), checked in
(:func:`import_run`).

Why: the study's networks train on a GPU machine, and people compare and classify on their own.
An exported run is its folder's results as the run wrote them (config, status, history, metrics,
test probabilities and labels, answers on worse photos, log) and, unless left out, its model
file, all under one folder named by the run. Imported, it is a completed run of this machine as
any other: listed, compared, paired with others on the same test faces (its metrics name them by
fingerprint), and its model offered on the Classify page.

An archive may come from anywhere, so an import trusts nothing it says: only the files a run has
are read, each at most as large as such a file can be (a zip stops reading at the size it
declares, so a deflate bomb can't grow past it), and the run is unpacked into a hidden folder and
checked as the pages read it (a completed state, headline metrics, readable history and test
results) before it appears, whole, under its own name. A run of that name already here, or
committed with the project, is never replaced.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from fer import store
from fer.arrays import ZIP_ERRORS
from fer.errors import FerError
from fer.paths import MAX_STATE_FILE_BYTES, runs_dir
from fer.store import Run
from fer.vocab import CLASSES

MODEL = "model.keras"
RESULT_FILES = ("probabilities.npz", "probabilities.npy", "test_labels.npz", "test_labels.npy", store.ROBUSTNESS_ANSWERS)
"""A run's test results as it may keep them (``.npy``: written before December 2026)."""
SHARED_FILES = (*store.REFERENCE_FILES, *RESULT_FILES, "train.log", MODEL)
"""What an exported run holds, where the run has it; anything else in an archive is left out."""
MAX_MODEL_BYTES = 512 * 2**20
"""The largest model file an import takes: ResNet50's, the largest network, is 95 MB in float32."""
SUFFIX = ".fer-run.zip"
MAX_NAME = 120
"""The most characters of the archive's file name a run keeps as where it came from."""
DAMAGE = tuple(error for error in ZIP_ERRORS if error is not OSError)
"""What a damaged, cut or encrypted zip raises as it is read (an OSError is this machine's disk)."""


def export_run(run: Run, destination: IO[bytes], include_model: bool = True) -> list[str]:
    """Write completed run ``run`` (this machine's or a reference run) as a zip into
    ``destination``; return the names of the files it holds.

    Raises FerError for a run :func:`import_run` would refuse: not completed, or damaged. Files
    are stored as the run has them; the JSON, CSV and log deflated, the model and the ``.npz``
    files as they are (already compressed, or an archive of their own).
    """
    _check_run(run.path, f"run {run.run_id}")  # what an import would refuse is refused here already
    names = [name for name in SHARED_FILES if (run.path / name).is_file() and (include_model or name != MODEL)]
    with zipfile.ZipFile(destination, "w") as archive:
        for name in names:
            packed = zipfile.ZIP_STORED if name.endswith((".keras", ".npz")) else zipfile.ZIP_DEFLATED
            archive.write(run.path / name, f"{run.run_id}/{name}", compress_type=packed)
    return names


def export_bytes(run: Run, include_model: bool = True) -> bytes:
    """:func:`export_run` into memory: what the Train page's download hands the browser."""
    buffer = io.BytesIO()
    export_run(run, buffer, include_model)
    return buffer.getvalue()


def export_file_name(run: Run) -> str:
    """``<run_id>.fer-run.zip``: what :func:`import_run` expects, and what says what the file is."""
    return f"{run.run_id}{SUFFIX}"


def import_run(source: Path | IO[bytes], name: str | None = None) -> Run:
    """Check the run exported into zip ``source`` and add it to this machine's runs; return it.

    ``name`` (by default the file's path) says where it came from in errors and, its file name
    alone and at most :data:`MAX_NAME` long, in the run's status (``imported_from``). Raises
    FerError, leaving nothing behind, for a file that is no exported run, one whose run is not
    completed or whose files are damaged, and a run whose name is taken here (by a run of this
    machine or a reference run).
    """
    name = name or (str(source) if isinstance(source, Path) else "the archive")
    try:
        with zipfile.ZipFile(source) as archive:
            run_id, members = _run_members(archive, name)
            target = runs_dir() / run_id
            _check_free(run_id, target)
            with tempfile.TemporaryDirectory(prefix=".import-", dir=runs_dir()) as staging:
                staged = Path(staging) / run_id
                staged.mkdir()
                for member, file_name in members.items():
                    with archive.open(member) as packed, (staged / file_name).open("wb") as unpacked:
                        shutil.copyfileobj(packed, unpacked, 2**20)
                _check_run(staged, name)
                store.write_status(
                    staged, imported_at=datetime.now(UTC).isoformat(timespec="seconds"), imported_from=Path(name).name[:MAX_NAME]
                )
                _check_free(run_id, target)
                try:
                    os.rename(staged, target)  # atomic; refused if another import took the name meanwhile
                except OSError as error:
                    raise FerError(f"{name}: a run named {run_id} appeared here while it was imported") from error
    except FileNotFoundError as error:
        raise FerError(f"{name}: no such file") from error
    except DAMAGE as error:
        raise FerError(f"{name}: not a readable zip of an exported run ({error})") from error
    except OSError as error:  # the disk here, full or read-only
        raise FerError(f"{name}: can't be imported here: {error}") from error
    return store.read_run(target)


def _run_members(archive: zipfile.ZipFile, name: str) -> tuple[str, dict[str, str]]:
    """The run's name and its files' members (member → file name), each checked to be no larger
    than such a file can be before a byte is read."""
    folders = {info.filename.split("/", 1)[0] for info in archive.infolist()}
    if len(folders) != 1:
        raise FerError(f"{name}: an exported run holds one folder, named by the run; this holds {len(folders)}")
    run_id = folders.pop()
    if not store.RUN_ID.fullmatch(run_id):
        raise FerError(f"{name}: its folder {run_id!r:.80} is no run's name")
    members = {}
    for file_name in SHARED_FILES:
        try:
            info = archive.getinfo(f"{run_id}/{file_name}")
        except KeyError:
            continue
        limit = MAX_MODEL_BYTES if file_name == MODEL else MAX_STATE_FILE_BYTES
        if info.file_size > limit:
            raise FerError(f"{name}: its {file_name} unpacks to {info.file_size:,} bytes, more than a run's can be ({limit:,})")
        members[info.filename] = file_name
    missing = [file_name for file_name in store.REFERENCE_FILES if f"{run_id}/{file_name}" not in members]
    if missing:
        raise FerError(f"{name}: no exported run: {run_id}/ lacks {', '.join(missing)}")
    return run_id, members


def _check_free(run_id: str, target: Path) -> None:
    if target.exists():
        raise FerError(f"a run named {run_id} is here already: delete it first to import it again")
    if store.reference_run(run_id) is not None:
        raise FerError(f"run {run_id} is committed with the project as a reference run: it is here already")


def _check_run(path: Path, name: str) -> None:
    """Refuse the run in ``path`` unless the pages can show it as a completed run with results."""
    run = store.read_run(path)
    if run.state != "completed":
        reason = run.status.get("error") if run.state == "unreadable" else f"its state is {run.state}"
        raise FerError(f"{name}: only a completed run can be exported and imported: {reason}")
    damaged = [
        file_name for file_name, readable in (
            ("metrics.json", run.has_results()),
            ("history.csv", run.history() is not None),
        ) if not readable
    ]
    probabilities, labels = run.probabilities(), run.test_labels()
    for stem, kept in (("probabilities", probabilities), ("test_labels", labels)):
        if kept is None and any((path / f"{stem}{suffix}").exists() for suffix in (".npz", ".npy")):
            damaged.append(f"{stem} file")
    if damaged:
        raise FerError(f"{name}: its {' and '.join(damaged)} {'is' if len(damaged) == 1 else 'are'} damaged")
    if probabilities is not None and (probabilities.ndim != 2 or probabilities.shape[1] != len(CLASSES)):
        raise FerError(f"{name}: its test probabilities are {probabilities.shape}, not one per emotion for each face")
    if probabilities is not None and labels is not None and len(probabilities) != len(labels):
        raise FerError(f"{name}: its test probabilities ({len(probabilities)} faces) and labels ({len(labels)}) disagree")
    if (path / MODEL).exists() and not zipfile.is_zipfile(path / MODEL):
        raise FerError(f"{name}: its {MODEL} is no Keras model file")
