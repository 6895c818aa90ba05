"""Warm model workers: load a model once, then make item after item for thin client jobs.

One file per job means one process per job; without workers each job pays for `import torch, diffusers` and
a model load, which dwarfs the generation itself. The first job that needs a model starts a worker for
(family, model id, device slot); the worker loads the model, listens on a Unix socket and serves requests one at a
time through the same `aibeats.stages` makers a job uses in-process, so the files are identical either way.
Clients import neither torch nor the model libraries; they resolve the device themselves (aibeats.devices),
so that `auto`, `cuda` and `cuda:0` name the same worker.

Requests travel over multiprocessing.connection. Each worker draws a random key and writes it, readable by
its user only, beside its socket; a connection that cannot prove it knows the key is refused before any
request on it is read. Per worker `<name>`, the workers folder holds (the socket and the files beside it go to the
temp folder when the project's path is too long for a socket address):

- `<name>.sock` and `<name>.key`: the socket and its key, removed by the worker when it exits;
- `<name>.failed`: left by a worker that could not load its model: the one-line cause, and the workflow run
  it was started for. The other jobs of that run fail with that line at once instead of each starting a
  worker that fails the same way; the next run tries again;
- `<name>.start.lock`: held by the client that starts the worker, so that only one does;
- `slot-<device>-<host>.lock` and `device-<device>-<host>.lock`: a job's hold on a device slot, and a worker's on
  a GPU (aibeats.workers.locks).

A worker runs in the workdir of the client that started it, and refuses requests from another workdir: their
paths are relative to the workdir, and stay so, since they end up in the files' recipes.

- A worker exits after `idle_timeout` seconds without a request; when the workflow ends (the Snakefile's
  onsuccess/onerror handlers call stop_workers); and within seconds, even in the middle of a request, once
  the workflow's Snakemake process is gone (killed, say). Each request names that process (the job's
  AIBEATS_WORKFLOW_PID, set by the Snakefile, else the job's parent) with its start time, so that a later
  process given the same pid does not pass for it.
- A socket nobody answers on is stale (its worker died): the next client replaces the worker. A worker that
  dies in the middle of a request is replaced once and the request retried; a second death fails the job
  with a message naming the worker's log. Nothing is started for a workflow that is gone.
- On a GPU, only one worker holds the device at a time unless the config says the models fit together: a
  starting worker asks the holder to finish and waits for it to exit before loading its own model.
- A stage given several slots (`device: auto` with several GPUs, or a list) has one worker per (model, slot);
  each job takes a free slot, and each worker looks ahead into its share of the plan.
- Sockets and locks carry the host name, and the SLURM job id inside an allocation: on a cluster's shared
  filesystem each node, and each allocation on it, has its own workers. The jobs of a bundle share one
  worker, which exits once SLURM reports the job ended (Snakemake runs bundled jobs without its hooks).

The parts: aibeats.workers.identity (who a worker is, where it listens), .server (the process that holds the
model), .client (what a job calls), .locks (slots and devices).
"""

from aibeats.workers.client import request_item, stop_workers
from aibeats.workers.identity import Worker, WorkerError, Workflow

__all__ = ["Worker", "WorkerError", "Workflow", "request_item", "stop_workers"]
