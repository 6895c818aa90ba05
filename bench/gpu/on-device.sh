#!/bin/sh
# What runs on the GPU machine, from the repository root (bench/gpu/README.md): install the carried wheels
# beside the image's packages, ahead of them on the path, unpack ffmpeg beside them, then run the check into $OUT.
# Snakemake's jobs need no `python` of their own on PATH: bench/harness.py puts the running interpreter's first.
set -eu
site=/tmp/aibeats-wheels
# A second call on a machine still warm finds the same wheels installed, and installs nothing.
wheels_stamp=$(ls -l bench/gpu/wheels | cksum)
if [ "$(cat "$site/.installed" 2>/dev/null)" != "$wheels_stamp" ]; then
  rm -rf "$site"
  python3 -m pip install --quiet --no-index --no-deps --target "$site" bench/gpu/wheels/*.whl
  python3 -c 'import lzma, sys; open(sys.argv[2], "wb").write(lzma.open(sys.argv[1]).read())' \
    bench/gpu/wheels/ffmpeg.xz "$site/ffmpeg"
  chmod +x "$site/ffmpeg"
  echo "$wheels_stamp" > "$site/.installed"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
IMAGEIO_FFMPEG_EXE="$site/ffmpeg" PYTHONPATH="$site:$PWD" \
  python3 -m bench gpu --out "${OUT:?the device tool names the folder that comes back}" "$@"
