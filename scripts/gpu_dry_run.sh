#!/bin/bash
# Dry-run a GPU machine command here, on the CPU, in an environment like that machine's, so the
# one call on the lent H200 cannot fail on an import, a path or a missing file.
#
#   bash scripts/gpu_dry_run.sh                        # the default: scripts/gpu_reference on the sample
#   bash scripts/gpu_dry_run.sh python3 -m scripts.gpu_reference --scenarios S1 --epochs 1 --data-dir fer/sample ...
#
# The environment (a venv in $FER_GPU_VENV, default /tmp/fer-gpu-venv, made once): what
# ../shared/gpu/README.md says the GPU machine has - JAX, PyTorch (the CPU file on this disk),
# numpy, pandas, pyarrow, scikit-learn, OpenCV, h5py, and absl-py, rich and packaging (Keras needs them and
# the carried wheels leave them out, so that machine has them) - and no TensorFlow, Streamlit or plotly;
# then the carried wheels from .gpu/wheels installed the way .gpu/prelude.sh installs them
# (optree from PyPI instead of the carried cp312 wheel when this Python is not 3.12). The GPU
# machine runs Python 3.12; this one is close enough for imports and paths.
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
venv="${FER_GPU_VENV:-/tmp/fer-gpu-venv}"
[ -d .gpu/wheels ] || bash ../shared/gpu/stage.sh
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  torch_file=$(ls /opt/wheels/torch-*+cpu-cp311-*.whl 2>/dev/null | head -1 || true)
  "$venv/bin/pip" install -q "jax[cpu]" numpy pandas pyarrow scikit-learn opencv-python-headless h5py absl-py rich packaging optree ${torch_file:-}
fi
site=$(mktemp -d /tmp/fer-gpu-site.XXXX)
trap 'rm -rf "$site"' EXIT
wheels=$(ls .gpu/wheels/*.whl | grep -v "optree-.*-cp312-" || true)
"$venv/bin/pip" install -q --no-index --no-deps --no-compile --target "$site" $wheels
for forbidden in tensorflow streamlit plotly; do
  if PYTHONPATH="$site" "$venv/bin/python" -c "import $forbidden" 2>/dev/null; then
    echo "the dry-run environment has $forbidden, which the GPU machine lacks" >&2; exit 1
  fi
done
out=$(mktemp -d /tmp/fer-gpu-out.XXXX)
# A compact network's first run is exported as a reference run before it is fine-tuned
# (gpu_reference.photo_tuning): on the GPU machine into its copy of artifacts/reference/, here
# into scratch, so a rehearsal leaves the working tree (and what the next device call carries) as it was.
export PATH="$venv/bin:$PATH" PYTHONPATH="$site:$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1 OUT="$out" \
  FER_REFERENCE="$site/reference-runs"
if [ $# -eq 0 ]; then
  set -- python3 -m scripts.gpu_reference --dry-run --out-dir "$out"
fi
echo "+ $*  (OUT=$out)"
"$@"
echo "dry run passed; what would come back:"
ls -la "$out"
