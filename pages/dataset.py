"""dataset page (placeholder until built)."""

import streamlit as st

st.title("Dataset")
