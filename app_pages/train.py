"""Train: launch the study's scenarios or a custom one in the background, and watch every run.

Everything shown is read from disk through :mod:`fer.runs` on each render: runs are separate
processes, so they keep training when the tab closes and show up again when it reopens.
Session state only remembers which finished runs' details are open.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from fer import balance, charts, measuring, robustness, runs, sharing, ui
from fer.hardware import cpu_name, gpu_names, keras_backend
from fer.scenarios import (
    DEFAULT_RECIPE,
    MAX_NOTE,
    RECIPES,
    SCENARIOS,
    RunConfig,
    cpu_hours,
    scenario,
    with_seeds,
)
from fer.vocab import (
    ARCHITECTURE_NAMES,
    ARCHITECTURES,
    AUGMENTATIONS,
    BALANCING,
    COPY_DROPS,
    DATA_CHOICES,
    DATASETS,
    OPTIMIZERS,
    PRECISIONS,
    PROTOCOLS,
    SCHEDULES,
    TTA,
    WEIGHTS,
)

DEVICE_CHOICES = ["1", "2", "4", "8", "all"]
LIVE_REFRESH = "2s"  # how often the runs section re-reads the disk while a run is queued or running
DETAILS_KEY = "train_details"
LOG_LINES = 40
WEIGHT_CHOICES = {**{name: f"{name}: {text}" for name, text in WEIGHTS.items()}, "file": "a weights file…"}
STATE_BADGES = {
    "queued": ("queued", "gray", ":material/hourglass_empty:"),
    "running": ("running", "blue", ":material/autorenew:"),
    "completed": ("completed", "green", ":material/check_circle:"),
    "failed": ("failed", "red", ":material/error:"),
    "cancelled": ("cancelled", "orange", ":material/cancel:"),
    "unreadable": ("unreadable", "red", ":material/broken_image:"),
}


# --------------------------------------------------------------------------------------------
# What will train


def compute_facts() -> None:
    """Which device and backend the runs will use, since that decides how long they take."""
    gpus = gpu_names()
    backend = keras_backend()
    if gpus:
        st.success(
            f"**GPU:** {', '.join(gpus)} · **Keras backend:** {backend}. "
            f"The queue trains up to {len(gpus)} run(s) at once, one per GPU; the rest wait their turn.",
            icon=":material/memory:",
        )
    else:
        st.warning(
            f"**No GPU found:** runs train on the CPU ({cpu_name()}) with the Keras **{backend}** backend, "
            "one at a time; the rest wait their turn. The FER-CNN (custom scenario, the default there) reaches "
            "70% on PrivateTest in about 75 minutes on 2 cores with bf16 (AMX); ResNet50 and VGG19 need a GPU for the study's 100 epochs.",
            icon=":material/memory:",
        )


def data_choice(key: str) -> str:
    """The data selector, saying which dataset ``active`` stands for right now."""
    active = ui.dataset()
    labels = {
        "active": f"active: now {active.name}, {len(active):,} faces",
        **{name: f"{name}: {text}" for name, text in DATASETS.items()},
    }
    if active.name != "full":
        labels["full"] = "full: nothing imported yet"
    return st.selectbox("Data", DATA_CHOICES, format_func=labels.__getitem__, key=key)


def options_help(options: dict[str, str]) -> str:
    """A selector's tooltip listing what each choice means, from the library's own descriptions."""
    return "\n".join(f"- **{name}**: {text}" for name, text in options.items())


def cpu_time_note(configs: list[RunConfig]) -> None:
    """On a CPU, how long the chosen runs will take, when that is long enough to matter."""
    if gpu_names() or not configs:
        return
    counted = {
        (c.data, c.protocol, c.balance, c.drop_copies): balance.training_images(
            ui.dataset("sample" if c.data == "sample" else "active"), c.protocol, c.balance, c.drop_copies
        )
        for c in configs
    }  # once per kind of run, not once per seed
    images = [counted[c.data, c.protocol, c.balance, c.drop_copies] for c in configs]
    hours = cpu_hours(configs, images)
    if hours is None:
        st.info(
            "ResNet50 has not been timed on a CPU here; expect it to be as slow as VGG19 (about 6–12 minutes "
            "per epoch of the full FER2013 on 2 cores).", icon=":material/schedule:",
        )
    elif hours > 1 / 6:
        runs_text = "this run" if len(configs) == 1 else f"these {len(configs)} runs, one after another,"
        st.info(f"On a 2-core CPU {runs_text} will take roughly {runs.duration(hours * 3600)} "
                "(measured speeds; twice that without bf16 support).", icon=":material/schedule:")


# --------------------------------------------------------------------------------------------
# Launching


def study_launcher() -> None:
    """The study's S1-S4, several at once, with the epochs and data that fit this machine."""
    shared = SCENARIOS["S1"]
    st.caption(
        f"All four use Adam, categorical cross-entropy, {AUGMENTATIONS['study']}, "
        f"batch {shared.batch_size}, learning rate {shared.learning_rate:g}, weights {shared.weights}, "
        f"protocol {shared.protocol}."
    )
    chosen = st.multiselect(
        "Scenarios", list(SCENARIOS), format_func=lambda name: SCENARIOS[name].label, key="study_scenarios"
    )
    left, middle, right = st.columns(3)
    epochs = left.number_input(
        "Epochs", value=shared.epochs, step=1, key="study_epochs",
        help=f"The study trained {shared.epochs} epochs; on a CPU, a few on the sample show the pipeline works.",
    )
    repeats = middle.number_input("Seeds per scenario", value=1, min_value=1, step=1, key="study_seeds",
                                  help="Repeat each scenario with seeds 42, 43, …; Compare shows mean ± sd.")
    with right:
        data = data_choice("study_data")
    configs: list[RunConfig] | None = None
    with ui.user_errors():
        configs = [c for name in chosen for c in with_seeds(scenario(name, epochs=int(epochs), data=data), int(repeats))]
        cpu_time_note(configs)
    launch_button = st.button(
        "Launch the chosen scenarios", type="primary", disabled=not configs, key="study_launch",
        icon=":material/play_arrow:",
    )
    if launch_button and configs:
        launch(configs)


