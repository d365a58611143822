"""Classify: the emotions of the faces in a user's photos, or of the face in a video over time,
with a trained run's model."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import streamlit as st

from fer import (
    annotate,
    charts,
    compare,
    faces,
    inference,
    labelled,
    measuring,
    photos,
    predict,
    robustness,
    runs,
    ui,
    video,
)
from fer.saliency import PATCH, STRIDE, patch_corners
from fer.temperature import Scaling
from fer.vocab import CLASSES, DATASETS, TTA, VIDEO_EVERY_S

CROP_ZOOM = 3  # the 48x48 crop the model saw, shown at 144x144
WHOLE_IMAGE_STATE = "classify_whole_images"  # ids of the photos to classify as one face
LABELLED_STATE = "classify_labelled"  # the last labelled photos scored: (source, settings, scores)
INPUTS = ("Photos", "A video", "Labelled photos: how right is it?")
VIDEO_INTERVALS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)  # seconds between the frames classified
HOW_MEASURED = (
    "classifies its test faces blurred, compressed, darker, brighter, noisy and small, and keeps the result for this "
    "page (about 11 minutes on a 2-core CPU for FER2013's 3,589 PrivateTest faces with shift TTA)"
)  # `fer robustness` on the default model: 11 min 22 s on a 2-core AMD EPYC
MEASURING_REFRESH = "2s"  # how often a measurement's progress is re-read while it runs
PEOPLE_SHOWN = 6  # faces shown to choose whom a video's timeline follows; the list holds them all


def no_model() -> None:
    st.info(
        "There is no trained model to classify with yet. Classifying needs a **completed run that saved its "
        "model**: train one on the Train page. The FER-CNN (custom scenario) on the imported FER2013 reaches the "
        "default model's accuracy in about 75 minutes on a 2-core CPU with bf16 (AMX), and 20 more minutes of fine-tuning "
        "with the photo augmentation make it read blurred faces as well (README, \"The default model\"); on the "
        "shipped sample it trains in a minute "
        "but is at best barely better than always answering the most common emotion, happy: a check of the "
        "pipeline rather than a classifier.",
        icon=":material/info:",
    )
    st.page_link("app_pages/train.py", label="Go to the Train page", icon=":material/model_training:")


def not_offered(broken: list[tuple[predict.ModelChoice, str]]) -> None:
    """The models that can't be loaded, and why, so a missing run is not a mystery."""
    lines = "\n".join(f"- {choice.name} (`{choice.run_id}`): {problem}" for choice, problem in broken)
    st.warning(f"Not offered, because these models can't be loaded:\n{lines}", icon=":material/broken_image:")


def describe(choice: predict.ModelChoice) -> None:
    """Which model the results come from, and how far to trust it."""
    accuracy = f"{choice.test_accuracy:.1%}" if choice.test_accuracy is not None else "unknown"
    data = DATASETS.get(choice.data, choice.data)
    split = f" ({choice.scored_on})" if choice.scored_on else ""
    origin = f"the reference run `{choice.run_id}` shipped with the project" if choice.reference else f"run `{choice.run_id}`"
    st.markdown(
        f"Classifying with **{choice.name}** from {origin}: trained on {data}, test accuracy **{accuracy}**{split}."
        + seen_in_training(choice.seen)
        + calibrated(choice)
    )
    if warning := predict.trust_warning(choice):
        st.warning(warning, icon=":material/warning:")
    if (metrics := predict.per_class_metrics(choice)) is not None:
        with st.expander("How often it is right, emotion by emotion"):
            st.plotly_chart(charts.per_emotion_figure(metrics), key="classify_per_emotion")
            st.caption(
                f"Scored on {choice.scored_on or 'its test faces'}. Precision: of its answers of an emotion, the share "
                "that are right; recall: of the faces showing it, the share it finds. Whiskers: 95% intervals resampled "
                "from its test answers; the rare emotions (disgust above all) stand on few faces."
            )
    with st.expander("How it holds up on worse photos"):
        show_robustness(choice)


