"""Streamlit glue shared by the pages: cached loading, readable errors, the sidebar facts.

Kept apart from the rest of the library so that nothing else depends on Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from fer import data
from fer.errors import FerError
from fer.hardware import gpu_names, keras_backend
from fer.paths import dataset_cache_path


def dataset(which: str = "active") -> data.FaceDataset:
    """The dataset, loaded once per server and again only when a new import replaced the cache."""
    cache = dataset_cache_path()
    return _load_dataset(which, cache.stat().st_mtime_ns if cache.exists() else 0)


@st.cache_resource(show_spinner="Loading faces…", max_entries=4)
def _load_dataset(which: str, cache_stamp: int) -> data.FaceDataset:
    # cache_stamp only keys the cache: a new import changes it, so the next call reloads.
    return data.load_dataset(which)


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a :class:`FerError` as a red box instead of a traceback; other errors stay bugs."""
    try:
        yield
    except FerError as error:
        st.error(str(error), icon=":material/error:")


def sidebar_facts() -> None:
    """Which data and which compute the pages work with, on every page."""
    active = dataset()
    with st.sidebar:
        st.caption(
            f"**Data:** {'FER2013 sample (shipped)' if active.name == 'sample' else 'imported FER2013'}, "
            f"{len(active):,} faces  \n"
            f"**Keras backend:** {keras_backend()}  \n"
            f"**GPU:** {', '.join(gpu_names()) or 'none (training runs on the CPU)'}"
        )
