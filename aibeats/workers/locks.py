"""The locks that share out a host's devices: a job's slot, and a worker's hold on a GPU.

- `slot-<device>[-<replica>]-<host>.lock`: held by a job for as long as its item is being made on that slot. A
  config may give a stage several slots (`device: auto` on a machine with four GPUs, or `[cuda:0, cuda:2]`);
  the `gpu` resource lets as many model jobs run as there are slots, and each job takes a free one, preferring
  a slot whose worker already holds its model. The kernel drops the lock of a job that dies, however it dies.
- `device-<device>-<host>.lock`: on a GPU, held by the worker that uses it, unless the config says the models fit
  together: a starting worker asks the holder to finish and waits for it to exit before loading its own model.

Both carry the host name; a slot's also the SLURM job id inside an allocation, whose GPUs CUDA numbers from 0
(aibeats.workers.identity.host_suffix).
"""

import fcntl
import socket
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from aibeats.devices import Slot
from aibeats.workers.identity import ask_to_stop, host_suffix

_SLOT_POLL_SECONDS = 0.1


def pick_slot(n_slots: int, busy: Collection[int], warm: Collection[int]) -> int | None:
    """The slot a job takes: a free one whose worker has its model loaded, else the first free one; None when
    every slot is busy."""
    free = [index for index in range(n_slots) if index not in busy]
    return next((index for index in free if index in warm), free[0] if free else None)


def slot_lock_path(workers_dir: Path, slot: Slot) -> Path:
    replica = f"-{slot.replica}" if slot.replica else ""
    return Path(workers_dir) / f"slot-{slot.device}{replica}-{host_suffix()}.lock"


@contextmanager
def hold_slot(workers_dir: Path, slots: list[Slot], warm: Collection[int]) -> Iterator[int]:
    """Hold a free slot of slots (its index) while the block runs; when all are taken, wait for the first one to
    be freed."""
    Path(workers_dir).mkdir(parents=True, exist_ok=True)
    while True:
        busy: set[int] = set()
        while (index := pick_slot(len(slots), busy, warm)) is not None:
            with open(slot_lock_path(workers_dir, slots[index]), "a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    busy.add(index)
                    continue
                yield index
                return
        # More model jobs than slots (a `gpu` resource set above the slot count): this one waits its turn. A lock
        # cannot be waited for among several, so the slots are tried again a moment later.
        time.sleep(_SLOT_POLL_SECONDS)


def hold_device(workers_dir: Path, device: str):
    """Take this host's lock on a GPU, first asking the worker that holds it to finish and exit."""
    lock_path = Path(workers_dir) / f"device-{device}-{socket.gethostname()}.lock"
    lock = open(lock_path, "a+")  # noqa: SIM115 - held for the worker's whole life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip()
        if holder:
            ask_to_stop(Path(holder))
        fcntl.flock(lock, fcntl.LOCK_EX)
    return lock