def show_robustness(choice: predict.ModelChoice) -> None:
    """The chosen model's accuracy on its test faces made worse (blur, JPEG, light, noise, size), each
    against the faces as they are, where its run measured it; else a way to measure it."""
    measured = choice.robustness
    if measured is None and choice.reference:
        st.caption(f"Not measured for this model: `python -m fer robustness {choice.run_id}` {HOW_MEASURED}.")
        return
    if measured is None:
        now = measuring.progress(choice.run_id)
        live = now is not None and now.error is None
        st.fragment(run_every=MEASURING_REFRESH if live else None)(measuring_panel)(choice.run_id, live)
        return
    figure = charts.paired_forest_figure(measured.conditions, a="clean", b="made worse", measure="accuracy")
    st.plotly_chart(figure, key="classify_robustness")
    st.caption(
        f"On {robustness.summary(measured)}. Each row: the accuracy on the faces so made worse minus that on the "
        "faces with nothing made worse (clean), paired on the same faces, with its 95% interval; red where it costs "
        "significantly (McNemar, 5%). Tilted heads are not among them: the page turns a tilted face level first."
    )


def measuring_panel(run_id: str, live: bool) -> None:
    """A run's measurement on worse photos: its progress while it runs in the background (the
    fragment re-reads it every few seconds), else the button that starts it and why the last one
    stopped. ``live`` says whether the fragment was set up with the refresh timer."""
    now = measuring.progress(run_id)
    if live != (now is not None and now.error is None):
        st.rerun()  # started or ended: a full rerun reads the model's new metrics and sets the timer
    if live:
        elapsed = now.elapsed_seconds()
        left = f", about {runs.duration(elapsed / now.fraction * (1 - now.fraction))} left" if now.fraction > 0 else ""
        if now.waiting:
            st.progress(0.0, text=f"Waiting to measure it on worse photos: {now.message} ({runs.duration(elapsed)} so "
                        "far). One job at a time, training first; it starts by itself.")
        else:
            st.progress(now.fraction, text=f"Measuring it on worse photos, in the background: {now.message} "
                        f"({runs.duration(elapsed)} so far{left}). The other pages can be used meanwhile.")
        if st.button("Cancel the measurement", key="classify_measure_cancel", icon=":material/cancel:"):
            with ui.user_errors():
                measuring.cancel(run_id)
        return
    if now is not None:
        st.error(f"The last measurement stopped: {now.error}", icon=":material/error:")
    st.caption(f"Not measured for this model yet. Measuring {HOW_MEASURED}; it runs in the background, once no "
               "training run is queued or running (they would share the processor).")
    if st.button("Measure it on worse photos", key="classify_measure", icon=":material/blur_on:"):
        with ui.user_errors():
            measuring.start(run_id)
            st.rerun()


def seen_in_training(seen: dict[str, Any] | None) -> str:
    """How much of the test accuracy is memory, where the run kept it: FER2013 holds some test
    faces twice, and a model's score on the copies of faces it trained on flatters it."""
    if seen is None:
        return ""
    repeats = seen["copies"] + seen["near_copies"]
    if not repeats:
        return " It had trained on none of those faces, nor on a near copy of one."
    others = seen["test_images"] - repeats
    unseen = f" On the other {others:,}, **{seen['accuracy_others']:.1%}**: the better guide to new faces." if others else ""
    return f" {repeats:,} of its test faces are copies or near copies of faces it trained on (Dataset page).{unseen}"


def calibrated(choice: predict.ModelChoice) -> str:
    """How far its probabilities can be taken at their word, where the run kept its calibration:
    scaled by its temperature where it fitted one, and as the network gives them."""
    if choice.ece is None:
        return ""
    off = "is off by **{:.1f} points** on average from how often such answers are right"
    if choice.scaled_ece is None:
        return (
            f" On its test faces, the probability it gives its answer {off.format(100 * choice.ece)} (expected "
            "calibration error; Compare page)."
        )
    return (
        f" Its probabilities are scaled by a temperature of {choice.temperature:.3g}, fitted on its validation faces: "
        f"so scaled, the probability it gives its answer on its test faces {off.format(100 * choice.scaled_ece)} "
        f"({100 * choice.ece:.1f} unscaled; expected calibration error, Compare page)."
    )


