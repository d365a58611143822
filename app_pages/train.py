"""Train: launch the study's scenarios or a custom one in the background, and watch every run.

Everything shown is read from disk through :mod:`fer.runs` on each render: runs are separate
processes, so they keep training when the tab closes and show up again when it reopens.
Session state only remembers which finished runs' details are open.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from fer import charts, runs, ui
from fer.balance import STRATEGIES
from fer.data import DATASETS, PROTOCOLS
from fer.hardware import cpu_name, gpu_names, keras_backend
from fer.scenarios import ARCHITECTURES, SCENARIOS, RunConfig, scenario

LIVE_REFRESH = "2s"  # how often the runs section re-reads the disk while a run is queued or running
DETAILS_KEY = "train_details"
LOG_LINES = 40
WEIGHT_CHOICES = {
    "none": "none (train from scratch)",
    "imagenet": "ImageNet (keras.applications)",
    "file": "a weights file…",
}
STATE_BADGES = {
    "queued": ("queued", "gray", ":material/hourglass_empty:"),
    "running": ("running", "blue", ":material/autorenew:"),
    "completed": ("completed", "green", ":material/check_circle:"),
    "failed": ("failed", "red", ":material/error:"),
    "cancelled": ("cancelled", "orange", ":material/cancel:"),
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
            "one at a time; the rest wait their turn. One VGG19 or ResNet50 epoch on the full FER2013 "
            "takes many minutes here, so the study's 100 epochs take a day or more: try the compact CNN (custom scenario) "
            "or a few epochs on the sample.",
            icon=":material/memory:",
        )


def data_choice(key: str) -> str:
    """The data selector, saying which dataset ``active`` stands for right now."""
    active = ui.dataset()
    imported = active.name != "sample"
    labels = {
        "active": f"active (now {'the imported FER2013' if imported else 'the shipped sample'}, {len(active):,} faces)",
        "sample": "sample (the shipped FER2013 subset)",
        "full": "full (the imported FER2013)" if imported else "full (nothing imported yet)",
    }
    return st.selectbox("Data", DATASETS, format_func=labels.__getitem__, key=key)


def options_help(options: dict[str, str]) -> str:
    """A selector's tooltip listing what each choice means, from the library's own descriptions."""
    return "\n".join(f"- **{name}**: {text}" for name, text in options.items())


# --------------------------------------------------------------------------------------------
# Launching


def study_launcher() -> None:
    """The study's S1-S4, several at once, with the epochs and data that fit this machine."""
    shared = SCENARIOS["S1"]
    st.caption(
        f"All four use Adam, categorical cross-entropy, augmentation {'on' if shared.augment else 'off'}, "
        f"batch {shared.batch_size}, learning rate {shared.learning_rate:g}, weights {shared.weights}, "
        f"protocol {shared.protocol}."
    )
    chosen = st.multiselect(
        "Scenarios", list(SCENARIOS), format_func=lambda name: SCENARIOS[name].label, key="study_scenarios"
    )
    left, right = st.columns(2)
    epochs = left.number_input(
        "Epochs", value=shared.epochs, step=1, key="study_epochs",
        help=f"The study trained {shared.epochs} epochs; on a CPU, a few on the sample show the pipeline works.",
    )
    with right:
        data = data_choice("study_data")
    if chosen and not gpu_names():
        st.info(
            f"This machine has no GPU: a ResNet50 or VGG19 epoch on the full FER2013 takes minutes here, so "
            f"{len(chosen)} run(s) × {epochs} epochs take long. For a first look, try a few epochs on the "
            "sample, or the compact CNN in the custom scenario.",
            icon=":material/schedule:",
        )
    configs: list[RunConfig] | None = None
    with ui.user_errors():
        configs = [scenario(name, epochs=int(epochs), data=data) for name in chosen]
    launch_button = st.button(
        "Launch the chosen scenarios", type="primary", disabled=not configs, key="study_launch",
        icon=":material/play_arrow:",
    )
    if launch_button and configs:
        launch(configs)