def custom_launcher() -> None:
    """Any architecture, recipe and setting; invalid ones are explained before launch."""
    first, second, third = st.columns(3)
    default_arch = "vgg19" if gpu_names() else "fer_cnn"
    arch = first.selectbox(
        "Architecture", list(ARCHITECTURES), index=list(ARCHITECTURES).index(default_arch), key="custom_arch",
        format_func=ARCHITECTURE_NAMES.__getitem__, help=options_help(ARCHITECTURES),
    )
    recipe = first.selectbox(
        "Recipe", list(RECIPES), index=list(RECIPES).index(DEFAULT_RECIPE[default_arch]), key="custom_recipe",
        help="The training settings a run starts from: **study** = Adam 1e-4 and the study's augmentation; "
        "**fer** = SGD-Nesterov 0.05 with cosine decay, label smoothing, weight decay, shifts and flips, flip TTA. "
        "Changing the recipe resets the settings below to its values.",
    )
    defaults = scenario("custom", recipe=recipe, arch=arch)
    balance = first.selectbox("Balancing", list(BALANCING), key="custom_balance", help=options_help(BALANCING))
    protocol = first.selectbox("Protocol", list(PROTOCOLS), key="custom_protocol", help=options_help(PROTOCOLS))
    settings = recipe_settings(second, defaults, recipe)
    with third:
        weights = weights_choice(defaults.weights)
        early_stopping = st.number_input(
            "Early stopping patience (epochs, 0 = off)", value=defaults.early_stopping, step=1, key="custom_patience"
        )
        drop_copies = st.selectbox(
            "Drop copies of test faces", list(COPY_DROPS), key="custom_drop_copies",
            help="FER2013 holds some faces twice: 568 test faces are pixel copies of Training faces and 580 more "
            "near copies (Dataset page). **exact** leaves out the Training copies of validation and test faces "
            "(about 2% fewer training faces), so the run is selected and scored only on faces it has never seen "
            "pixel for pixel; **near** their near copies too; **none** keeps them, as the study and other papers.",
        )
        repeats = st.number_input("Seeds", value=1, min_value=1, step=1, key="custom_seeds",
                                  help="Repeat the run with seeds 42, 43, …; Compare shows mean ± sd.")
        devices = st.selectbox(
            "Devices", DEVICE_CHOICES, key="custom_devices",
            help="Train one run data-parallel on several GPUs (Keras' JAX backend); the batch size is the "
            "global batch and must divide by the number of devices.",
        )
        data = data_choice("custom_data")
        note = st.text_input(
            "Note", max_chars=MAX_NOTE, key="custom_note", placeholder="what this run tries",
            help="A few words, shown in the run's name wherever it is listed. Runs with different notes are never "
            "taken for seed repeats of one experiment on the Compare page.",
        )
    configs: list[RunConfig] | None = None
    with ui.user_errors():
        config = scenario(
            "custom", recipe=recipe, arch=arch, balance=balance, weights=weights, protocol=protocol,
            early_stopping=int(early_stopping), drop_copies=drop_copies, devices=devices, data=data,
            note=note.strip(), **settings,
        )
        configs = with_seeds(config, int(repeats))
        cpu_time_note(configs)  # in here: counting the training images checks the protocol against the data
    launch_button = st.button(
        "Launch custom run", type="primary", disabled=not configs or not weights, key="custom_launch",
        icon=":material/play_arrow:",
    )
    if launch_button and configs:
        launch(configs)


