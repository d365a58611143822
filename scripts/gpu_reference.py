"""Train reference runs on the lent GPU machine and bring them back in one archive.

Run from the project root on the device (see ../shared/gpu/README.md), e.g. two calls that
each fit in the 10-minute limit:

    bash ../shared/gpu/stage.sh                     # here, once: wheels + parquet into .gpu/
    # device call 1, carry [".gpu"]:
    source .gpu/prelude.sh && python3 -m scripts.gpu_reference --scenarios S2 S4 --out $OUT/part1.tar.gz
    # device call 2:
    source .gpu/prelude.sh && python3 -m scripts.gpu_reference --scenarios S1 S3 --out $OUT/part2.tar.gz

Each run's ``config.json``, ``status.json``, ``history.csv`` and ``metrics.json`` (and, for the
compact CNN with ``--with-model``, its ``model.keras``) go into one ``.tar.gz``: the device tool
brings back at most 8 files. Unpack into ``artifacts/reference/`` to commit them.
"""

from __future__ import annotations

import argparse
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from fer import data, runs, store
from fer.scenarios import scenario
from fer.vocab import PROTOCOLS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", nargs="+", default=["S2", "S4"], help="S1-S4, or fer_cnn / cnn for a compact network (FER recipe)")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--protocol", default="thesis", choices=list(PROTOCOLS))
    parser.add_argument("--data-dir", type=Path, default=Path(".gpu/data"), help="the carried parquet folder")
    parser.add_argument("--with-model", action="store_true", help="also bring back model.keras (CNN only: size)")
    parser.add_argument("--out", type=Path, required=True, help="the .tar.gz to write (under $OUT)")
    args = parser.parse_args()

    os.environ["FER_ARTIFACTS"] = tempfile.mkdtemp(prefix="fer-artifacts-")
    started = time.perf_counter()
    dataset = data.import_dataset(args.data_dir)
    print(f"imported {len(dataset):,} faces in {time.perf_counter() - started:.1f} s", flush=True)

    staging = Path(tempfile.mkdtemp(prefix="fer-reference-"))
    for name in args.scenarios:
        config = (
            scenario("custom", arch=name, epochs=args.epochs, protocol=args.protocol, data="full")
            if name in ("cnn", "fer_cnn")
            else scenario(name, epochs=args.epochs, protocol=args.protocol, data="full")
        )
        run = runs.start(config, background=False)
        print(run.log_tail(3), flush=True)
        if run.state != "completed":
            print(f"{name}: {run.state}: {run.status.get('error')}", file=sys.stderr)
            continue
        store.export_reference(run, staging, include_model=args.with_model and config.arch in ("cnn", "fer_cnn"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(args.out, "w:gz") as archive:
        archive.add(staging, arcname="reference")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes) after {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