def custom_launcher() -> None:
    """Any architecture, balancing and training setting; invalid ones are explained before launch."""
    first, second, third = st.columns(3)
    arch = first.selectbox("Architecture", list(ARCHITECTURES), key="custom_arch", help=options_help(ARCHITECTURES))
    defaults = scenario("custom", arch=arch)
    balance = first.selectbox("Balancing", list(STRATEGIES), key="custom_balance", help=options_help(STRATEGIES))
    protocol = first.selectbox("Protocol", list(PROTOCOLS), key="custom_protocol", help=options_help(PROTOCOLS))
    augment = first.toggle("Augmentation", value=defaults.augment, key="custom_augment")
    epochs = second.number_input("Epochs", value=defaults.epochs, step=1, key="custom_epochs")
    batch_size = second.number_input("Batch size", value=defaults.batch_size, step=16, key="custom_batch")
    # Keyed by architecture so that switching it brings back that architecture's default rate.
    learning_rate = second.number_input(
        "Learning rate (Adam)", value=defaults.learning_rate, step=1e-4, format="%g", key=f"custom_lr_{arch}"
    )
    input_size = second.number_input(
        "Input size (pixels)", value=defaults.input_size, step=16, key="custom_input",
        help="The 48×48 faces are resized to this side before the network.",
    )
    with third:
        weights = weights_choice(defaults.weights)
        early_stopping = st.number_input(
            "Early stopping patience (epochs, 0 = off)", value=defaults.early_stopping, step=1, key="custom_patience"
        )
        data = data_choice("custom_data")
    config: RunConfig | None = None
    with ui.user_errors():
        config = scenario(
            "custom", arch=arch, balance=balance, augment=augment, epochs=int(epochs), batch_size=int(batch_size),
            learning_rate=float(learning_rate), input_size=int(input_size), weights=weights, protocol=protocol,
            early_stopping=int(early_stopping), data=data,
        )
    launch_button = st.button(
        "Launch custom run", type="primary", disabled=config is None or not weights, key="custom_launch",
        icon=":material/play_arrow:",
    )
    if launch_button and config:
        launch([config])


def weights_choice(default: str) -> str:
    """``none``, ``imagenet`` or a file path (empty until one is typed)."""
    choice = st.selectbox(
        "Weights", list(WEIGHT_CHOICES), index=list(WEIGHT_CHOICES).index(default),
        format_func=WEIGHT_CHOICES.__getitem__, key="custom_weights",
        help="Starting weights of the ResNet50/VGG19 base; the compact CNN trains from scratch only.",
    )
    if choice != "file":
        return choice
    return st.text_input("Weights file", key="custom_weights_file", placeholder="/path/to/base.weights.h5").strip()


def launch(configs: list[RunConfig]) -> None:
    """One background run per config; the queue in :mod:`fer.runs` makes them take turns."""
    started: list[runs.Run] = []
    with ui.user_errors():
        for config in configs:
            started.append(runs.start(config, background=True))
    if started:
        # Open the new runs' details, and keep them open once they finish.
        st.session_state[DETAILS_KEY] = [*st.session_state.get(DETAILS_KEY, []), *(run.run_id for run in started)]
        st.success(
            f"Started {', '.join(run.config.label for run in started)} in the background; "
            "they keep training when you leave this page or close the browser.",
            icon=":material/rocket_launch:",
        )


# --------------------------------------------------------------------------------------------
# Watching


def runs_section() -> None:
    """The runs list and details, refreshing on their own while any run is queued or running."""
    live = any(run.state in runs.ACTIVE for run in runs.list_runs())
    st.fragment(run_every=LIVE_REFRESH if live else None)(runs_panel)(live)