def recipe_settings(column: Any, defaults: RunConfig, recipe: str) -> dict[str, Any]:
    """The recipe's settings as widgets, keyed by recipe so that choosing another resets them."""
    with column:
        return {
            "epochs": int(st.number_input("Epochs", value=defaults.epochs, step=1, key=f"custom_epochs_{recipe}")),
            "batch_size": int(st.number_input("Batch size", value=defaults.batch_size, step=16, key="custom_batch")),
            "optimizer": st.selectbox("Optimizer", list(OPTIMIZERS), index=list(OPTIMIZERS).index(defaults.optimizer),
                                      format_func=OPTIMIZERS.__getitem__, key=f"custom_optimizer_{recipe}"),
            "learning_rate": float(st.number_input("Learning rate", value=defaults.learning_rate, step=1e-4,
                                                   format="%g", key=f"custom_lr_{recipe}")),
            "schedule": st.selectbox("Schedule", list(SCHEDULES), index=list(SCHEDULES).index(defaults.schedule),
                                     key=f"custom_schedule_{recipe}", help=options_help(SCHEDULES)),
            "augment": st.selectbox("Augmentation", list(AUGMENTATIONS), index=list(AUGMENTATIONS).index(defaults.augment),
                                    key=f"custom_augment_{recipe}", help=options_help(AUGMENTATIONS)),
            "label_smoothing": float(st.number_input("Label smoothing", value=defaults.label_smoothing, step=0.05,
                                                     key=f"custom_smoothing_{recipe}")),
            "weight_decay": float(st.number_input("Weight decay", value=defaults.weight_decay, step=1e-4, format="%g",
                                                  key=f"custom_decay_{recipe}")),
            "tta": st.selectbox("Test-time augmentation", list(TTA), index=list(TTA).index(defaults.tta),
                                key=f"custom_tta_{recipe}", help=options_help(TTA)),
            "precision": st.selectbox("Precision", list(PRECISIONS), key="custom_precision", help=options_help(PRECISIONS)),
            "input_size": int(st.number_input("Input size (pixels)", value=defaults.input_size, step=16, key="custom_input",
                                              help="The 48×48 faces are resized to this side before the network.")),
        }


def weights_choice(default: str) -> str:
    """``none``, ``imagenet`` or a file path (empty until one is typed)."""
    choice = st.selectbox(
        "Weights", list(WEIGHT_CHOICES), index=list(WEIGHT_CHOICES).index(default),
        format_func=WEIGHT_CHOICES.__getitem__, key="custom_weights",
        help=(
            "Starting weights of the ResNet50/VGG19 base. A compact network has no ImageNet weights; "
            "it can start from a model file of the same network (a run's model.keras) to fine-tune it."
        ),
    )
    if choice != "file":
        return choice
    return st.text_input("Weights file", key="custom_weights_file", placeholder="/path/to/base.weights.h5 or a run's model.keras").strip()


