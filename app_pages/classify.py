"""Classify: the emotions of the faces in a user's photos, with a trained run's model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import streamlit as st

from fer import charts, predict, ui
from fer.data import CLASSES
from fer.faces import Face, detect_faces, whole_image_face
from fer.images import decode_photo

PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp"]
CROP_ZOOM = 3  # the 48x48 crop the model saw, shown at 144x144
WHOLE_IMAGE_STATE = "classify_whole_images"  # ids of the photos to classify as one face


@st.cache_resource(show_spinner="Loading the model (Keras starts the first time: a few seconds)…", max_entries=2)
def classifier(path: str, stamp: int) -> Any:
    # stamp (the file's mtime) only keys the cache: a retrained or replaced model reloads.
    return predict.load_classifier(Path(path))


@st.cache_resource(show_spinner=False, max_entries=12)
def analyse(content: bytes, name: str) -> tuple[np.ndarray, list[Face]]:
    """The decoded photo and its faces, kept so that reruns (another model, a click) skip detection."""
    photo = decode_photo(content, name)
    return photo, detect_faces(photo)


def no_model() -> None:
    st.info(
        "There is no trained model to classify with yet. Classifying needs a **completed run that saved its "
        "model**: train one on the Train page. For a quick one, choose the compact CNN (custom scenario) on the "
        "shipped sample, which trains in about a minute on a CPU; a model trained on the sample is barely better "
        "than chance, though, so for real predictions train on the imported FER2013.",
        icon=":material/info:",
    )
    st.page_link("app_pages/train.py", label="Go to the Train page", icon=":material/model_training:")


def describe(choice: predict.ModelChoice) -> None:
    """Which model the results come from, and how far to trust it."""
    accuracy = f"{choice.test_accuracy:.1%}" if choice.test_accuracy is not None else "unknown"
    data = {"sample": "the shipped FER2013 sample", "full": "the full FER2013"}.get(choice.data, choice.data)
    split = f" ({choice.test_split})" if choice.test_split else ""
    origin = f"the reference run `{choice.run_id}` shipped with the project" if choice.reference else f"run `{choice.run_id}`"
    st.markdown(
        f"Classifying with **{choice.name}** from {origin}: trained on {data}, test accuracy **{accuracy}**{split}."
    )
    if choice.data == "sample":
        st.warning(
            "This model was trained on the small shipped sample: it is barely better than chance (1 in 7 is "
            "14%), so treat its answers as a demonstration of the pipeline, not as emotions.",
            icon=":material/warning:",
        )


def photos_given() -> list[tuple[str, str, bytes]]:
    """(id, name, bytes) of every uploaded photo and the camera's, in the order given."""
    uploads = st.file_uploader(
        "Photos", type=PHOTO_TYPES, accept_multiple_files=True, key="classify_uploads",
        help="One or more photos with faces (jpg, jpeg, png, webp or bmp). FER2013-style 48x48 face crops work too.",
    )
    photos = [(upload.file_id, upload.name, upload.getvalue()) for upload in uploads or []]
    if st.toggle("Take a photo with the camera", key="classify_camera_on"):
        shot = st.camera_input("Camera", key="classify_camera")
        if shot is not None:
            photos.append((shot.file_id, "camera photo", shot.getvalue()))
    return photos


def whole_image(photo_id: str) -> None:
    st.session_state.setdefault(WHOLE_IMAGE_STATE, set()).add(photo_id)


def faces_of(index: int, photo_id: str, name: str, content: bytes) -> tuple[np.ndarray, list[Face]] | None:
    """A photo and the faces to classify in it; None when it has none yet (the user is asked)."""
    photo, faces = analyse(content, name)
    if faces:
        return photo, faces
    if photo_id in st.session_state.get(WHOLE_IMAGE_STATE, set()):
        return photo, [whole_image_face(photo)]
    st.subheader(name, divider="gray")
    st.image(predict.annotate(photo, [], np.zeros((0, len(CLASSES)))), caption=f"{name}: no face found")
    st.warning(
        f"No face found in {name}. The detector looks for frontal faces; if the photo is a face "
        "(a close crop, a drawing, a tilted head), classify the whole image as one face.",
        icon=":material/face_retouching_off:",
    )
    st.button(
        "Classify the whole image as one face", key=f"classify_whole_{index}", on_click=whole_image,
        args=(photo_id,), icon=":material/crop_free:",
    )
    return None