def options(choice: predict.ModelChoice, photos_given: bool) -> tuple[str, Scaling, bool]:
    """Which views of each face to average (test-time augmentation), what the probabilities go
    through (the run's temperature unless turned off, its balanced answers if turned on) and, for
    photos, whether to map what drove each prediction. The views start at the chosen run's own
    setting, once per model."""
    tta_column, scaling_column, saliency_column = st.columns(3)
    tta = tta_column.selectbox(
        "Test-time augmentation", list(TTA), index=list(TTA).index(choice.tta), key=f"classify_tta_{choice.run_id}",
        help="The views of each face whose answers are averaged: steadier, at 1, 2 or 10 times the compute. "
        + " ".join(f"**{kind}**: {views}." for kind, views in TTA.items())
        + " On the shipped model, shift scored 0.6 points above flip on FER2013's test faces. Starts as the chosen "
        f"run measured its test accuracy ({choice.tta} for this model).",
    )
    calibrated = (choice.temperature != 1.0 or choice.offers_balanced) and scaling_column.toggle(
        "Calibrated probabilities", value=True, key="classify_calibrated",
        help=f"The network's probabilities scaled by the temperature its run fitted on its validation faces "
        f"({choice.temperature:.3g}): the answers stay the same, and their probabilities come as close as one number "
        "can to how often such answers are right. Off: the network's own softmax.",
    )
    balanced = choice.offers_balanced and scaling_column.toggle(
        "Balanced answers", key="classify_balanced",
        help="A model learns how common each emotion was among its training faces along with the faces: FER2013's "
        "are a quarter happy and 1.5% disgust, so it answers happy readily and disgust rarely. Balanced answers "
        f"take those shares out of its probabilities, at the strength its run chose on its validation faces "
        f"({choice.balanced.strength:g} of the way to every emotion equally likely): rarer emotions are found more "
        "often, common ones a little less. The study's oversampling does this by training; this needs none.",
    )
    if balanced:
        show_balanced_effect(choice)
    scaling = choice.scaling(calibrated, balanced)
    if not photos_given:
        return tta, scaling, False
    saliency = saliency_column.toggle(
        "Show what drove each prediction", key="classify_saliency",
        help=f"Occlusion sensitivity: a {PATCH}x{PATCH} patch of the face's mean gray slides over the 48x48 crop "
        f"in {STRIDE}-pixel steps, and the heat map shows how much hiding each region lowers the predicted "
        f"emotion's probability: red regions drove the prediction most, blue ones hardly at all. It takes "
        f"{len(patch_corners(PATCH, STRIDE))} more classifications per face: a moment on a CPU.",
    )
    return tta, scaling, saliency


def show_balanced_effect(choice: predict.ModelChoice) -> None:
    """What the chosen model's balanced answers change on its test faces: in a sentence, and
    paired against its own answers, emotion by emotion."""
    st.caption(predict.balanced_effect(choice))
    with st.expander("Balanced against its own answers, emotion by emotion"), ui.user_errors():
        overall, by_emotion = compare.balanced_against_own(runs.get_run(choice.run_id), load=ui.dataset)
        figure = charts.paired_forest_figure(by_emotion, a="its own answers", b="balanced")
        st.plotly_chart(figure, key="classify_balanced_recall")
        st.caption(
            f"Balanced (B) against its own answers (A), paired on the same {overall.n:,} test faces: "
            f"{overall.sentence()}. Each row: the balanced answers' recall of that emotion minus its own, with "
            "its 95% paired interval; blue where balancing finds it significantly more often, red where less "
            "(McNemar, 5%; seven tests at once, so one barely past 5% may be chance). From the run's kept "
            "test probabilities, which a reference run keeps in steps of 1/255: a face or two near a tie may "
            "answer otherwise than in the sentence above."
        )