def launch(configs: list[RunConfig]) -> None:
    """One background run per config; the queue in :mod:`fer.runs` makes them take turns."""
    started: list[runs.Run] = []
    with ui.user_errors():
        for config in configs:
            started.append(runs.start(config, background=True))
    if started:
        # Open the new runs' details, and keep them open once they finish.
        st.session_state[DETAILS_KEY] = [*st.session_state.get(DETAILS_KEY, []), *(run.run_id for run in started)]
        names = ", ".join(f"{run.config.label} (seed {run.config.seed})" for run in started)
        keeps = "It keeps" if len(started) == 1 else "They keep"
        st.success(
            f"Started {names} in the background. {keeps} training when you leave this page or close the browser.",
            icon=":material/rocket_launch:",
        )


# --------------------------------------------------------------------------------------------
# Watching


def import_section() -> None:
    """Runs trained on another machine (a GPU one, say), exported there, added to this one's; one
    that can't be is said in a red box, and the others still come in."""
    with st.expander("Import runs trained on another machine", icon=":material/move_to_inbox:"):
        uploads = st.file_uploader(
            "Runs' zips, from their Download button or `python -m fer export RUN_ID`",
            type=["zip"], key="run_import_upload", accept_multiple_files=True,
        )
        if st.button("Import", disabled=not uploads, key="run_import"):
            for upload in uploads:
                with ui.user_errors():
                    imported = sharing.import_run(upload, name=upload.name)
                    st.success(f"Imported {imported.display_name}: it is listed below, on Compare and, with its model, "
                               "on Classify.", icon=":material/check_circle:")


def runs_section() -> None:
    """The runs list and details, refreshing on their own while any run is queued or running, or
    any measurement waits or measures."""
    listed = runs.list_runs()
    live = busy(listed, measuring.under_way(listed))
    st.fragment(run_every=LIVE_REFRESH if live else None)(runs_panel)(live)


def busy(listed: list[runs.Run], measurements: dict[str, measuring.Measuring]) -> bool:
    return bool(measurements) or any(run.state in runs.ACTIVE for run in listed)


def runs_panel(live: bool) -> None:
    """The fragment's body; ``live`` says whether it was set up with the refresh timer."""
    listed = runs.list_runs()
    measurements = measuring.under_way(listed)
    if live != busy(listed, measurements):
        st.rerun()  # a job started or ended: only a full rerun turns the refresh timer on or off
    if not listed:
        st.info("No runs yet: launch one above.", icon=":material/info:")
        return
    runs_table(listed)
    for run_id, now in measurements.items():
        st.caption(f"Run `{run_id}` {now.doing()} (Classify page; it shares the queue with the training runs).")
    for run in detail_runs(listed):
        run_details(run)


def runs_table(listed: list[runs.Run]) -> None:
    """All runs, newest first, one compact row each."""
    st.dataframe(
        runs.runs_table(listed),
        hide_index=True,
        column_config={
            "progress": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent"),
            "test accuracy": st.column_config.NumberColumn(format="%.4f"),
            "train seconds": st.column_config.NumberColumn(format="%.1f"),
        },
    )


def detail_runs(listed: list[runs.Run]) -> list[runs.Run]:
    """The runs chosen for details, plus every queued or running one; newest first."""
    ids = [run.run_id for run in listed]
    st.session_state.setdefault(DETAILS_KEY, [run.run_id for run in listed if run.state in runs.ACTIVE] or ids[:1])
    labels = {run.run_id: run.display_name for run in listed}
    chosen = st.multiselect(
        "Details for", ids, format_func=labels.__getitem__, key=DETAILS_KEY,
        help="Queued and running runs always show.",
    )
    return [run for run in listed if run.run_id in chosen or run.state in runs.ACTIVE]


def run_details(run: runs.Run) -> None:
    """One run: state, progress, outcome, curves, log and the actions its state allows."""
    with st.container(border=True):
        text, color, icon = STATE_BADGES[run.state]
        st.markdown(f"**{run.label}** · `{run.run_id}` :{color}-badge[{icon} {text}]")
        if run.config:
            st.caption(run.config.summary)
        run_state(run)
        history = run.history()
        if history is not None:
            loss, accuracy = st.columns(2)
            loss.plotly_chart(charts.history_figure({run.label: history}, "loss"), key=f"loss-{run.run_id}")
            accuracy.plotly_chart(charts.history_figure({run.label: history}, "accuracy"), key=f"accuracy-{run.run_id}")
        elif run.status.get("epoch"):  # an epoch finished, so its history.csv was written
            st.warning("This run's history.csv is missing or damaged: its learning curves are not drawn.",
                       icon=":material/broken_image:")
        with st.expander(f"Log (last {LOG_LINES} lines)"):
            st.code(run.log_tail(LOG_LINES) or "(nothing logged yet)", language="text")
        run_actions(run)


