"""Where the YuNet face-detection model file comes from, so that :mod:`fer.faces` can use it.

YuNet (``cv2.FaceDetectorYN``) finds far more faces than the Haar cascade but, unlike the
cascade, its model file is not inside the OpenCV wheel. It is looked for, in order:

1. the path in the environment variable ``FER_FACE_MODEL``;
2. the cache folder ``$FER_ARTIFACTS/models/`` (:func:`cache_dir`), where everything else the
   project writes lives too (git-ignored, so the file is never committed);
3. the development copy in ``../shared/models/yunet/`` beside the repository (development, tests
   and CI, which has ``../shared`` beside its clone);
4. the OpenCV Zoo, downloaded once into the cache folder with a timeout and checked against its
   sha256. A failed download is remembered for the process, so that an offline server tries once
   instead of once per photo.

A path the user sets (1) is used as it is, without a checksum, so that another YuNet build (the
Zoo's int8 one, say) can be chosen; when it does not exist nothing is downloaded: the user asked
for that file. It is set in the environment, as ``FER_ARTIFACTS`` is, so that one setting serves
the dashboard and the ``classify`` command alike. Without a model file, :mod:`fer.faces` falls
back to Haar.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.client import HTTPResponse
from pathlib import Path

from fer.errors import FerError
from fer.paths import artifacts_dir, atomic_write_bytes

MODEL_NAME = "face_detection_yunet_2023mar.onnx"
MODEL_URL = f"https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/{MODEL_NAME}"
MODEL_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
MODEL_ENV = "FER_FACE_MODEL"
DEV_DIR = Path(__file__).resolve().parents[2] / "shared" / "models" / "yunet"
"""The copy beside the repository that development, tests and CI use (never committed)."""

DOWNLOAD_TIMEOUT_S = 10.0
"""Seconds the download may take, about (each network wait is bounded by it too): it runs when
the first photo is classified, so a server without internet access must give up quickly.
Offline, name resolution fails at once; this bounds a network that drops packets. The file
is 232,589 bytes."""
DOWNLOAD_MAX_BYTES = 4 * 1024 * 1024
"""A response larger than this is not the model: stop reading instead of filling the disk."""

_failed_downloads: dict[Path, str] = {}  # destination -> why its download failed
_download_lock = threading.Lock()


@dataclass(frozen=True)
class ModelLookup:
    """The model file to use (None when there is none) and, in one line, where it came from or
    why there is none."""

    path: Path | None
    source: str


def cache_dir() -> Path:
    """The folder the model is downloaded into and looked for in: ``$FER_ARTIFACTS/models``."""
    return artifacts_dir() / "models"


def find_model() -> ModelLookup:
    """The YuNet model file, downloading it into :func:`cache_dir` the first time it is needed."""
    if os.environ.get(MODEL_ENV):
        return _given(Path(os.environ[MODEL_ENV]).expanduser(), MODEL_ENV)
    cached = cache_dir() / MODEL_NAME
    for candidate, where in ((cached, "the cache folder"), (DEV_DIR / MODEL_NAME, "the shared development copy")):
        if candidate.is_file():
            return ModelLookup(candidate, f"{where} {candidate}")
    return _downloaded(cached)


def download(url: str, destination: Path, sha256: str, timeout: float = DOWNLOAD_TIMEOUT_S) -> Path:
    """Fetch ``url`` into ``destination`` if its content has the given sha256.

    The file appears whole or not at all (written atomically); content with another checksum
    (a changed upstream file, a captive portal's page) is refused and not kept. Raises FerError,
    caused by the network error where there is one.
    """
    deadline = time.monotonic() + timeout
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            content = _read_until(response, deadline)
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise FerError(f"could not download {url}: {getattr(error, 'reason', error)}") from error
    actual = hashlib.sha256(content).hexdigest()
    if actual != sha256:
        raise FerError(
            f"refused the download from {url}: its sha256 is {actual}, not the expected {sha256}"
        )
    atomic_write_bytes(destination, content)
    return destination


def _given(path: Path, where: str) -> ModelLookup:
    """A path the user chose: used if it is a file, never replaced by a download."""
    if path.is_file():
        return ModelLookup(path, f"{where}: {path}")
    return ModelLookup(None, f"{where} names {path}, which is not a file")


def _downloaded(destination: Path) -> ModelLookup:
    """Download the model once per process and destination; later calls reuse the outcome."""
    with _download_lock:
        if destination.is_file():  # another thread fetched it meanwhile
            return ModelLookup(destination, f"the cache folder {destination}")
        if destination in _failed_downloads:
            return ModelLookup(None, _failed_downloads[destination])
        try:
            download(MODEL_URL, destination, MODEL_SHA256)
        except FerError as error:
            _failed_downloads[destination] = str(error)
            return ModelLookup(None, str(error))
    return ModelLookup(destination, f"downloaded from the OpenCV Zoo into {destination}")


def _read_until(response: HTTPResponse, deadline: float) -> bytes:
    """The response body, read as it arrives so that a server trickling bytes (each within the
    socket timeout) cannot hold us past ``deadline``."""
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(64 * 1024):
        size += len(chunk)
        if size > DOWNLOAD_MAX_BYTES:
            raise OSError(f"more than {DOWNLOAD_MAX_BYTES:,} bytes: not the model file")
        if time.monotonic() > deadline:
            raise TimeoutError("the download took too long")
        chunks.append(chunk)
    return b"".join(chunks)
