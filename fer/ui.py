"""Streamlit glue shared by the pages: cached loading, readable errors, the sidebar facts.

Kept apart from the rest of the library so that nothing else depends on Streamlit.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import streamlit as st

from fer import data, feature_map, photos, predict, video
from fer.dataset import FaceDataset
from fer.errors import FerError
from fer.hardware import gpu_names, keras_backend
from fer.paths import dataset_cache_path
from fer.saliency import occlusion_maps
from fer.store import Run
from fer.temperature import Scaling
from fer.vocab import DATASETS

if TYPE_CHECKING:  # annotations only: the pages load Keras when a model is first needed
    import keras

PHOTO_CACHE_ENTRIES = 8
"""Photos whose analysis is kept between reruns: display images of at most 1280 px (5 MB) and
their faces, so at most ~40 MB, for a batch the size people classify at once."""


def dataset(which: str = "active") -> FaceDataset:
    """The dataset, loaded once per server and again only when a new import replaced the cache."""
    cache = dataset_cache_path()
    return _load_dataset(which, cache.stat().st_mtime_ns if cache.exists() else 0)


@st.cache_resource(show_spinner="Loading faces…", max_entries=4)
def _load_dataset(which: str, cache_stamp: int) -> FaceDataset:
    # cache_stamp only keys the cache: a new import changes it, so the next call reloads.
    return data.load_dataset(which)


def classifier(choice: predict.ModelChoice) -> keras.Model:
    """The chosen model, loaded once per version of its file.

    A model that fails to load is from then on listed by :func:`fer.predict.broken_models`
    instead of being offered, so the page runs again at once: the next best model becomes the
    default, and the broken one is listed with its reason.
    """
    try:
        return _classifier(str(choice.path), choice.path.stat().st_mtime_ns, choice)
    except FerError:
        if predict.model_problem(choice.path):
            st.rerun()
        raise


@st.cache_resource(show_spinner="Loading the model (Keras starts the first time: a few seconds)…", max_entries=2)
def _classifier(path: str, stamp: int, _choice: predict.ModelChoice) -> keras.Model:
    # path and stamp (the file's mtime) key the cache: a retrained or replaced model reloads.
    # Streamlit does not hash arguments named with a leading underscore.
    return predict.load_choice(_choice)


@st.cache_resource(show_spinner=False, max_entries=PHOTO_CACHE_ENTRIES)
def photo_analysis(name: str, content: bytes) -> photos.Analysis:
    """:func:`fer.photos.analyse_photo`, kept so that reruns (another model, a click) skip
    decoding and detection; only the display image and the faces are kept."""
    return photos.analyse_photo(name, content)


def saliency_maps(choice: predict.ModelChoice) -> Callable[..., np.ndarray]:
    """:func:`fer.saliency.occlusion_maps` for the chosen model, kept per model file, faces and
    test-time augmentation: the maps cost 0.14 s, 0.28 s or 1.45 s a face on a 2-core CPU with
    none, flip or shift TTA (:data:`fer.vocab.TTA`), and every click on the page reruns it."""
    path, stamp = str(choice.path), choice.path.stat().st_mtime_ns

    def maps(model: keras.Model, faces: np.ndarray, *, tta: str = "none") -> np.ndarray:
        return _saliency_maps(path, stamp, faces, tta, model)

    return maps


@st.cache_data(show_spinner="Mapping what drove each prediction…", max_entries=16)
def _saliency_maps(path: str, stamp: int, faces: np.ndarray, tta: str, _model: keras.Model) -> np.ndarray:
    # The model file's path and mtime stand for the (unhashable) model, as in _classifier.
    return occlusion_maps(_model, faces, tta=tta)


def faces_map(run: Run) -> feature_map.FeatureMap:
    """:func:`fer.feature_map.feature_map` of ``run`` on the loaded dataset, kept per model file and
    import: t-SNE takes seconds, and every lasso drawn on the map reruns the page."""
    stamp = run.model_path.stat().st_mtime_ns if run.model_path.exists() else 0
    cache = dataset_cache_path()
    return _faces_map(run.run_id, stamp, cache.stat().st_mtime_ns if cache.exists() else 0, run)


@st.cache_resource(
    show_spinner="Laying out the test faces as the network sees them (about 20 s for 3,589 faces on a 2-core CPU)…",
    max_entries=4,
)
def _faces_map(run_id: str, stamp: int, cache_stamp: int, _run: Run) -> feature_map.FeatureMap:
    # The run's id, its model file's mtime and the import's stand for the run and the faces it is drawn on.
    return feature_map.feature_map(_run, load=dataset)


VIDEO_STATE = "video_analysis"
"""Where a session keeps its last video's analysis, with the upload and interval it is of."""


def video_analysis(upload_id: str, name: str, stream: io.BufferedIOBase, every_s: float) -> video.VideoAnalysis:
    """:func:`fer.video.analyse_video` with a progress bar, kept in the session for its last
    video: reading and detection take seconds to a minute, and every click on the page reruns it.
    Only one is kept per session, so memory stays that of one video's crops and small frames
    (about 25 MB at most)."""
    key = (upload_id, every_s)
    kept = st.session_state.get(VIDEO_STATE)
    if kept is not None and kept[0] == key:
        return kept[1]
    bar = st.progress(0.0, text=f"Reading {name}…")
    try:
        analysis = video.analyse_video(name, stream, every_s=every_s, progress=lambda done, line: bar.progress(done, line))
    finally:
        bar.empty()
    st.session_state[VIDEO_STATE] = (key, analysis)
    return analysis


def video_timeline(
    choice: predict.ModelChoice,
    model: keras.Model,
    upload_id: str,
    analysis: video.VideoAnalysis,
    person: int,
    tta: str,
    scaling: Scaling,
) -> pd.DataFrame:
    """:func:`fer.video.classify_video` of one person of the upload's analysis
    (:func:`video_analysis`), kept per model file, person, test-time augmentation and
    scaling: with shift TTA a 10-minute video's 1,200 faces take about 15 s on a 2-core CPU."""
    stamp = choice.path.stat().st_mtime_ns
    return _video_timeline(str(choice.path), stamp, upload_id, analysis.every_s, person, tta, scaling, model, analysis)


@st.cache_data(show_spinner="Classifying the faces…", max_entries=4)
def _video_timeline(
    path: str,
    stamp: int,
    upload_id: str,
    every_s: float,
    person: int,
    tta: str,
    scaling: Scaling,
    _model: keras.Model,
    _analysis: video.VideoAnalysis,
) -> pd.DataFrame:
    # The model file's path and mtime stand for the model, as in _classifier; the upload's id
    # (unique to each upload) and the interval stand for the analysis.
    return video.classify_video(_model, _analysis, person=person, tta=tta, scaling=scaling)


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a :class:`FerError` as a red box instead of a traceback; other errors stay bugs."""
    try:
        yield
    except FerError as error:
        st.error(str(error), icon=":material/error:")


def sidebar_facts() -> None:
    """Which data and which compute the pages work with, on every page. Data that can't be
    read is said here in a word; the page shows why (:func:`user_errors` around it)."""
    try:
        described = f"{DATASETS[data.active_dataset_name()]}, {len(dataset()):,} faces"
    except FerError:
        described = "can't be read (see the Dataset page)"
    with st.sidebar:
        st.caption(
            f"**Data:** {described}  \n"
            f"**Keras backend:** {keras_backend()}  \n"
            f"**GPU:** {', '.join(gpu_names()) or 'none (training runs on the CPU)'}"
        )
