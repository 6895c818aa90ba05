#!/bin/sh
# Fetch the wheels of bench/gpu/requirements.txt for the GPU machine's Python 3.12 on x86-64 into
# bench/gpu/wheels/ (git ignores it), and say how much they take. Run from the repository root, with network.
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
echo "$(ls "$wheels" | wc -l) wheels, $(du -sm "$wheels" | cut -f1) MiB in $wheels"