def photos_given() -> list[tuple[str, str, bytes]]:
    """(id, name, bytes) of every uploaded photo and the camera's, in the order given."""
    if note := faces.detector_note():
        st.caption(note)
    uploads = st.file_uploader(
        "Photos", type=sorted(photos.PHOTO_SUFFIXES), accept_multiple_files=True, key="classify_uploads",
        max_upload_size=photos.PHOTO_FILE_MAX_BYTES // 2**20,  # as for files the CLI reads; refused before uploading
        help="One or more photos with faces (jpg, jpeg, png, webp or bmp); FER2013-style 48x48 face crops work too. "
        "Faces are found with YuNet, OpenCV's small CNN face detector, or with OpenCV's Haar cascade when "
        "YuNet's model file is unavailable.",
    )
    given = [(upload.file_id, upload.name, upload.getvalue()) for upload in uploads or []]
    if st.toggle("Take a photo with the camera", key="classify_camera_on"):
        shot = st.camera_input("Camera", key="classify_camera")
        if shot is not None:
            given.append((shot.file_id, "camera photo", shot.getvalue()))
    return given


def whole_image(photo_id: str) -> None:
    st.session_state.setdefault(WHOLE_IMAGE_STATE, set()).add(photo_id)


def show_without_faces(index: int, photo_id: str, result: photos.PhotoResult) -> None:
    """A photo in which no face was found, and the offer to classify it whole."""
    st.subheader(result.name, divider="gray")
    st.image(result.image, caption=f"{result.name}: no face found")
    st.warning(photos.no_face_message(result), icon=":material/face_retouching_off:")
    st.button(
        "Classify the whole image as one face", key=f"classify_whole_{index}", on_click=whole_image,
        args=(photo_id,), icon=":material/crop_free:",
    )


def show_photo(index: int, result: photos.PhotoResult, measured: robustness.Robustness | None) -> None:
    """One photo: its faces boxed and labelled, then each face's details (:func:`show_face`),
    a small one's with what being small costs the chosen model (``measured``)."""
    st.subheader(result.name, divider="gray")
    found = result.faces
    if found[0].whole_image and len(found) == 1:
        st.caption(
            "The whole image is classified as one face, its centre square if it is not square (no face was "
            "found in it, or it is a face crop)."
        )
    if result.shrunk > 1:
        st.caption(f"A large photo: it was read at 1/{result.shrunk} of its size; boxes are in its own pixels.")
    picture, details = st.columns([3, 2])
    counted = f"{len(found)} face{'s' if len(found) != 1 else ''}"
    picture.image(result.image, caption=f"{result.name}: {counted}")
    with details:
        for number, (face, row) in enumerate(zip(found, result.probabilities), start=1):
            drove = None if result.saliency is None else result.saliency[number - 1]
            note = robustness.small_face_note(measured, min(face.box[2:]) / result.shrunk)  # px it was cut from
            show_face(f"{index}_{number}", f"face {number}", face, row, drove, note)


def show_face(
    key: str, label: str, face: faces.Face, row: np.ndarray, drove: np.ndarray | None, note: str = ""
) -> None:
    """The crop the model saw, its probabilities and, given its occlusion map ``drove``, what
    drove the prediction: then the crop and the map side by side at full size, the bars below.
    ``label`` names the face ("face 2" in a photo, "at 1.50 s" in a video); ``note``, if any, is
    said under its heading."""
    emotion, probability = inference.top_emotion(row)
    heading = f"**{label[0].upper()}{label[1:]}: {emotion}** ({probability:.0%})"
    seen = annotate.enlarged(face.crop, CROP_ZOOM)
    saw = f"{label}: what the model saw" + (f", turned level (tilted {face.tilt:+.0f}°)" if face.leveled else "")
    if drove is None:
        crop_column, bars_column = st.columns([1, 3], vertical_alignment="center")
        crop_column.image(seen, caption=saw)
        bars_column.markdown(heading)
        if note:
            bars_column.caption(note)
    else:
        st.markdown(heading)
        if note:
            st.caption(note)
        crop_column, heat_column = st.columns(2)
        crop_column.image(seen, caption=saw, width="stretch")
        cost = f"hiding the red lowers it by up to {100 * drove.max():.0f} points"
        heat_column.image(
            annotate.saliency_overlay(face.crop, drove, CROP_ZOOM), width="stretch",
            caption=f"{label}: what drove {emotion}; {cost}",
        )
        bars_column = st.container()
    bars_column.plotly_chart(charts.probability_figure(row), key=f"classify_probabilities_{key}")


