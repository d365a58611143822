"""Real-browser smoke test: every dashboard page rendered by headless Chromium, with screenshots.

Starts ``streamlit run streamlit_app.py`` on localhost with a scratch ``$FER_ARTIFACTS`` (a
fresh clone's view: the shipped sample, no runs, the committed reference model), loads each
page in Debian's Chromium driven by Playwright, waits until the page's title is rendered and
Streamlit has finished running the script, checks no exception is shown, and saves a full-page
PNG per page. On Classify it then opens how the model holds up on worse photos, uploads a face
from the shipped sample, then a photo of it tilted (which the page turns level), turns on the map of what drove each prediction and chooses
flip test-time augmentation in place of the model's own (shift); last it switches to videos,
uploads a clip of sample faces with a second person beside them for a while, and follows that
second person, and scores the model on a zip of labelled sample faces, with a screenshot of each step. On Train, last, it imports a run exported as if on
another machine beside a damaged zip, then downloads the run again.

    apt-get install -y chromium && pip install playwright    # once (Playwright's own browser download is not needed)
    python -m scripts.browser_smoke [--out screenshots/]

Exit status 1 if a page fails. Not part of ``pytest``: it needs Chromium, which a fresh machine
lacks; the AppTest suites cover the same pages inside pytest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from playwright.sync_api import Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from benchmarks.tilt import photo as tilted_photo
from fer import sharing, store
from fer.data import load_sample
from fer.vocab import CLASSES, USAGES

# A page URL first, on the fresh server: that is when Streamlit could bypass the router.
PAGES = {
    "compare": "Compare", "": "Facial-emotion lab", "dataset": "Dataset", "models": "Models", "train": "Train",
    "classify": "Classify",
}
CLASSIFY_STEPS = {
    "classify-robustness": ("How it holds up on worse photos", "", "the worst, "),
    "classify-photo": ("", "face.png", "what the model saw"),
    "classify-tilted": ("", "tilted.png", "turned level"),
    "classify-saliency": ("Show what drove each prediction", "", "what drove"),
    "classify-tta": ("Test-time augmentation", "flip", "what drove"),
    "classify-balanced": ("Balanced answers", "", "Balanced, on its"),
    "classify-balanced-recall": ("Balanced against its own answers, emotion by emotion", "", "paired on the same"),
    "classify-video": ("A video", "", "Upload a video"),
    "classify-timeline": ("", "clip.mp4", "How often each emotion was the answer"),
    "classify-person": ("Follow", "Person 2 (3 frames)", "How often each emotion was the answer"),
}
"""Classify, step by step: screenshot name -> (the widget to use, "" to upload a file; the
option to choose in it, "" for a toggle or radio option to click, the file to upload; a text
the page must then show)."""
SAMPLE_FACE = 612
"""A test face of the shipped sample, uploaded to Classify as a 48x48 PNG, then at 192 px in a
384 px photo turned by TILT degrees (a tilted head, which the page turns level)."""
TILT = 30
CLIP_FACES = (347, 187, 548)
"""Sample test faces (neutral, happy, surprise) shown one after the other, 1.5 s each at 160 px,
in the video uploaded to Classify: person 1."""
LABELLED = "Labelled photos: how right is it?"
"""Classify's last step: the default model scored on a zip of the sample's PrivateTest faces in emotion folders."""
IMPORTED_RUN = "20261207-120000-custom-fer_cnn-smoke"
"""The name of the run the Train page imports: the default model's, exported as if trained elsewhere."""
SECOND_PERSON = 609
"""A sample test face at 120 px beside them for the first 1.5 s: person 2, in 3 sampled frames."""
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise SystemExit("Chromium not found: apt-get install -y chromium")
    return binary


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"streamlit did not become healthy at {url}")


def settled(page: Page, quiet_s: float = 3.0, timeout_s: float = 120.0) -> bool:
    """Wait until Streamlit's running indicator is gone and the page's text stopped changing.

    The script runs after the first elements arrive (charts, images and the Keras import come
    later), so a screenshot right after the title would catch a half-drawn page.
    """
    deadline = time.monotonic() + timeout_s
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        state = page.evaluate(
            "[document.body.innerText.length, document.querySelectorAll('canvas, img, svg').length,"
            " !!document.querySelector('[data-testid=\"stStatusWidget\"]')]"
        )
        if state != last or state[2]:
            last, since = state, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return True
        time.sleep(0.5)
    return False


def check_page(page: Page, url: str, title: str, shot: Path) -> list[str]:
    """Load one page, wait for its title and for the script run to end; what is wrong with it."""
    page.goto(url)
    try:
        page.get_by_role("heading", name=title).first.wait_for(timeout=90_000)
    except PlaywrightTimeout:
        page.screenshot(path=shot, full_page=True)
        return [f"title {title!r} not rendered"]
    problems = check_shown(page, shot)
    if "Keras backend:" not in page.inner_text("body"):
        problems.append("the sidebar facts are missing: the page ran without the router")
    return problems


def check_shown(page: Page, shot: Path, expected_text: str = "") -> list[str]:
    """Once the script run has ended: a screenshot, and what is wrong with what the page shows."""
    if not settled(page):
        page.screenshot(path=shot, full_page=True)
        return ["the page never stopped changing"]
    page.screenshot(path=shot, full_page=True)
    problems = []
    exceptions = page.locator('[data-testid="stException"]').count()
    if exceptions:
        problems.append(f"{exceptions} exception(s) shown")
    if expected_text and expected_text not in page.inner_text("body"):
        problems.append(f"{expected_text!r} is not shown")
    return problems