def run_state(run: runs.Run) -> None:
    """What the run is doing or how it ended."""
    status = run.status
    if run.state == "queued":
        st.info(
            f"{status.get('message') or 'Queued'}: runs train one at a time (one per GPU), in launch order.",
            icon=":material/hourglass_empty:",
        )
    elif run.state == "running":
        st.progress(status.get("progress") or 0.0, text=runs.status_summary(status))  # store checks it is a fraction
    elif run.state == "completed":
        if origin := runs.imported_from(status):
            st.caption(f"Trained elsewhere: {origin}.")
        metrics = run.metrics()
        if metrics:
            metrics_panel(metrics)
    elif run.state in ("failed", "unreadable"):
        st.error(status.get("error") or run.state, icon=":material/error:")
    elif run.state == "cancelled":
        st.warning(status.get("error") or "cancelled", icon=":material/cancel:")


def metrics_panel(metrics: dict[str, Any]) -> None:
    """The numbers the study reports per scenario, and what they were measured on."""
    shown = runs.run_metric_texts(metrics)  # "—" where the file lacks a value
    columns = st.columns(5)
    columns[0].metric("Test accuracy", shown["test_accuracy"])
    columns[1].metric("Macro precision", shown["precision_macro"])
    columns[2].metric("Macro recall", shown["recall_macro"])
    columns[3].metric("Training time", f"{shown['train_seconds']} s")
    columns[4].metric("Images/s", shown["images_per_second"])
    st.caption(
        f"{shown['test_images']} test images ({shown['test_split']}), epoch {shown['reported_epoch']} "
        f"of {shown['epochs_run']} reported · device {shown['device']} · Keras {shown['backend']} "
        f"({shown['precision_policy']}) · weights {shown['weights']}"
    )
    if fits := runs.fit_texts(metrics):
        st.caption("Fitted on its validation faces, for the Classify page: " + " · ".join(fits))
    if (measured := robustness.stored(metrics)) is not None:
        st.caption(f"On worse photos of {robustness.summary(measured)} (Classify page).")


def run_actions(run: runs.Run) -> None:
    """Cancel, Resume, Delete and Download, each only where the run's state allows it."""
    columns = st.columns([1, 1, 4])
    if run.state == "completed":
        columns[2].download_button(
            "Download the run", lambda: sharing.export_bytes(run), file_name=sharing.export_file_name(run),
            mime="application/zip", icon=":material/download:", key=f"download-{run.run_id}", on_click="ignore",
            help="Its results, log and model file as one zip, to import on another machine (this page, or "
            "`python -m fer import`).",
        )
    with ui.user_errors():  # the run may have changed state between render and click
        if run.state in runs.ACTIVE and columns[0].button("Cancel", key=f"cancel-{run.run_id}", icon=":material/stop:"):
            runs.cancel(run.run_id)
            st.rerun()
        if run.state in ("failed", "cancelled") and columns[0].button(
            "Resume", key=f"resume-{run.run_id}", icon=":material/play_arrow:",
            help="Continue from the last finished epoch, in the background.",
        ):
            runs.resume(run.run_id, background=True)
            st.rerun()
        if run.state not in runs.ACTIVE:
            with columns[1].popover("Delete", icon=":material/delete:"):
                st.write(f"Delete `{run.run_id}` with its model, history and log? This cannot be undone.")
                if st.button("Delete for good", type="primary", key=f"delete-{run.run_id}"):
                    runs.delete(run.run_id)
                    st.toast(f"Deleted {run.display_name}.", icon=":material/delete:")
                    st.rerun()


# --------------------------------------------------------------------------------------------

st.title("Train")
compute_facts()
study_tab, custom_tab = st.tabs(["Study scenarios (S1–S4)", "Custom scenario"])
with study_tab:
    study_launcher()
with custom_tab:
    custom_launcher()
st.subheader("Runs")
import_section()  # before the list, so that a run imported in this rerun is listed in it
runs_section()