def video_given() -> tuple[str, io.BufferedIOBase, float] | None:
    """The uploaded video (its upload's id and the file) and how often to classify a frame of it."""
    upload_column, every_column = st.columns([3, 1])
    upload = upload_column.file_uploader(
        "Video", type=sorted(suffix[1:] for suffix in video.VIDEO_SUFFIXES), key="classify_video",
        # No max_upload_size: the server's own limit (.streamlit/config.toml), as a video is read as it decodes.
        help="A video with a face in it. Frames are read as the video decodes, one every few tenths of a second is "
        "kept, and the faces in each are found and linked from frame to frame into people: the timeline follows "
        "one person, at first the one found in most frames.",
    )
    every = every_column.select_slider(
        "Classify a frame every", VIDEO_INTERVALS, value=VIDEO_EVERY_S, format_func=lambda seconds: f"{seconds:g} s",
        key="classify_video_every",
        help=f"Shorter intervals catch brief expressions and take longer; a video is read up to "
        f"{video.MAX_SAMPLES:,} frames or {video.MAX_SECONDS / 60:.0f} minutes.",
    )
    return None if upload is None else (upload.file_id, upload, every)


def show_video(
    choice: predict.ModelChoice, model: Any, upload_id: str, analysis: video.VideoAnalysis, tta: str, scaling: Scaling
) -> None:
    """Whose faces to follow, their timeline as a chart, any sampled frame with their face and
    its probabilities, how often each emotion was the answer, and the timeline as a table to download."""
    st.caption(video.summary(analysis))
    person = choose_person(upload_id, analysis)
    timeline = ui.video_timeline(choice, model, upload_id, analysis, person, tta, scaling)
    found = timeline[timeline["face_found"]]
    if found.empty:
        st.warning(
            f"No face found in any sampled frame of {analysis.name}. The face detector looks for faces turned mostly "
            "towards the camera and at least a few tens of pixels across.", icon=":material/face_retouching_off:",
        )
        return
    st.subheader("Emotions over time", divider="gray")
    smoothing = st.slider(
        "Smoothing", 0.0, 0.95, 0.0, 0.05, key="classify_video_smoothing",
        help="An exponential moving average over the sampled frames, as on the training curves: 0 shows each frame's answer.",
    )
    st.plotly_chart(charts.emotion_timeline_figure(timeline, smoothing), key="classify_video_timeline")
    when = st.select_slider(
        "A sampled frame", found["time_s"].tolist(), format_func=lambda seconds: f"{seconds:,.2f} s",
        key="classify_video_frame", help="Frames in which a face was found: the frame, its face and the face's probabilities.",
    )
    row = int(found.index[found["time_s"] == when][0])
    picture, details = st.columns([3, 2])
    image, scale = analysis.frame(row)
    probabilities = found.loc[row, list(CLASSES)].to_numpy(float)
    face = analysis.followed(person)[row]
    picture.image(annotate.annotate(image, [face], probabilities[None], scale), caption=f"{analysis.name} at {when:,.2f} s")
    with details:
        note = robustness.small_face_note(choice.robustness, min(face.box[2:]))
        show_face(f"video_{row}", f"at {when:,.2f} s", face, probabilities, None, note)
    shares = video.emotion_shares(timeline)["share"].to_numpy()
    show_shares(shares, f"{len(found):,} frames with a face", "classify_video_shares")
    st.dataframe(
        timeline, hide_index=True,
        column_config={column: st.column_config.NumberColumn(format="%.3f") for column in ("probability", *CLASSES)},
    )
    st.download_button(
        "Download the timeline as CSV", predict.results_csv(timeline, choice, tta, scaling),
        file_name="emotions_over_time.csv", mime="text/csv", icon=":material/download:", key="classify_video_csv",
        on_click="ignore",
    )


