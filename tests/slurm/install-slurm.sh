#!/usr/bin/env bash
# Installs Debian's SLURM daemons and munge for tests/test_slurm.py (a real one-node cluster started by the
# tests themselves). Idempotent: does nothing when the binaries are already there. Needs root or password-less sudo.
set -euo pipefail

# The daemons live in sbin, which is not on a normal user's PATH.
export PATH="$PATH:/usr/sbin:/sbin"
REQUIRED_BINARIES=(munged slurmctld slurmd sbatch srun squeue sinfo scontrol scancel)

missing=()
for binary in "${REQUIRED_BINARIES[@]}"; do
    command -v "$binary" >/dev/null 2>&1 || missing+=("$binary")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-slurm: slurm and munge already installed, nothing to do"
    exit 0
fi
echo "install-slurm: missing ${missing[*]}"

# CI runners that are not root (GitHub's) have password-less sudo.
as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if ! sudo -n true 2>/dev/null; then
        echo "install-slurm: needs root: run it as root or with sudo" >&2
        exit 1
    fi
    as_root=(sudo -n)
fi

# An empty package list (fresh containers ship none) means apt finds nothing: refresh it only then.
if ! apt-cache show slurm-wlm >/dev/null 2>&1; then
    echo "install-slurm: apt-get update (no package list knows slurm-wlm yet)"
    "${as_root[@]}" apt-get update -q
fi
echo "install-slurm: apt-get install slurm-wlm munge"
# The tests start their own daemons with a private configuration; an init system starting the packaged ones
# does no harm (they fail without /etc/slurm/slurm.conf).
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slurm-wlm munge
echo "install-slurm: done: $(/usr/sbin/slurmd -V)"
