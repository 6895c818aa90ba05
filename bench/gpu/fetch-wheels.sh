#!/bin/sh
# Fetch what the GPU machine lacks into bench/gpu/wheels/ (git ignores it) and say how much it takes: the wheels
# of bench/gpu/requirements.txt for its Python 3.12 on x86-64, and imageio-ffmpeg in two parts: the pinned
# release's Python code as a wheel without its binary, and an ffmpeg binary, xz-compressed, which on-device.sh
# unpacks. Run from the repository root, with network (PyPI).
set -eu
wheels=bench/gpu/wheels
python=${PYTHON:-.venv/bin/python}  # the checkout's (make .venv/.installed), whose pip knows the local index
rm -rf "$wheels"
mkdir -p "$wheels"
# connection-pool (a snakemake dependency) is published as a source archive only: built here, it is pure Python.
grep -v -e '^#' -e '^connection-pool' bench/gpu/requirements.txt > "$wheels/binary.txt"
"$python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_24_x86_64 \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_5_x86_64 -d "$wheels" -r "$wheels/binary.txt"
"$python" -m pip wheel --quiet --no-deps -w "$wheels" "$(grep '^connection-pool' bench/gpu/requirements.txt)"
rm "$wheels/binary.txt"
ffmpeg_pin=$(grep '^imageio-ffmpeg==' requirements.txt)
scratch=$(mktemp -d)
"$python" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
  -d "$scratch/pinned" "$ffmpeg_pin"
# The pinned release's ffmpeg (7.x) is 50 MB as xz, which with the wheels is past the 64 MiB a call may carry;
# 0.4.9's static ffmpeg 4.2.2 is 19 MB as xz. The check's workflow makes images only, and asks ffmpeg nothing but
# its version (a part of every file's store key).
"$python" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux2010_x86_64 \
  -d "$scratch/binary" imageio-ffmpeg==0.4.9
"$python" - "$scratch"/pinned/imageio_ffmpeg-*.whl "$scratch"/binary/imageio_ffmpeg-*.whl "$wheels" <<'PY'
"""The pinned wheel without its binary (its RECORD without the binary's line, so that pip installs it as any
other), and the other wheel's binary alone, xz-compressed."""
import lzma
import sys
import zipfile
from pathlib import Path

pinned, binary, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
with zipfile.ZipFile(pinned) as source, zipfile.ZipFile(out / pinned.name, "w", zipfile.ZIP_DEFLATED) as code:
    for entry in source.infolist():
        if "/binaries/ffmpeg-" in entry.filename:
            continue
        data = source.read(entry)
        if entry.filename.endswith(".dist-info/RECORD"):
            data = b"".join(line for line in data.splitlines(keepends=True) if b"/binaries/ffmpeg-" not in line)
        code.writestr(entry, data)
with zipfile.ZipFile(binary) as source:
    [name] = [name for name in source.namelist() if "/binaries/ffmpeg-" in name]
    (out / "ffmpeg.xz").write_bytes(lzma.compress(source.read(name), preset=9))
PY
rm -rf "$scratch"
echo "$(ls "$wheels"/*.whl | wc -l) wheels and ffmpeg.xz, $(du -sm "$wheels" | cut -f1) MiB in $wheels"