def score_labelled(
    choice: predict.ModelChoice, tta: str, scaling: Scaling, models: dict[str, predict.ModelChoice]
) -> None:
    """Where the labelled photos come from (an uploaded zip, or a folder or zip on this machine),
    and, at a click, the chosen model scored on them with a progress bar (and another of ``models``,
    paired with it, if one is chosen). The scores are kept for the settings they were made with,
    so the page's reruns show them without classifying again."""
    whole_column, against_column = st.columns(2)
    whole = whole_column.toggle(
        "Each photo is a face crop: classify it whole", key="labelled_whole",
        help="Off: faces are found in each photo as above, and the largest is scored (the one the label names); a "
        "photo with none is counted apart. On: each photo is one face, as FER2013's own crops are.",
    )
    against = against_column.selectbox(
        "Against another model, paired", [None, *(path for path in models if path != str(choice.path))],
        format_func=lambda path: "none" if path is None else models[path].label, key="labelled_against",
        help="Scores a second model (B) on the same photos, with its own test-time augmentation, and pairs its "
        "answers with the chosen model's (A): which is more accurate on your photos beyond chance, and in which "
        "emotions. Twice the time.",
    )
    upload_tab, path_tab = st.tabs(["Upload a .zip", "Folder or .zip on this machine"])
    source = None
    with upload_tab:
        upload = st.file_uploader(
            "A .zip of emotion folders", type=["zip"], max_upload_size=400, key="labelled_upload",
        )
        if st.button("Score on these photos", disabled=upload is None, key="labelled_score_upload"):
            source = (f"the uploaded {upload.name}", lambda: labelled.labelled_upload(upload, upload.name))
    with path_tab:
        typed = st.text_input("Folder or .zip", placeholder="~/datasets/jaffe/", key="labelled_path").strip()
        if st.button("Score on these photos", disabled=not typed, key="labelled_score_path"):
            source = (typed, lambda: labelled.labelled_photos(typed))
    scored = [(choice, tta, scaling)] + ([(models[against], models[against].tta, models[against].scaling())] if against else [])
    settings = [(str(model.path), views, scaled) for model, views, scaled in scored] + [whole]
    if source is not None:
        described, listing = source
        bar = st.progress(0.0, text="reading the photos")
        with ui.user_errors(), listing() as given:
            scores = [
                labelled.score_labelled(
                    ui.classifier(model), given, whole=whole, tta=views, scaling=scaled,
                    progress=lambda fraction, message, name=model.name: bar.progress(fraction, text=f"{name}: {message}"),
                )
                for model, views, scaled in scored
            ]
            st.session_state[LABELLED_STATE] = (described, settings, scores)
        bar.empty()
    kept = st.session_state.get(LABELLED_STATE)
    if kept is None:
        return
    described, scored_with, scores = kept
    if scored_with != settings:
        st.info(f"The score of {described} was made with other settings: score it again.", icon=":material/refresh:")
        return
    st.subheader(f"Scored on {described}", divider="gray")
    with ui.user_errors():
        for index, (score, how) in enumerate(zip(scores, scored)):
            show_labelled(score, *how, name="AB"[index] if len(scores) > 1 else "")
        if len(scores) > 1:
            overall, by_emotion = labelled.paired(*scores)
            st.markdown(f"**B against A** on the {overall.n:,} photos both scored: {overall.sentence()}.")
            st.plotly_chart(charts.paired_forest_figure(by_emotion), key="labelled_paired")
            st.caption(
                "Each row: B's recall of that emotion minus A's, on the photos showing it, with its 95% paired "
                "interval; blue where B finds it significantly more often, red where less (McNemar, 5%; seven tests "
                "at once, so one barely past 5% may be chance)."
            )