def show_photo(index: int, name: str, photo: np.ndarray, faces: list[Face], probabilities: np.ndarray) -> None:
    """One photo: its faces boxed and labelled, then each face's crop and probabilities."""
    st.subheader(name, divider="gray")
    if faces[0].whole_image and len(faces) == 1:
        st.caption("The whole image is classified as one face (no face was found in it, or it is a face crop).")
    picture, details = st.columns([3, 2])
    with picture:
        counted = f"{len(faces)} face{'s' if len(faces) != 1 else ''}"
        st.image(predict.annotate(photo, faces, probabilities), caption=f"{name}: {counted}")
    with details:
        for number, (face, row) in enumerate(zip(faces, probabilities), start=1):
            emotion, probability = predict.top_emotion(row)
            crop_column, bars_column = st.columns([1, 3], vertical_alignment="center")
            crop_column.image(predict.enlarged(face.crop, CROP_ZOOM), caption=f"face {number}: what the model saw")
            with bars_column:
                st.markdown(f"**Face {number}: {emotion}** ({probability:.0%})")
                st.plotly_chart(charts.probability_figure(row), key=f"classify_probabilities_{index}_{number}")


# --------------------------------------------------------------------------------------------
st.title("Classify emotions in photos")
models = predict.available_models()
if not models:
    no_model()
    st.stop()

choice = st.selectbox(
    "Model", models, format_func=lambda model: model.label, key="classify_model",
    help="Completed runs that saved a model, and the reference model shipped with the project; best test accuracy first.",
)
describe(choice)
photos = photos_given()
if not photos:
    st.info(
        "Upload one or more photos above, or turn on the camera. Faces are found with OpenCV's Haar cascade, "
        "cut out and shrunk to 48x48 grayscale as in FER2013, and classified into "
        f"{', '.join(CLASSES)}.",
        icon=":material/upload:",
    )
    st.stop()

model = None
with ui.user_errors():
    model = classifier(str(choice.path), choice.path.stat().st_mtime_ns)
if model is None:
    st.stop()

# Find the faces of every photo first, then classify them all in one call (one model run per
# page run); each photo keeps its place on the page, in the order given.
found: list[tuple[int, str, np.ndarray, list[Face], Any]] = []
for index, (photo_id, name, content) in enumerate(photos):
    with (slot := st.container()), ui.user_errors():
        if (photo_and_faces := faces_of(index, photo_id, name, content)) is not None:
            found.append((index, name, *photo_and_faces, slot))
crops = [face.crop for _, _, _, faces, _ in found for face in faces]
probabilities = predict.classify_faces(model, np.stack(crops)) if crops else np.zeros((0, len(CLASSES)))

rows: list[dict[str, Any]] = []
start = 0
for index, name, photo, faces, slot in found:
    mine = probabilities[start : start + len(faces)]
    start += len(faces)
    with slot:
        show_photo(index, name, photo, faces, mine)
    rows += predict.result_rows(name, faces, mine)

if rows:
    st.header("All faces")
    table = predict.results_table(rows)
    st.dataframe(
        table, hide_index=True,
        column_config={
            column: st.column_config.NumberColumn(format="%.3f") for column in ("probability", *CLASSES)
        },
    )
    st.caption("Boxes are x, y, width and height in the photo's own pixels; probabilities are in [0, 1].")
    st.download_button(
        "Download the results as CSV", table.to_csv(index=False), file_name="emotions.csv", mime="text/csv",
        icon=":material/download:", key="classify_csv", on_click="ignore",
    )
