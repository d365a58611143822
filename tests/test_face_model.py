"""Where the YuNet model file comes from: FER_FACE_MODEL, the cache folder, the shared
development copy, and the download, served here from 127.0.0.1 (no test reaches
the internet)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import pytest

from fer import face_model
from fer.data import load_sample
from fer.errors import FerError
from fer.faces import active_detector, detect_faces, detector_note

SHARED_MODEL = face_model.DEV_DIR / face_model.MODEL_NAME
MODEL_BYTES = b"stand-in for the model: " + bytes(range(256)) * 100
MODEL_SHA256 = hashlib.sha256(MODEL_BYTES).hexdigest()


class Server:
    """A local HTTP server: ``/model.onnx`` gives ``body``, ``/slow`` answers after 5 s,
    ``/trickle`` sends 100 bytes every 0.1 s for 10 s, anything else is a 404. ``requests``
    counts what it was asked."""

    def __init__(self) -> None:
        self.body = MODEL_BYTES
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server name)
                server.requests.append(self.path)
                if self.path == "/slow":
                    time.sleep(5)
                if self.path == "/trickle":
                    self.trickle()
                    return
                if self.path != "/model.onnx":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def trickle(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "10000")
                self.end_headers()
                for _ in range(100):
                    self.wfile.write(b"x" * 100)
                    self.wfile.flush()
                    time.sleep(0.1)

            def log_message(self, *args: object) -> None:
                pass

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # a client that gives up mid-body (as the download's limits make it) is expected

        self.http = QuietServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def url(self, path: str = "/model.onnx") -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}{path}"


@pytest.fixture
def server() -> Iterator[Server]:
    served = Server()
    served.thread.start()
    yield served
    served.http.shutdown()
    served.http.server_close()


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FER_FACE_MODEL, no development copy, and downloads to a closed port, unless a test
    says otherwise."""
    monkeypatch.delenv(face_model.MODEL_ENV, raising=False)
    monkeypatch.setattr(face_model, "DEV_DIR", tmp_path / "no-shared")
    monkeypatch.setattr(face_model, "MODEL_URL", "http://127.0.0.1:9/model.onnx")


def leftovers(folder: Path) -> list[str]:
    """Files in the folder other than the model (a half-written download would show here)."""
    return sorted(p.name for p in folder.iterdir() if p.name != face_model.MODEL_NAME) if folder.exists() else []


# ---------------------------------------------------------------------------------------------
# The download


def test_a_download_with_the_right_checksum_is_written_whole(server: Server, tmp_path: Path) -> None:
    destination = tmp_path / "models" / face_model.MODEL_NAME
    assert face_model.download(server.url(), destination, MODEL_SHA256) == destination
    assert destination.read_bytes() == MODEL_BYTES
    assert leftovers(destination.parent) == []


def test_a_download_with_another_checksum_is_refused_and_not_kept(server: Server, tmp_path: Path) -> None:
    destination = tmp_path / "models" / face_model.MODEL_NAME
    server.body = MODEL_BYTES + b"changed upstream"
    with pytest.raises(FerError, match=f"refused .*sha256 .*not the expected {MODEL_SHA256}"):
        face_model.download(server.url(), destination, MODEL_SHA256)
    assert not destination.exists() and leftovers(destination.parent) == []


def test_download_errors_name_the_url(server: Server, tmp_path: Path) -> None:
    destination = tmp_path / face_model.MODEL_NAME
    with pytest.raises(FerError, match=f"could not download {server.url('/missing')}: Not Found") as raised:
        face_model.download(server.url("/missing"), destination, MODEL_SHA256)
    assert raised.value.__cause__ is not None
    with pytest.raises(FerError, match="could not download http://127.0.0.1:9/"):
        face_model.download("http://127.0.0.1:9/model.onnx", destination, MODEL_SHA256)
    assert not destination.exists()


@pytest.mark.parametrize("path", ["/slow", "/trickle"])
def test_a_slow_server_is_given_up_on_within_the_timeout(server: Server, tmp_path: Path, path: str) -> None:
    start = time.monotonic()
    with pytest.raises(FerError, match=f"could not download .*{path}"):
        face_model.download(server.url(path), tmp_path / face_model.MODEL_NAME, MODEL_SHA256, timeout=0.5)
    assert time.monotonic() - start < 2  # the server would take 5 and 10 s