def show_labelled(
    score: labelled.LabelledScore, choice: predict.ModelChoice, tta: str, scaling: Scaling, name: str = ""
) -> None:
    """A model's score on labelled photos beside its score on its own test faces, where it goes
    wrong (confusion matrix, precision and recall per emotion), and every photo's answer; ``name``
    (A or B) where two are paired."""
    said = labelled.describe(score, choice.test_accuracy, choice.scored_on)
    st.markdown(f"**{name}: {choice.label}.** {said}" if name else said)
    if problems := score.problems():
        with st.expander(f"Not scored: {len(problems):,} photo{'s' if len(problems) != 1 else ''}"):
            st.text("\n".join(problems))
    key = f"labelled_{name or 'A'}"
    if score.metrics is not None:
        matrix_column, emotions_column = st.columns(2)
        with matrix_column:
            normalize = st.toggle("As shares of each emotion", value=True, key=f"{key}_normalize")
            figure = charts.confusion_matrix_figure(score.metrics["confusion_matrix"], normalize)
            st.plotly_chart(figure, key=f"{key}_confusion")
        with emotions_column:
            st.plotly_chart(charts.per_emotion_figure(score.metrics), key=f"{key}_per_emotion")
            st.caption("Whiskers: 95% intervals resampled from these photos; an emotion with few photos has wide ones.")
    with st.expander(f"Every photo's answer{' from ' + name if name else ''}"):
        st.dataframe(
            score.table, hide_index=True,
            column_config={column: st.column_config.NumberColumn(format="%.3f") for column in ("probability", *CLASSES)},
        )
        st.download_button(
            "Download the answers as CSV", predict.results_csv(score.table, choice, tta, scaling),
            file_name=f"labelled-photos{'-' + name if name else ''}.csv", mime="text/csv", icon=":material/download:",
            key=f"{key}_csv", on_click="ignore",
        )


def show_shares(shares: np.ndarray, counted: str, key: str) -> None:
    """How often each emotion was the answer, over what is ``counted`` ("12 faces in 3 photos"), as bars."""
    share_column, _ = st.columns(2)
    with share_column:
        st.markdown(f"**How often each emotion was the answer** ({counted})")
        st.plotly_chart(charts.probability_figure(shares), key=key)


def choose_person(upload_id: str, analysis: video.VideoAnalysis) -> int:
    """Whom the timeline follows, where the video has more than one person: each shown by a face
    of theirs, person 1 (found in most frames) first."""
    counts = analysis.frames_found()
    if len(counts) < 2:
        return 1
    for column, (person, frames) in zip(st.columns(PEOPLE_SHOWN), enumerate(counts[:PEOPLE_SHOWN], 1)):
        column.image(analysis.portrait(person), width=96, caption=f"Person {person} · {frames:,} frames")
    return st.selectbox(
        "Follow", range(1, len(counts) + 1), format_func=lambda person: f"Person {person} ({counts[person - 1]:,} frames)",
        key=f"classify_video_person_{upload_id}",
        help="The faces of successive frames are linked into people by where they are: a face near where a "
        "person's face was last seen, at about its size, is theirs. Someone who leaves and comes back elsewhere, "
        "or moves far between two sampled frames, is counted as another person.",
    )


# --------------------------------------------------------------------------------------------
st.title("Classify emotions in photos and videos")
models = predict.available_models()
if broken := predict.broken_models():
    not_offered(broken)
if not models:
    no_model()
    st.stop()

