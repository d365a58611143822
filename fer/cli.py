"""``python -m fer``: the command line over the library.

Every command prints a readable table, or exactly one JSON document on stdout with ``--json``.
A problem with the input (:class:`~fer.errors.FerError`) prints one line on stderr and exits
with status 2; progress of long work goes to stderr so it never mixes with the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from fer.errors import FerError
from fer.quiet import start_backend_quietly
from fer.scenarios import MAX_NOTE, RECIPES, SCENARIOS, RunConfig
from fer.vocab import (
    ARCHITECTURES,
    AUGMENTATIONS,
    BALANCING,
    COPY_DROPS,
    DATA_CHOICES,
    OPTIMIZERS,
    PRECISIONS,
    PROTOCOLS,
    SCHEDULES,
    TTA,
    VIDEO_EVERY_S,
    VIDEO_EVERY_S_RANGE,
    WEIGHTS,
)

if TYPE_CHECKING:
    import pandas as pd

    from fer.labelled import LabelledScore
    from fer.photos import PhotoResult
    from fer.predict import ModelChoice
    from fer.significance import PairedComparison
    from fer.store import Run
    from fer.temperature import Scaling

EXIT_BAD_INPUT = 2
DESCRIPTION = (
    "The command line over the fer library: import FER2013, train and compare runs, classify the faces in photos "
    "and videos."
)
"""What ``python -m fer --help`` opens with: plain words, where the module's docstring has markup."""