# ---------------------------------------------------------------------------------------------
# Finding the model file


def test_first_use_downloads_into_the_cache_once(
    server: Server, monkeypatch: pytest.MonkeyPatch, artifacts: Path
) -> None:
    monkeypatch.setattr(face_model, "MODEL_URL", server.url())
    monkeypatch.setattr(face_model, "MODEL_SHA256", MODEL_SHA256)
    assert face_model.cache_dir() == artifacts.resolve() / "models"
    found = face_model.find_model()
    assert found.path == face_model.cache_dir() / face_model.MODEL_NAME
    assert found.path.read_bytes() == MODEL_BYTES and "downloaded" in found.source
    again = face_model.find_model()
    assert again.path == found.path and "cache folder" in again.source
    assert server.requests == ["/model.onnx"]


def test_a_failed_download_is_tried_once_and_leaves_haar_with_a_note(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.body = b"<html>a captive portal</html>"
    monkeypatch.setattr(face_model, "MODEL_URL", server.url())
    monkeypatch.setattr(face_model, "MODEL_SHA256", MODEL_SHA256)
    first, second = face_model.find_model(), face_model.find_model()
    assert first.path is None and "sha256" in first.source and second == first
    assert active_detector().name == "haar"
    face = cv2.resize(load_sample().images[0], (192, 192))
    assert [found.detector for found in detect_faces(face)] == ["haar"]
    note = detector_note() or ""
    assert face_model.MODEL_ENV in note and str(face_model.cache_dir()) in note
    assert server.requests == ["/model.onnx"]  # not once per photo
    assert not (face_model.cache_dir() / face_model.MODEL_NAME).exists()


def test_offline_without_the_file_the_lookup_gives_up_at_once() -> None:
    start = time.monotonic()
    found = face_model.find_model()
    assert found.path is None and "could not download http://127.0.0.1:9/" in found.source
    assert time.monotonic() - start < 2


def test_the_environment_comes_first_then_the_cache_then_shared(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    files = {name: tmp_path / name / face_model.MODEL_NAME for name in ("env", "shared")}
    for path in files.values():
        path.parent.mkdir()
        path.write_bytes(MODEL_BYTES)
    cached = face_model.cache_dir() / face_model.MODEL_NAME
    cached.parent.mkdir(parents=True)
    cached.write_bytes(MODEL_BYTES)
    monkeypatch.setattr(face_model, "DEV_DIR", files["shared"].parent)
    monkeypatch.setenv(face_model.MODEL_ENV, str(files["env"]))
    assert face_model.find_model().path == files["env"]
    monkeypatch.delenv(face_model.MODEL_ENV)
    assert face_model.find_model().path == cached
    cached.unlink()
    assert face_model.find_model().path == files["shared"]


def test_a_missing_file_the_user_named_is_not_downloaded(
    server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(face_model, "MODEL_URL", server.url())
    missing = tmp_path / "mine.onnx"
    monkeypatch.setenv(face_model.MODEL_ENV, str(missing))
    found = face_model.find_model()
    assert found.path is None and found.source == f"{face_model.MODEL_ENV} names {missing}, which is not a file"
    monkeypatch.setenv(face_model.MODEL_ENV, str(tmp_path))  # a folder
    assert face_model.find_model().source == f"{face_model.MODEL_ENV} names {tmp_path}, which is not a file"
    assert server.requests == []


@pytest.mark.skipif(not SHARED_MODEL.is_file(), reason=f"the YuNet model is not at {SHARED_MODEL}")
def test_the_real_model_downloads_with_its_published_checksum(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The published sha256 is that of the shared copy, and the downloaded file loads."""
    server.body = SHARED_MODEL.read_bytes()
    monkeypatch.setattr(face_model, "MODEL_URL", server.url())
    found = face_model.find_model()
    assert found.path is not None and found.path.read_bytes() == server.body
    assert active_detector().name == "yunet" and detector_note() is None