# The widget holds each model's file path, not the model: Streamlit would hand back the object of an
# earlier rerun, with what its metrics said then (before a calibration or a measurement landed).
by_path = {str(model.path): model for model in models}
chosen = st.selectbox(
    "Model", list(by_path), index=models.index(predict.default_model(models)), format_func=lambda path: by_path[path].label,
    key="classify_model",
    help="Completed runs that saved a model, and the reference model shipped with the project: models trained on "
    "the full FER2013 first, then best test accuracy first; each label names the test images its accuracy was "
    "measured on (PrivateTest, all test images, or the sample's). It starts at your own best run trained on the "
    "full FER2013, when you have one: those runs are all tested on FER2013's test faces, like the reference "
    "model, while runs on the shipped sample are tested on a few hundred sample faces, a number that can't be "
    "compared with theirs. Without such a run, it starts at the reference model shipped with the project.",
)
choice = by_path[chosen]
describe(choice)
kind = st.radio("Classify", INPUTS, horizontal=True, key="classify_input", label_visibility="collapsed")
tta, scaling, saliency = options(choice, kind == INPUTS[0])
if kind == INPUTS[2]:
    st.caption(
        "How right is the model on your own faces? Give photos sorted into folders named by their emotion "
        f"({', '.join(CLASSES)}; anger, happiness, surprised and the like too), as other datasets (CK+, JAFFE, "
        "KDEF, RAF-DB) are shared, as a .zip or a folder: each is classified and its answer checked against its "
        "folder. Photos in other folders (contempt) are left out and counted. A model trained on FER2013 usually "
        "scores lower on other datasets than on FER2013's own test faces."
    )
    score_labelled(choice, tta, scaling, by_path)
    st.stop()
if kind == INPUTS[1]:
    given_video = video_given()
    if given_video is None:
        st.info(
            "Upload a video (mp4, mov, avi, mkv or webm). A frame is taken every half second (or as often as you "
            "choose), its faces are found and followed from frame to frame, and each person's emotions are drawn "
            "over time.",
            icon=":material/upload:",
        )
        st.stop()
    with ui.user_errors():
        upload_id, stream, every = given_video
        analysis = ui.video_analysis(upload_id, stream.name, stream, every)
        show_video(choice, ui.classifier(choice), upload_id, analysis, tta, scaling)
    st.stop()
given = photos_given()
if not given:
    st.info(
        "Upload one or more photos above, or turn on the camera. Faces are found in each photo with YuNet, "
        "OpenCV's small CNN face detector (OpenCV's Haar cascade when YuNet's model file is unavailable), "
        "cut out, shrunk to 48x48 grayscale, given FER2013's spread of grey levels (its faces were "
        f"histogram-equalized) and classified into {', '.join(CLASSES)}.",
        icon=":material/upload:",
    )
    st.stop()

model = None
with ui.user_errors():
    model = ui.classifier(choice)
if model is None:
    st.stop()

asked_whole = st.session_state.get(WHOLE_IMAGE_STATE, set())
results = photos.classify_photos(
    model, [(name, content) for _, name, content in given],
    whole_images={index for index, (photo_id, _, _) in enumerate(given) if photo_id in asked_whole},
    tta=tta, scaling=scaling, saliency=saliency, analyse=ui.photo_analysis, explain=ui.saliency_maps(choice),
)
for index, ((photo_id, _, _), result) in enumerate(zip(given, results)):
    if result.error:
        st.error(result.error, icon=":material/error:")
    elif not result.faces:
        show_without_faces(index, photo_id, result)
    else:
        show_photo(index, result, choice.robustness)

table = photos.results_table(results)
if len(table):
    st.header("All faces")
    if len(table) > 1:
        photos_counted = table["file"].nunique()
        counted = f"{len(table):,} faces in {photos_counted:,} photo{'s' if photos_counted != 1 else ''}"
        show_shares(photos.answer_shares(table)["share"].to_numpy(), counted, "classify_shares")
    st.dataframe(
        table, hide_index=True,
        column_config={
            column: st.column_config.NumberColumn(format="%.3f") for column in ("probability", *CLASSES)
        },
    )
    st.caption(
        "Boxes are x, y, width and height in the photo's own pixels; probabilities are in [0, 1]. Tilt is the "
        f"angle of the eye line in degrees, clockwise: a face tilted {faces.LEVEL_MIN_TILT:g}° or more is turned "
        "level before it is classified (empty where the Haar detector, which finds no eyes, was used). The CSV "
        "also names, on every row, the run whose model answered, its test-time augmentation, the temperature and "
        "the balanced answers' strength (0: its own answers), so a file read later says how it was made."
    )
    st.download_button(
        "Download the results as CSV", predict.results_csv(table, choice, tta, scaling), file_name="emotions.csv",
        mime="text/csv", icon=":material/download:", key="classify_csv", on_click="ignore",
    )