DEFAULTS = RunConfig()
"""What a custom run that leaves a setting out gets, for the help texts (before its recipe's)."""
UNSCALED_HELP = (
    "the network's own probabilities: without the temperature its run fitted on its validation faces, which "
    "makes them as sure as the model is right (answers stay the same)"
)
BALANCED_HELP = (
    "balanced answers: the emotions' shares of the model's training faces taken out of its probabilities, at the "
    "strength its run chose on its validation faces (rare emotions such as disgust are found more often, at a "
    "little accuracy; `python -m fer show RUN` gives its balanced_answers' test numbers)"
)
TRAIN_OPTIONS = tuple(field.name for field in fields(RunConfig) if field.name != "scenario")
"""The RunConfig settings ``train`` takes as options: all of them; the scenario is ``--scenario``,
a choice of the settings to start from rather than one setting."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # argparse hands a subcommand's unknown options up to the top parser: say the subcommand's help
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        return args.handler(args)
    except FerError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader stopped early (`| head`): the rest of the output is not wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the flush at exit fails no more
        return 141


class _Parser(argparse.ArgumentParser):
    """An argument parser (its subcommands' too) whose errors are one line, as the library's are."""

    def error(self, message: str) -> NoReturn:
        """``error: MESSAGE (see python -m fer train --help)`` and exit status 2. Why: argparse
        prints the whole usage first, 17 lines for ``train``, and the one line that says what is
        wrong comes last, below them; the usage is a ``--help`` away."""
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")

    def set_defaults(self, **kwargs: Any) -> None:
        """A command's parser records itself beside its handler, so that :func:`main` reports an
        unknown option with that command's ``--help`` rather than the top parser's."""
        super().set_defaults(**kwargs, command_parser=self)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m fer", description=DESCRIPTION)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    data = commands.add_parser("data", help="import FER2013 and show class counts").add_subparsers(
        required=True, metavar="ACTION"
    )
    imp = data.add_parser("import", help="import a Kaggle zip/folder, fer2013.csv or parquet files")
    imp.add_argument("source", help="zip, folder, CSV or parquet file/folder")
    imp.add_argument("--json", action="store_true", help="print one JSON document")
    imp.set_defaults(handler=_data_import)

    summary = data.add_parser("summary", help="per-class counts before/after balancing, and faces that appear twice")
    summary.add_argument("--balance", default="none", choices=BALANCING, help="balancing of the training split")
    summary.add_argument("--protocol", default="thesis", choices=PROTOCOLS, help="thesis: train/test; standard: train/val/test")
    summary.add_argument("--data", default="active", choices=DATA_CHOICES, help="active = imported if any, else the sample")
    summary.add_argument("--json", action="store_true", help="print one JSON document")
    summary.set_defaults(handler=_data_summary)

    _add_train_options(commands.add_parser("train", help="train a scenario (S1-S4) or a custom configuration"))

    listing = commands.add_parser("runs", help="list training runs, then the reference runs committed with the project")
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    listing.set_defaults(handler=_runs)

    beside = commands.add_parser("study", help="runs of S1-S4 beside the study's Table 4.2, as Markdown")
    beside.add_argument("--all", action="store_true", help="every finished run, custom ones too")
    beside.add_argument("--json", action="store_true", help="print one JSON document")
    beside.set_defaults(handler=_study)

    versus = commands.add_parser(
        "compare", help="run B against run A on the same test images: settings that differ, paired tests overall and per emotion"
    )
    versus.add_argument("run_a")
    versus.add_argument("run_b")
    versus.add_argument("--json", action="store_true", help="print one JSON document")
    versus.set_defaults(handler=_compare)

    layout = commands.add_parser(
        "map", help="where a run's network puts its test faces: t-SNE of its last layer's features, as CSV"
    )
    layout.add_argument("run_id")
    layout.add_argument("--csv", metavar="FILE", help="write one row per face (true, answered, x, y) as CSV (- for stdout)")
    layout.add_argument("--json", action="store_true", help="print one JSON document")
    layout.set_defaults(handler=_map)

    calibrate = commands.add_parser(
        "calibrate", help="fit a standard-protocol run's temperature and balanced answers on its validation faces again"
    )
    calibrate.add_argument("run_id")
    calibrate.add_argument("--json", action="store_true", help="print one JSON document")
    calibrate.set_defaults(handler=_calibrate)

    robustness = commands.add_parser(
        "robustness", help="how a run's accuracy holds up when its test faces are photographed worse (blur, JPEG, light, noise)"
    )
    robustness.add_argument("run_id")
    robustness.add_argument("--json", action="store_true", help="print one JSON document")
    robustness.set_defaults(handler=_robustness)

    show = commands.add_parser("show", help="one run's config, status and metrics (a reference run's too)")
    show.add_argument("run_id")
    show.add_argument("--json", action="store_true", help="print one JSON document")
    show.set_defaults(handler=_show)

    for name, action, text in (
        ("cancel", _cancel, "stop a queued or running run at its next batch"),
        ("delete", _delete, "delete a finished, failed or cancelled run"),
    ):
        command = commands.add_parser(name, help=text)
        command.add_argument("run_id")
        command.add_argument("--json", action="store_true", help="print one JSON document")
        command.set_defaults(handler=action)

    export = commands.add_parser(
        "export", help="a completed run (with its model) as one zip, to import on another machine: `fer import`"
    )
    export.add_argument("run_id")
    export.add_argument(
        "-o", "--output", type=Path, default=Path("."), metavar="PATH",
        help="the zip to write, or a folder for RUN_ID.fer-run.zip (default: the current folder)",
    )
    export.add_argument("--no-model", action="store_true", help="leave the model file out: results only, a few KB")
    export.add_argument("--json", action="store_true", help="print one JSON document")
    export.set_defaults(handler=_export)

    imports = commands.add_parser("import", help="add runs exported with `fer export` to this machine's runs")
    imports.add_argument("archives", nargs="+", type=Path, metavar="RUN.fer-run.zip")
    imports.add_argument("--json", action="store_true", help="print one JSON document")
    imports.set_defaults(handler=_import)

    resume = commands.add_parser("resume", help="continue a failed or cancelled run from its last epoch")
    resume.add_argument("run_id")
    resume.add_argument("--background", action="store_true", help="resume in a background process and return")
    resume.add_argument("--json", action="store_true", help="print one JSON document")
    resume.set_defaults(handler=_resume)

    classify = commands.add_parser("classify", help="the emotions of the faces in photos, with a trained model")
    classify.add_argument("photos", nargs="+", metavar="PHOTO", help="photo files, or folders of them (jpg, png, webp, bmp)")
    classify.add_argument("--whole", action="store_true", help="classify each photo whole, as one face (face crops)")
    _add_answer_options(
        classify, "face", tta_help="test-time augmentation: average each face's predictions over the face alone "
        "(none), with its mirror image (flip) or with both moved 2 px each way too (shift); default: as the model's "
        "run measured its accuracy",
    )
    classify.set_defaults(handler=_classify)

    scoring = commands.add_parser(
        "evaluate", help="a model's accuracy on your own labelled photos: a folder or .zip of emotion folders"
    )
    scoring.add_argument(
        "source", type=Path, metavar="FOLDER_OR_ZIP",
        help="photos in folders named by their emotion (angry/, happy/, ...; anger/, happiness/, ... too), "
        "as another dataset's test folder is: photos under other folders are left out and counted",
    )
    scoring.add_argument(
        "--whole", action="store_true",
        help="classify each photo whole, as one face (face crops); else the largest face found in each photo",
    )
    _add_answer_options(scoring, "photo and model")
    scoring.add_argument(
        "--against", metavar="RUN_ID", help="also score another completed run's model (B) on the same photos, with "
        "its own test-time augmentation unless --tta is given, and pair its answers with --model's (A): which is more "
        "accurate on them beyond chance, overall and per emotion",
    )
    scoring.set_defaults(handler=_evaluate)

    video = commands.add_parser("video", help="the emotions of a person in a video, over time")
    video.add_argument("video", metavar="VIDEO", type=Path, help="a video file FFmpeg reads (mp4, mov, avi, mkv, webm, ...)")
    video.add_argument(
        "--every", type=float, default=VIDEO_EVERY_S, metavar="SECONDS",
        help=f"seconds between the frames sampled (default {VIDEO_EVERY_S}; {VIDEO_EVERY_S_RANGE[0]} to {VIDEO_EVERY_S_RANGE[1]:g})",
    )
    video.add_argument(
        "--person", type=int, default=1, metavar="N",
        help="whose faces to follow, when the video has several people: 1 (the default) is the one found in most "
        "frames; the summary line lists them",
    )
    _add_answer_options(video, "sampled frame")
    video.set_defaults(handler=_video)

    return parser


def _add_answer_options(
    command: argparse.ArgumentParser, row: str, tta_help: str = "test-time augmentation, as for classify"
) -> None:
    """The options of the commands that classify (``classify``, ``evaluate``, ``video``): which model,
    how its answers are made (:func:`_answering` reads them), and the CSV (one line per ``row``) or JSON."""
    command.add_argument("--model", metavar="RUN_ID", help="a completed run's model (default: the Classify page's default)")
    command.add_argument("--tta", choices=TTA, help=tta_help)
    command.add_argument("--unscaled", action="store_true", help=UNSCALED_HELP)
    command.add_argument("--balanced", action="store_true", help=BALANCED_HELP)
    command.add_argument("--csv", metavar="FILE", help=f"also write one row per {row} as CSV (- for stdout)")
    command.add_argument("--json", action="store_true", help="print one JSON document")


def _add_train_options(train: argparse.ArgumentParser) -> None:
    """``train``'s options: every RunConfig setting (:data:`TRAIN_OPTIONS`), unset (None) unless
    given; the defaults the help names are :data:`DEFAULTS` and :data:`~fer.scenarios.RECIPES`."""
    study, fer = RECIPES["study"], RECIPES["fer"]
    train.add_argument("--scenario", default="custom", choices=[*SCENARIOS, "custom"], help="study scenario or custom")
    train.add_argument("--arch", choices=ARCHITECTURES, help=f"custom only: {_listed(ARCHITECTURES)} (default {DEFAULTS.arch})")
    train.add_argument("--recipe", choices=RECIPES, help="custom only: study (Adam) or fer (SGD, cosine, smoothing, TTA); default by arch")
    train.add_argument("--balance", choices=BALANCING, help="custom only: balancing of the training split")
    train.add_argument("--augment", choices=AUGMENTATIONS, help="study (random affine), crop_flip, photo (crop_flip plus blur and exposure) or none")
    train.add_argument(
        "--epochs", type=int, help=f"default {DEFAULTS.epochs} as the study (study recipe), {fer['epochs']} with the fer recipe"
    )
    train.add_argument("--batch-size", type=int, help=f"default {DEFAULTS.batch_size}")
    train.add_argument(
        "--lr", dest="learning_rate", type=float,
        help=f"learning rate (study recipe {study['learning_rate']:g}, fer recipe {fer['learning_rate']:g})",
    )
    train.add_argument("--optimizer", choices=OPTIMIZERS, help="adam or sgd (Nesterov momentum 0.9)")
    train.add_argument("--schedule", choices=SCHEDULES, help="constant or cosine decay over the run")
    train.add_argument(
        "--weight-decay", type=float,
        help=f"decoupled weight decay (default {DEFAULTS.weight_decay:g}; fer recipe {fer['weight_decay']:g})",
    )
    train.add_argument(
        "--label-smoothing", type=float,
        help=f"label smoothing (default {DEFAULTS.label_smoothing:g}; fer recipe {fer['label_smoothing']:g})",
    )
    train.add_argument(
        "--tta", choices=TTA,
        help=f"test-time augmentation: none, flip or shift (default {DEFAULTS.tta}; fer recipe {fer['tta']})",
    )
    train.add_argument("--precision", choices=PRECISIONS, help="auto (bf16 on GPUs and CPUs with AMX/AVX512-BF16), float32, mixed_bfloat16")
    train.add_argument("--devices", help=f"1, N or all: data-parallel training (JAX backend); default {DEFAULTS.devices}")
    train.add_argument("--input-size", type=int, help=f"side the 48x48 faces are resized to (default {DEFAULTS.input_size})")
    train.add_argument(
        "--weights",
        help=", ".join(f"{name} ({text})" for name, text in WEIGHTS.items())
        + ", or a weights file for the ResNet50/VGG19 base, or a compact network's model file to start from"
        + f" (a run's model.keras, to fine-tune it; default {DEFAULTS.weights})",
    )
    train.add_argument("--protocol", choices=PROTOCOLS, help=f"{_listed(PROTOCOLS)} (default {DEFAULTS.protocol})")
    train.add_argument("--early-stopping", type=int, metavar="PATIENCE", help="stop after PATIENCE epochs without gain")
    train.add_argument(
        "--drop-copies", nargs="?", const="exact", choices=COPY_DROPS,
        help="leave out the Training faces that are copies of validation or test faces: exact (pixel copies; "
        "the default with no value), near (near copies too) or none (default none)",
    )
    train.add_argument(
        "--data", choices=DATA_CHOICES,
        help=f"{_listed(DATA_CHOICES)}: active is the imported FER2013 if any, else the sample (default {DEFAULTS.data})",
    )
    train.add_argument("--seed", type=int, help=f"random seed (default {DEFAULTS.seed})")
    train.add_argument(
        "--note", help=f"a few words on what the run tries, shown in its name (at most {MAX_NOTE} characters)"
    )
    train.add_argument("--seeds", type=int, default=1, metavar="N", help="repeat the run with seeds SEED..SEED+N-1")
    train.add_argument("--background", action="store_true", help="start in a background process and return")
    train.add_argument("--json", action="store_true", help="print one JSON document")
    train.set_defaults(handler=_train)


def _listed(names: Iterable[str]) -> str:
    """``a, b or c``: choices in a help text."""
    *rest, last = names
    return f"{', '.join(rest)} or {last}" if rest else last


# --------------------------------------------------------------------------------------------
# data


def _data_import(args: argparse.Namespace) -> int:
    from fer import data
    from fer.balance import class_counts, counts_table

    dataset = data.import_dataset(args.source, progress=_stderr_progress)
    counts = class_counts(dataset, "thesis", "none")
    usage = dataset.usage_counts()
    if args.json:
        _print_json(
            {
                "source": dataset.source,
                "images": len(dataset),
                "converted": dataset.converted,
                "usage": usage,
                "counts": _split_counts(counts)["before"],
            }
        )
        return 0
    print(f"Imported {len(dataset):,} faces from {dataset.source}")
    if dataset.converted:
        print(f"{dataset.converted:,} image(s) were not 48x48 grayscale and were converted")
    print("usage: " + ", ".join(f"{name} {n:,}" for name, n in usage.items()))
    print(counts_table(counts).drop(columns="train (balanced)").to_string())
    return 0


def _data_summary(args: argparse.Namespace) -> int:
    from fer import data
    from fer.balance import class_counts, counts_table
    from fer.copies import COLUMNS, copies_table

    dataset = data.load_dataset(args.data)
    counts = class_counts(dataset, args.protocol, args.balance)
    copies = copies_table(dataset)
    if args.json:
        _print_json(
            {
                "dataset": dataset.name,
                "source": dataset.source,
                "protocol": args.protocol,
                "balance": args.balance,
                **_split_counts(counts),
                "copies": {
                    usage: {key: None if math.isnan(value) else int(value) for key, value in row.items()}
                    for usage, row in copies.iterrows()
                },
            }
        )
        return 0
    print(f"Dataset: {dataset.name} ({dataset.source}), protocol {args.protocol}, balance {args.balance}")
    print(counts_table(counts).to_string())
    print("\nFaces that appear twice (identical pixels; see the Dataset page):")
    print(copies.rename(columns=COLUMNS).to_string(na_rep="-", float_format="{:.0f}".format))
    return 0


def _split_counts(counts: pd.DataFrame) -> dict[str, dict[str, dict[str, int]]]:
    """``{stage: {split: {class: count}}}`` from :func:`fer.balance.class_counts`' long table."""
    return {
        stage: {
            split: dict(zip(rows["class"], rows["count"].astype(int).tolist()))
            for split, rows in group.groupby("split", sort=False)
        }
        for stage, group in counts.groupby("stage", sort=False)
    }


# --------------------------------------------------------------------------------------------
# training runs


def _train(args: argparse.Namespace) -> int:
    from fer import runs
    from fer.scenarios import scenario, with_seeds

    config = scenario(args.scenario, args.recipe, **{name: getattr(args, name) for name in TRAIN_OPTIONS})
    if not args.background:
        start_backend_quietly()
    on_status = None if args.json else _print_run_progress
    started = [runs.start(repeat, background=args.background, on_status=on_status) for repeat in with_seeds(config, args.seeds)]
    if args.json and len(started) > 1:
        _print_json([_run_document(run) for run in started])
        return 1 if any(run.state == "failed" for run in started) else 0
    return max(_report_run(run, args.json) for run in started)


def _resume(args: argparse.Namespace) -> int:
    from fer import runs

    if not args.background:
        start_backend_quietly()
    run = runs.resume(args.run_id, background=args.background, on_status=None if args.json else _print_run_progress)
    return _report_run(run, args.json)


def _report_run(run: Run, as_json: bool) -> int:
    """The run's outcome; exit status 1 when a foreground run failed."""
    if as_json:
        _print_json(_run_document(run))
    elif run.state in ("queued", "running"):
        print(f"{run.run_id}: {run.state} in the background; watch with `python -m fer show {run.run_id}`")
    else:
        _print_run(run)
    return 1 if run.state == "failed" else 0


def _runs(args: argparse.Namespace) -> int:
    """This machine's runs, then the committed reference runs under a heading of their own: they
    are what the pages set beside the user's runs, but read-only (no cancel, resume or delete)."""
    from fer import measuring, runs, store

    listed, references = runs.list_runs(), store.reference_runs()
    if args.json:
        _print_json([_run_document(run) for run in [*listed, *references]])
        return 0
    if listed:
        _print_runs_table(runs.runs_table(listed))
    else:
        print("No runs yet: start one with `python -m fer train --scenario S2 --epochs 1 --data sample`")
    for run_id, now in measuring.under_way(listed).items():  # they share the runs' queue
        print(f"Run {run_id} {now.doing()}")
    if references:
        print("\nReference runs, committed with the project (read-only: `show` them; cancel, resume and delete refuse):")
        _print_runs_table(runs.runs_table(references))
    return 0


def _print_runs_table(table: pd.DataFrame) -> None:
    """A runs table as text: accuracies with the study's four decimals, seconds whole, empty for missing."""

    def formatted(number_format: str) -> Callable[[float], str]:
        return lambda value: "" if math.isnan(value) else format(value, number_format)

    formatters = {"test accuracy": formatted(".4f"), "train seconds": formatted(",.0f")}
    print(table.drop(columns="progress").to_string(index=False, formatters=formatters))


def _study(args: argparse.Namespace) -> int:
    from fer import compare, runs, study

    finished = runs.comparable_runs()
    rows = study.run_rows({name: run.metrics() for name, run in finished.items()}, study_scenarios_only=not args.all)
    table = study.comparison_table(rows, differences=False)
    differences, speeds = study.study_differences(), study.study_speeds()
    paired, waiting, unpaired = compare.study_comparisons(finished)
    by_emotion = _study_pairs_by_emotion(finished)
    if args.json:
        _print_json({
            "study": _records(study.study_table()), "study_differences": _records(differences),
            "study_speeds": _records(speeds), "runs": _records(table),
            "runs_paired": _records(paired), "waiting_for_runs": waiting, "not_paired": unpaired,
            "runs_paired_by_emotion": {label: _records(emotions) for label, emotions in by_emotion.items()},
        })
        return 0
    if table.empty:
        print("No finished runs of S1-S4 yet (--all shows custom runs too). The study's Table 4.2:")
        print(study.markdown_table(study.study_table()))
    else:
        # Every column stays, "data" and "weights" too: a number is printed with what it was measured on.
        print(study.markdown_table(table))
    print("\nThe study's differences, with their 95% intervals over the sampling of its 7,178 test images (points):")
    print(study.markdown_table(differences))
    if not paired.empty:
        print("\nThe same differences between this project's runs, paired on the same test images (points):")
        print(study.markdown_table(paired))
    for label, emotions in by_emotion.items():
        print(f"\n{label}, emotion by emotion (recall, paired on each emotion's test images; seven tests at 5%):")
        print(study.markdown_table(emotions))
    for reason in unpaired:
        print(f"Not paired: {reason}")
    print("\nThe training speeds its seconds imply, if every scenario trained its 100 epochs:")
    print(study.markdown_table(speeds))
    return 0


def _study_pairs_by_emotion(finished: dict[str, Run]) -> dict[str, pd.DataFrame]:
    """:func:`fer.compare.paired_emotion_table` of each study comparison the runs answer, by its
    label; one whose runs can't be paired is left out (``study_comparisons`` says why)."""
    from fer import compare

    tables = {}
    for pair in compare.study_pairs(finished)[0]:
        try:
            tables[pair.label] = compare.paired_emotion_table(compare.paired_by_emotion(pair.run_a, pair.run_b))
        except FerError:
            continue
    return tables


def _compare(args: argparse.Namespace) -> int:
    """The Compare page's "Run B against run A" for a terminal or a script: which settings differ,
    whether B's accuracy differs from A's beyond chance, and in which emotions."""
    from fer import compare, runs, study

    a, b = runs.get_run(args.run_a), runs.get_run(args.run_b)
    settings = compare.config_table({"A": a, "B": b}, differences_only=True)
    paired, by_emotion = compare.paired_runs(a, b), compare.paired_by_emotion(a, b)
    emotions = compare.paired_emotion_table(by_emotion)
    if args.json:
        _print_json({
            "a": a.run_id, "b": b.run_id, "settings_that_differ": _records(settings),
            "paired": _paired_document(paired),
            "by_emotion": _records(emotions),
        })
        return 0
    print(f"A: {a.display_name}\nB: {b.display_name}")
    if len(settings.columns) > 1:
        print("\nSettings that differ:")
        print(settings.to_string(index=False))
    else:
        print("\nThe same settings (a seed repeat, or the same run twice).")
    print(f"\nOn the same {paired.n:,} test images: A {paired.accuracy_a:.2%}, B {paired.accuracy_b:.2%}.")
    print(f"{paired.sentence()}.\nOnly A right on {paired.only_a:,} images, only B right on {paired.only_b:,}.")
    print("\nEmotion by emotion, on each emotion's test faces alone (recall, paired; seven tests at 5%):")
    print(study.markdown_table(emotions))
    return 0


def _calibrate(args: argparse.Namespace) -> int:
    """Fit a run's temperature and balanced answers again (:func:`fer.calibrate.calibrate_run`),
    and say what each does on its test faces."""
    from fer import runs
    from fer.calibrate import calibrate_run

    run = runs.get_run(args.run_id)
    start_backend_quietly()
    fits = calibrate_run(run, progress=_stderr_progress)
    if args.json:
        _print_json({"run_id": run.run_id, **fits})
        return 0
    print(f"{run.display_name}: fitted on its validation faces, scored on its {fits['balanced_answers']['test_images']:,} "
          "test faces")
    print("\n".join(runs.fit_texts(run.metrics())))
    return 0


def _robustness(args: argparse.Namespace) -> int:
    """Measure a run's accuracy on worse photos of its test faces (:func:`fer.robustness.measure_run`),
    once a slot of the run queue is free (:func:`fer.measuring.slot`), keep it in its metrics, and
    print it as a table."""
    from fer import measuring, robustness, runs, study

    run = runs.get_run(args.run_id)
    robustness.check_measurable(run)  # before any wait
    if not run.reference and (now := measuring.progress(run.run_id)) is not None and now.error is None:
        raise FerError(f"{run.display_name} is being measured in the background already ({now.fraction:.0%}; Classify "
                       "page): wait for it, or cancel it there")
    with measuring.slot(run.run_id, lambda why: print(why, file=sys.stderr, flush=True)):
        start_backend_quietly()
        measured = robustness.measure_run(run, progress=_stderr_progress)
    if args.json:
        _print_json({"run_id": run.run_id, **robustness.document(measured)})
        return 0
    print(f"{run.display_name}: {robustness.summary(measured)}")
    print(study.markdown_table(robustness.table(measured)))
    return 0


def _map(args: argparse.Namespace) -> int:
    """A run's feature map (:func:`fer.feature_map.feature_map`): how well it keeps faces together,
    and the map itself as CSV, for comparing many runs in a script."""
    from fer import feature_map, runs

    run = runs.get_run(args.run_id)
    _check_outputs(args, [run.model_path])
    start_backend_quietly()
    drawn = feature_map.feature_map(run)
    if args.csv:
        _write_csv(drawn.table().to_csv(index=False), args.csv)
    if args.json:
        answered, true, by_emotion = drawn.agreement()
        _print_json({
            "run_id": run.run_id, "faces": len(drawn.labels), "features": drawn.features,
            "neighbours": feature_map.NEIGHBOURS, "share_of_answers": answered, "share_of_true": true,
            "share_of_true_by_emotion": by_emotion,
        })
    elif args.csv != "-":
        print(f"{run.display_name}: {drawn.summary().replace('**', '')}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from fer import runs

    run = runs.get_run(args.run_id)
    if args.json:
        _print_json(_run_document(run))
    else:
        _print_run(run)
    return 0


def _cancel(args: argparse.Namespace) -> int:
    from fer import runs

    run = runs.cancel(args.run_id)
    if args.json:
        _print_json(_run_document(run))
    else:
        print(f"{run.run_id}: cancel requested; it stops at its next batch")
    return 0


def _delete(args: argparse.Namespace) -> int:
    from fer import runs

    runs.delete(args.run_id)
    if args.json:
        _print_json({"run_id": args.run_id, "deleted": True})
    else:
        print(f"{args.run_id}: deleted")
    return 0


def _export(args: argparse.Namespace) -> int:
    from fer import runs, sharing

    run = runs.get_run(args.run_id)
    target = args.output / sharing.export_file_name(run) if args.output.is_dir() else args.output
    partial = target.with_name(f".{target.name}.partial")
    try:
        with partial.open("wb") as file:
            names = sharing.export_run(run, file, include_model=not args.no_model)
        partial.replace(target)
    except OSError as error:
        raise FerError(f"{target}: can't be written: {error}") from error
    finally:  # written whole and renamed, or not at all
        partial.unlink(missing_ok=True)
    if args.json:
        _print_json({"run_id": run.run_id, "path": str(target), "bytes": target.stat().st_size, "files": names})
    else:
        print(f"{run.run_id}: exported to {target} ({target.stat().st_size / 1e6:.2f} MB: {', '.join(names)})")
    return 0


def _import(args: argparse.Namespace) -> int:
    """Import each archive; one that can't be is said on stderr and the others still come in (exit 2)."""
    from fer import sharing

    imported, failed = [], 0
    for archive in args.archives:
        try:
            run = sharing.import_run(archive)
        except FerError as error:
            failed += 1
            print(f"error: {error}", file=sys.stderr)
            continue
        imported.append(run)
        if not args.json:
            print(f"{run.run_id}: imported from {archive}")
            _print_run(run)
    if args.json:
        _print_json([_run_document(run) for run in imported])
    return EXIT_BAD_INPUT if failed else 0


def _run_document(run: Run) -> dict[str, Any]:
    return {
        "run_id": run.run_id,
        "reference": run.reference,
        "path": str(run.path),
        "config": run.config.to_dict() if run.config else None,
        "status": run.status,
        "metrics": run.metrics(),
        "seen_in_training": _seen_in_training(run),
    }


def _print_run(run: Run) -> None:
    from fer import robustness
    from fer.runs import fit_texts, run_metric_texts, state_summary

    status = run.status
    reference = " (reference run committed with the project, read-only)" if run.reference else ""
    print(f"{run.run_id}{reference}: {run.label}, {state_summary(status)}")
    if status.get("error"):
        print(f"  {status['error']}")
    metrics = run.metrics()
    if metrics is not None:
        shown = run_metric_texts(metrics)
        print(
            f"  test accuracy {shown['test_accuracy']} ({shown['test_split']}, {shown['test_images']} images), "
            f"macro precision {shown['precision_macro']}, macro recall {shown['recall_macro']}, "
            f"train accuracy {shown['train_accuracy']}"
        )
        print(
            f"  {shown['train_seconds']} s training ({shown['images_per_second']} img/s) on {shown['device']}, "
            f"{shown['backend']}, weights {shown['weights']}, data {shown['dataset']}"
        )
        seen = _seen_in_training(run)
        if seen and (seen["copies"] or seen["near_copies"]):
            others = seen["test_images"] - seen["copies"] - seen["near_copies"]
            groups = []
            if others:
                groups.append(f"accuracy {seen['accuracy_others']:.4f} on the {others:,} test faces not seen in training")
            if seen["copies"]:
                groups.append(f"{seen['accuracy_copies']:.4f} on the {seen['copies']:,} copies of Training faces")
            if seen["near_copies"]:
                groups.append(f"{seen['accuracy_near']:.4f} on the {seen['near_copies']:,} near copies")
            print(f"  {', '.join(groups)}")
        for line in fit_texts(metrics):
            print(f"  {line}")
        if (measured := robustness.stored(metrics)) is not None:
            print(f"  Worse photos (python -m fer robustness): {robustness.summary(measured)}")
    elif (run.path / "metrics.json").exists():
        print("  metrics unreadable: metrics.json is damaged")
    print(f"  folder: {run.path}")


def _seen_in_training(run: Run) -> dict[str, Any] | None:
    """:func:`fer.compare.run_seen_in_training`, None where it can't be split (no kept
    probabilities, FER2013 not imported here, ...)."""
    from fer.compare import run_seen_in_training

    try:
        return run_seen_in_training(run)
    except FerError:
        return None


def _print_run_progress(status: dict[str, Any]) -> None:
    from fer.runs import status_summary

    _stderr_progress(status.get("progress") or 0.0, status_summary(status))


# --------------------------------------------------------------------------------------------
# classify


def _classify(args: argparse.Namespace) -> int:
    """Classify photos with a trained model; exit 2 when any photo could not be classified."""
    from fer import photos, predict

    files = photos.photo_files(args.photos)
    choice, tta, scaling = _answering(args, files)
    start_backend_quietly()
    model = predict.load_choice(choice)
    results, failed = [], 0
    classified = photos.classify_files(
        model, files, whole=args.whole, tta=tta, scaling=scaling, progress=_stderr_progress
    )
    for result in classified:
        failed += bool(result.error)
        if result.error:
            print(f"error: {result.error}", file=sys.stderr)
        elif not args.json and args.csv != "-":
            _print_photo(result, args.whole)
        results.append(replace(result, image=None, saliency=None))  # the pictures are not shown here
    if args.csv:
        _write_csv(predict.results_csv(photos.results_table(results), choice, tta, scaling), args.csv)
    if args.json:
        _print_json({
            "model": _model_document(choice), "tta": tta, "temperature": scaling.temperature, "balanced": args.balanced,
            "photos": [_photo_document(r) for r in results],
        })
    elif args.csv != "-":
        print(f"{len(files) - failed:,}/{len(files):,} photos classified{_classified_how(choice, tta, scaling)}")
    return EXIT_BAD_INPUT if failed else 0


def _evaluate(args: argparse.Namespace) -> int:
    """A model scored on labelled photos: per emotion, then the accuracy in a sentence; with
    ``--against``, a second model on the same photos, paired with the first. Photos that could not
    be scored are named on stderr and counted, and the rest still scored; exit 2 only when none could be."""
    from fer import compare, labelled, predict, study

    with labelled.labelled_photos(args.source) as photos:
        choice, tta, scaling = _answering(args, [args.source])
        scored = [(choice, tta, scaling)]
        if args.against:
            other = predict.choose_model(args.against)
            scored.append((other, args.tta or other.tta, other.scaling(not args.unscaled, args.balanced)))
        start_backend_quietly()
        scores = [
            labelled.score_labelled(
                predict.load_choice(model), photos, whole=args.whole, tta=views, scaling=scaled, progress=_stderr_progress
            )
            for model, views, scaled in scored
        ]
    for problem in scores[0].problems():
        print(f"error: {problem}", file=sys.stderr)
    if scores[0].metrics is None:
        raise FerError(f"{photos.source}: none of its {len(scores[0].table):,} labelled photos could be scored")
    pairing = labelled.paired(*scores) if args.against else None
    if args.csv:
        tables = [predict.results_csv(score.table, *how) for score, how in zip(scores, scored)]
        _write_csv(tables[0] + "".join(table.split("\n", 1)[1] for table in tables[1:]), args.csv)
    if args.json:
        documents = [
            {"model": _model_document(model), "tta": views, "temperature": scaled.temperature, "metrics": score.metrics,
             "interval": score.interval(), "photos": _records(score.table)}
            for score, (model, views, scaled) in zip(scores, scored)
        ]
        document = {"source": str(args.source), "whole": args.whole, "balanced": args.balanced,
                    "left_out": scores[0].left_out, **documents[0]}
        if pairing is not None:
            overall, by_emotion = pairing
            document["against"] = {**documents[1], "paired": _paired_document(overall),
                                   "by_emotion": _records(compare.paired_emotion_table(by_emotion))}
        _print_json(document)
    elif args.csv != "-":
        for name, score, (model, views, scaled) in zip("AB", scores, scored):
            if pairing is not None:
                print(f"{name}: {model.label}")
            _print_score(score, model, views, scaled)
        if pairing is not None:
            overall, by_emotion = pairing
            print(f"\nB against A on the {overall.n:,} photos both scored: {overall.sentence()}.")
            print(f"Only A right on {overall.only_a:,} photos, only B right on {overall.only_b:,}.")
            print("\nEmotion by emotion (recall, paired; seven tests at 5%):")
            print(study.markdown_table(compare.paired_emotion_table(by_emotion)))
    return 0


def _print_score(score: LabelledScore, model: ModelChoice, tta: str, scaling: Scaling) -> None:
    """A model's score on labelled photos: per emotion, then in words, then how it was made."""
    from fer.labelled import describe

    if score.metrics is not None:
        print(f"{'emotion':<10}{'photos':>8}{'recall':>8}{'precision':>11}")
        for emotion, row in score.metrics["per_class"].items():
            print(f"{emotion:<10}{row['support']:>8,}{row['recall']:>8.3f}{row['precision']:>11.3f}")
    print(describe(score, model.test_accuracy, model.scored_on))
    print(f"Scored{_classified_how(model, tta, scaling)}")


def _video(args: argparse.Namespace) -> int:
    """The timeline of one person in a video: a line per sampled frame, then the shares."""
    from fer import predict, video
    from fer.photos import shown_path

    choice, tta, scaling = _answering(args, [args.video])
    analysis = video.analyse_video(shown_path(args.video), args.video, every_s=args.every, progress=_stderr_progress)
    start_backend_quietly()
    timeline = video.classify_video(predict.load_choice(choice), analysis, person=args.person, tta=tta, scaling=scaling)
    shares = video.emotion_shares(timeline)
    if args.csv:
        _write_csv(predict.results_csv(timeline, choice, tta, scaling), args.csv)
    if args.json:
        _print_json({
            "model": _model_document(choice), "tta": tta, "temperature": scaling.temperature, "balanced": args.balanced,
            "summary": video.summary(analysis),
            "person": args.person, "frames_per_person": analysis.frames_found(),
            "timeline": _records(timeline), "shares": _records(shares),
        })
    elif args.csv != "-":
        for row in timeline.itertuples():
            found = f"{row.emotion} {row.probability:.0%}" if row.face_found else "no face found"
            print(f"{row.time_s:8.2f} s  {found}")
        ranked = shares[shares["frames"] > 0].sort_values("frames", ascending=False)
        print(video.summary(analysis))
        if len(ranked):
            whose = f" (person {args.person})" if len(analysis.frames_found()) > 1 else ""
            shares_text = ", ".join(f"{r.emotion} {r.share:.0%}" for r in ranked.itertuples())
            print(f"Answer in those frames{whose}: {shares_text}")
        print(f"Classified{_classified_how(choice, tta, scaling)}")
    return 0


def _classified_how(choice: ModelChoice, tta: str, scaling: Scaling) -> str:
    """`` with shift TTA by FER-CNN, balanced answers (strength 0.5), probabilities at temperature
    0.915``: the closing line's end."""
    views = f" with {tta} TTA" if tta != "none" else ""
    balanced = f", balanced answers (strength {choice.balanced.strength:g})" if scaling.prior else ""
    scaled = f", probabilities at temperature {scaling.temperature:.3g}" if scaling.temperature != 1.0 else ""
    return f"{views} by {choice.label}{balanced}{scaled}"


def _print_photo(result: PhotoResult, whole: bool) -> None:
    from fer.photos import results_table

    if not result.faces:
        print(f"{result.name}: no face found{'' if whole else ' (--whole classifies the photo as one face)'}")
    for face, row in zip(result.faces, results_table([result]).itertuples()):
        box = f"{row.box_width}x{row.box_height} at ({row.box_x}, {row.box_y})"
        if face.leveled:
            box += f", tilted {face.tilt:+.0f}° and leveled"
        where = f"the whole image ({box})" if row.whole_image else box
        print(f"{result.name}: face {row.face}, {where}: {row.emotion} {row.probability:.0%}")


def _answering(args: argparse.Namespace, inputs: list[Path]) -> tuple[ModelChoice, str, Scaling]:
    """The model, test-time augmentation and scaling asked for (:func:`_add_answer_options`), once
    the outputs asked for are known to fit: JSON and a CSV not both on stdout, and a CSV file that
    is none of the ``inputs``."""
    from fer import predict

    _check_outputs(args, inputs)
    choice = predict.choose_model(args.model)
    return choice, args.tta or choice.tta, choice.scaling(calibrated=not args.unscaled, balanced=args.balanced)


def _check_outputs(args: argparse.Namespace, inputs: list[Path]) -> None:
    """Refuse, before any work, JSON and a CSV both on stdout, and a ``--csv`` file :func:`_check_csv_target` refuses."""
    if args.json and args.csv == "-":
        raise FerError("--json and --csv - would both write to stdout: give --csv a file")
    if args.csv and args.csv != "-":
        _check_csv_target(Path(args.csv), inputs)


def _check_csv_target(path: Path, inputs: list[Path]) -> None:
    """Refuse, before anything is classified, a ``--csv`` file that can't be written or that
    would replace something other than an earlier CSV: one of the photos or the video, a device, a folder."""
    if not path.parent.is_dir():
        raise FerError(f"{path}: can't be written (no folder {path.parent})")
    if path.exists():
        if not path.is_file():
            raise FerError(f"{path}: not a regular file; give a new or a CSV file's name for --csv")
        if any(path.samefile(given) for given in inputs if given.exists()):
            raise FerError(f"{path}: is one of the files to classify; give another file for --csv")


def _write_csv(text: str, path: str) -> None:
    """The CSV ``text`` to file ``path``, or to stdout for ``-``."""
    if path == "-":
        sys.stdout.write(text)
        return
    try:
        Path(path).write_text(text)
    except OSError as error:
        raise FerError(f"{path}: can't be written ({error.strerror or error})") from error


def _paired_document(paired: PairedComparison) -> dict[str, Any]:
    return {**asdict(paired), "difference": paired.difference, "significant": paired.significant, "sentence": paired.sentence()}


def _model_document(choice: ModelChoice) -> dict[str, Any]:
    names = ("run_id", "name", "data", "test_accuracy", "test_split", "reference")
    return {name: getattr(choice, name) for name in names}


def _photo_document(result: PhotoResult) -> dict[str, Any]:
    """One photo as JSON: its faces are the rows of the CSV (:func:`fer.photos.results_table`)."""
    from fer.photos import results_table

    faces = results_table([result]).drop(columns="file").to_dict("records")
    return {"file": result.name, "error": result.error or None, "faces": faces}


# --------------------------------------------------------------------------------------------
# helpers


def _print_json(document: Any) -> None:
    json.dump(document, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """A table's rows for JSON, missing values as null (``json`` would write NaN, which is no JSON)."""
    return json.loads(table.to_json(orient="records"))


def _stderr_progress(fraction: float, message: str) -> None:
    """One self-overwriting progress line on a terminal; silent when stderr is a file or pipe."""
    if sys.stderr.isatty():
        end = "\n" if fraction >= 1 else ""
        print(f"\r[{fraction:4.0%}] {message}\033[K", end=end, file=sys.stderr, flush=True)
