#!/bin/sh
# What runs on the GPU machine, from the repository root (bench/gpu/README.md): install the carried wheels
# beside the image's packages, ahead of them on the path, then run the check into $OUT.
set -eu
site=/tmp/aibeats-wheels
python3 -m pip install --quiet --no-index --no-deps --target "$site" bench/gpu/wheels/*.whl
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
PYTHONPATH="$site:$PWD" python3 -m bench gpu --out "${OUT:?the device tool names the folder that comes back}" "$@"