def classify_steps(page: Page, url: str, out: Path, scratch: Path) -> Iterator[tuple[str, list[str]]]:
    """On Classify: upload a sample face, then use each of the page's options; each step's
    screenshot name and problems, as it is done."""
    faces = load_sample().images
    cv2.imwrite(str(scratch / "face.png"), faces[SAMPLE_FACE])
    cv2.imwrite(str(scratch / "tilted.png"), tilted_photo(faces[SAMPLE_FACE], TILT))
    writer = cv2.VideoWriter(str(scratch / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (640, 360))
    for number, index in enumerate(CLIP_FACES):
        frame = cv2.copyMakeBorder(cv2.resize(faces[index], (160, 160)), 100, 100, 60, 420, cv2.BORDER_CONSTANT, value=128)
        if number == 0:
            frame[120:240, 440:560] = cv2.resize(faces[SECOND_PERSON], (120, 120))
        for _ in range(15):
            writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    page.goto(f"{url}/classify")
    page.get_by_role("heading", name="Classify").first.wait_for(timeout=90_000)
    settled(page)
    for name, (widget, option, expected_text) in CLASSIFY_STEPS.items():
        if not widget:
            page.locator('input[type="file"]').first.set_input_files(scratch / option)
        elif option:
            page.get_by_role("combobox", name=widget).click()
            page.get_by_role("option", name=option, exact=True).click()
        else:
            page.get_by_text(widget, exact=True).click()
        yield name, check_shown(page, out / f"{name}.png", expected_text)
    page.get_by_text(LABELLED, exact=True).click()
    settled(page)
    page.locator('input[type="file"]').first.set_input_files(labelled_zip(scratch))
    settled(page)
    page.get_by_role("button", name="Score on these photos").first.click()
    yield "classify-labelled", check_shown(page, out / "classify-labelled.png", "Right on")


def labelled_zip(scratch: Path) -> Path:
    """The sample's PrivateTest faces as PNGs in emotion folders, zipped as a dataset is shared."""
    sample = load_sample()
    archive = scratch / "labelled.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for index in np.flatnonzero(sample.usage == USAGES.index("PrivateTest")):
            zipped.writestr(f"faces/{CLASSES[sample.labels[index]]}/{index}.png", cv2.imencode(".png", sample.images[index])[1])
    return archive


def train_steps(page: Page, url: str, out: Path, scratch: Path) -> Iterator[tuple[str, list[str]]]:
    """On Train: import a run exported on another machine (the default model's run, renamed so
    that it is not the committed one), then download it again as its zip."""
    copy = scratch / IMPORTED_RUN
    shutil.copytree(next(run.path for run in store.reference_runs() if run.model_path.exists()), copy)
    archive = scratch / f"{IMPORTED_RUN}{sharing.SUFFIX}"
    with archive.open("wb") as file:
        sharing.export_run(store.read_run(copy), file)
    page.goto(f"{url}/train")
    page.get_by_role("heading", name="Train").first.wait_for(timeout=90_000)
    settled(page)
    damaged = scratch / "damaged.fer-run.zip"
    damaged.write_bytes(archive.read_bytes()[:1000])
    page.get_by_text("Import runs trained on another machine", exact=True).click()
    page.locator('input[type="file"]').first.set_input_files([archive, damaged])
    page.get_by_role("button", name="Import", exact=True).click()
    problems = check_shown(page, out / "train-import.png", f"Imported FER-CNN fine-tuned · {IMPORTED_RUN}")
    if "damaged.fer-run.zip: not a readable zip of an exported run" not in page.inner_text("body"):
        problems.append("the damaged zip is not said to be one")
    yield "train-import", problems
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the run").first.click()
    with zipfile.ZipFile(download.value.path()) as downloaded:
        names = sorted(downloaded.namelist())
    expected = sorted(f"{IMPORTED_RUN}/{name}" for name in sharing.SHARED_FILES if (copy / name).exists())
    yield "train-download", [] if names == expected else [f"the downloaded zip holds {names}, not {expected}"]


def report(name: str, started: float, shot: Path, problems: list[str]) -> None:
    verdict = "ok" if not problems else "FAILED: " + "; ".join(problems)
    print(f"{name:17} {time.monotonic() - started:5.1f} s  {shot}  {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "FER_ARTIFACTS": str(Path(scratch) / "artifacts")}
        server = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )
        failures = []
        try:
            wait_healthy(url)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                # Streamlit scrolls inside its own container, so a full-page shot is only the viewport: make it tall.
                page = browser.new_page(viewport={"width": 1400, "height": 6500})
                for path, title in PAGES.items():
                    name = path or "overview"
                    started = time.monotonic()
                    shot = args.out / f"{name}.png"
                    problems = check_page(page, f"{url}/{path}", title, shot)
                    report(name, started, shot, problems)
                    failures += problems
                started = time.monotonic()
                for steps in (classify_steps, train_steps):
                    for name, problems in steps(page, url, args.out, Path(scratch)):
                        report(name, started, args.out / f"{name}.png", problems)
                        failures += problems
                        started = time.monotonic()
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