def runs_panel(live: bool) -> None:
    """The fragment's body; ``live`` says whether it was set up with the refresh timer."""
    listed = runs.list_runs()
    if live != any(run.state in runs.ACTIVE for run in listed):
        st.rerun()  # a run started or ended: only a full rerun turns the refresh timer on or off
    if not listed:
        st.info("No runs yet: launch one above.", icon=":material/info:")
        return
    runs_table(listed)
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
        st.markdown(f"**{run.config.label}** · `{run.run_id}` :{color}-badge[{icon} {text}]")
        st.caption(config_summary(run.config))
        run_state(run)
        history = run.history()
        if history is not None and len(history):
            loss, accuracy = st.columns(2)
            loss.plotly_chart(charts.history_figure({run.config.label: history}, "loss"), key=f"loss-{run.run_id}")
            accuracy.plotly_chart(
                charts.history_figure({run.config.label: history}, "accuracy"), key=f"accuracy-{run.run_id}"
            )
        with st.expander(f"Log (last {LOG_LINES} lines)"):
            st.code(run.log_tail(LOG_LINES) or "(nothing logged yet)", language="text")
        run_actions(run)


def config_summary(config: RunConfig) -> str:
    """Every setting of the run on one line, so runs can be told apart and repeated."""
    return (
        f"{config.arch}, balancing {config.balance}, augmentation {'on' if config.augment else 'off'}, "
        f"{config.epochs} epochs, batch {config.batch_size}, learning rate {config.learning_rate:g}, "
        f"input {config.input_size} px, weights {config.weights}, protocol {config.protocol}, "
        f"early stopping {config.early_stopping or 'off'}, data {config.data}"
    )


def run_state(run: runs.Run) -> None:
    """What the run is doing or how it ended."""
    status = run.status
    if run.state == "queued":
        st.info(
            f"{status.get('message') or 'Queued'}: runs train one at a time (one per GPU), in launch order.",
            icon=":material/hourglass_empty:",
        )
    elif run.state == "running":
        st.progress(min(1.0, status.get("progress") or 0.0), text=progress_text(status))
    elif run.state == "completed":
        metrics = run.metrics()
        if metrics:
            metrics_panel(metrics)
    elif run.state == "failed":
        st.error(status.get("error") or "failed", icon=":material/error:")
    elif run.state == "cancelled":
        st.warning(status.get("error") or "cancelled", icon=":material/cancel:")


def progress_text(status: dict[str, Any]) -> str:
    """``epoch 3/100 · batch 40/225 · ETA 2 min 05 s``, or what the run is busy with."""
    if status.get("message"):
        return status["message"]
    done, epochs = status.get("epoch", 0), status.get("epochs") or 0
    if done >= epochs:
        return f"all {epochs} epochs done"
    text = f"epoch {done + 1}/{epochs}"
    if status.get("batches"):
        text += f" · batch {status.get('batch', 0)}/{status['batches']}"
    if status.get("eta_s") is not None:
        text += f" · ETA {duration(status['eta_s'])}"
    return text


def duration(seconds: float) -> str:
    """``2 min 05 s``: an ETA in seconds is unreadable once runs take hours."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def metrics_panel(metrics: dict[str, Any]) -> None:
    """The numbers the study reports per scenario, and what they were measured on."""
    columns = st.columns(5)
    columns[0].metric("Test accuracy", f"{metrics['test_accuracy']:.4f}")
    columns[1].metric("Macro precision", f"{metrics['precision_macro']:.4f}")
    columns[2].metric("Macro recall", f"{metrics['recall_macro']:.4f}")
    columns[3].metric("Training time", f"{metrics['train_seconds']:,.1f} s")
    speed = metrics.get("images_per_second")
    columns[4].metric("Images/s", f"{speed:,.0f}" if speed else "–")
    st.caption(
        f"{metrics['test_images']:,} test images ({metrics['test_split']}), epoch {metrics['reported_epoch']} "
        f"of {metrics['epochs_run']} reported · device {metrics['device']} · Keras {metrics['backend']} "
        f"({metrics['precision_policy']}) · weights {metrics['weights']}"
    )


def run_actions(run: runs.Run) -> None:
    """Cancel, Resume and Delete, each only where the run's state allows it."""
    columns = st.columns([1, 1, 4])
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
runs_section()
