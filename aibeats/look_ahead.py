"""Look-ahead: a worker that has made the item a job asked for goes on making the next items of its model that
the run will ask for, so that their jobs find their files ready and only claim them.

Snakemake pays for every job on its own (its scheduling, the job's process, the request); meanwhile a worker
without look-ahead waits. With it, the worker is already making the next item then.

- The plan: when Snakemake's main process starts running (its `onstart`, after it has planned; never in a dry
  run), it writes the model jobs it is about to run, with the recipe and inputs each will send, into
  `{workers}/plan-<pid>.json` (write_plan). A worker reads the plan of the workflow run that sent it its request.
- What is made ahead goes into the project's store (aibeats.store) under the key its job computes (stage,
  recipe, the inputs' content, library versions), never to an output path and without a history record: only
  a job places a file, by claiming the entry as it would restore an earlier variant. A job whose recipe or
  inputs differ from what was made ahead computes another key and finds nothing; the entry is checked against
  the job's recipe before it is served, as every store entry is.
- An item is made ahead only once its inputs are in place: each input exists, and one that this run makes
  (it is another planned job's output) is newer than the plan. Requests come first: look-ahead happens only
  while no job waits, one item at a time, at most `workers.look_ahead` items made ahead and not yet claimed.
- It stops with the worker: when the workflow ends (stop_workers), or within seconds once its process is gone.
  A file half made ahead is a hidden temporary file in the store, which nothing serves.
"""

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from aibeats.atomic import atomic_path
from aibeats.devices import Slot, device_slots
from aibeats.errors import AiBeatsError
from aibeats.pipeline import STAGES
from aibeats.recipes import Recipe
from aibeats.store import Store, store_key


def plan_path(workers_dir: Path, workflow_pid: int) -> Path:
    return Path(workers_dir) / f"plan-{workflow_pid}.json"


def write_plan(workers_dir: Path, workflow, jobs, config: dict) -> None:
    """Write the run's plan for the workers: its model jobs in order, and every output the run makes.

    jobs are Snakemake's jobs that need to run (workflow.dag.needrun_jobs()); workflow is this Snakemake process
    (aibeats.workers.Workflow), as its jobs' requests name it.
    """
    rules = {STAGES[stage].rule: stage for stage in STAGES if STAGES[stage].uses_model(config)}
    jobs = list(jobs)
    items = []
    for job in jobs:
        stage = rules.get(job.rule.name)
        if stage is None:
            continue
        inputs = {name: str(value) if isinstance(value, str) else [str(path) for path in value]
                  for name, value in job.input.items() if name != "model"}
        number = int(job.wildcards_dict[STAGES[stage].wildcard])
        items.append((stage, number, {"stage": stage, "output": str(job.output[0]), "recipe": job.params.recipe,
                                      "inputs": inputs, "device": config[STAGES[stage].config_section]["device"]}))
    # Snakemake runs a rule's ready jobs in no particular order (workers.look_ahead allows for that): the workers
    # go stage by stage, each in the order of its items' numbers, where each stage's inputs come first.
    order = list(STAGES)
    items.sort(key=lambda staged: (order.index(staged[0]), staged[1]))
    plan = {"workflow": [workflow.pid, workflow.start], "written": time.time(), "items": [item for *_, item in items],
            "outputs": sorted({str(output) for job in jobs for output in job.output})}
    with atomic_path(plan_path(workers_dir, workflow.pid)) as temporary:
        temporary.write_text(json.dumps(plan))
    _remove_plans_of_ended_runs(workers_dir, type(workflow))


def _plans(workers_dir: Path, workflow_class):
    """(path, its run's Workflow, the plan) of every readable plan in workers_dir."""
    for path in Path(workers_dir).glob("plan-*.json"):
        try:
            plan = json.loads(path.read_text())
            run = workflow_class(*plan["workflow"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written (atomically, so not for long) or not ours
        yield path, run, plan


def _remove_plans_of_ended_runs(workers_dir: Path, workflow_class) -> None:
    """A run killed with kill -9 never removes its plan; the next run does."""
    for path, run, _ in _plans(workers_dir, workflow_class):
        if not run.alive():
            path.unlink(missing_ok=True)


def other_live_runs(workers_dir: Path, workflow_class) -> list[tuple[int, float]]:
    """(pid, when it started its jobs) of each run of this project still going, other than this process: a
    plan exists from a run's start until its end (or the next run, for one killed with kill -9)."""
    return sorted((run.pid, plan.get("written", 0)) for _, run, plan in _plans(workers_dir, workflow_class)
                  if run.pid != os.getpid() and run.alive())


def check_other_runs(workers_dir: Path, workflow_class, unlocking: bool) -> str | None:
    """A note that another run of the project is going (Snakemake will find its directory locked), or for
    `--unlock` an AiBeatsError: unlocking a live run's lock lets two runs write one project."""
    runs = other_live_runs(workers_dir, workflow_class)
    if not runs:
        return None
    pid, started = runs[0]
    since = time.strftime("%H:%M:%S", time.localtime(started))
    going = f"Snakemake process {pid} is running this project (its jobs started at {since})"
    if unlocking:
        raise AiBeatsError(f"{going}: --unlock would let two runs write the same files. Wait for it to end, or "
                           f"stop it (Ctrl-C in its terminal, or kill {pid}); --unlock is for a run that crashed")
    return (f"ai-beats: {going}; this run will find the directory locked by it. Wait for it, or stop it "
            f"(Ctrl-C in its terminal, or kill {pid}); do not --unlock a running run's lock")


def remove_plan(workers_dir: Path) -> None:
    plan_path(workers_dir, os.getpid()).unlink(missing_ok=True)


@dataclass(frozen=True)
class PlannedItem:
    stage: str
    output: str
    recipe: dict
    inputs: dict
    device: str | list[str]  # the config's, as it gives a stage one slot or several

    def devices(self) -> list[str]:
        return [self.device] if isinstance(self.device, str) else self.device

    def input_paths(self) -> list[Path]:
        return [Path(path) for value in self.inputs.values()
                for path in (value if isinstance(value, list) else [value])]


@dataclass(frozen=True)
class Candidate:
    """An item to make ahead: its recipe, where it goes in the store, and the store it goes to."""

    item: PlannedItem
    recipe: Recipe
    entry: Path
    store: Store


class LookAhead:
    """What one worker makes ahead: the items of its own model (family, model id, precision) on its slot in the
    plan of the workflow run it serves. A model with several slots shares its items out among its workers,
    every k-th to the k-th slot, so that no two of them make the same item; a job then claims its item from the
    store whichever slot it takes."""

    def __init__(self, family: str, model_id: str, precision: str, slot: Slot, workers_dir: Path):
        self.family, self.model_id, self.precision, self.slot = family, model_id, precision, slot
        self.workers_dir = Path(workers_dir)
        self.workflow: tuple | None = None
        self.items: list[PlannedItem] = []
        self.made_in_run: set[str] = set()  # outputs this run makes, as far as this worker knows
        self.planned_at = 0.0
        self.done: set[str] = set()  # outputs asked for or made ahead in this run
        self.made: dict[Path, int] = {}  # store entries made ahead, with their modification time then
        self.settings: dict = {}

    def follow(self, request: dict) -> None:
        """Learn from a job's request the run it belongs to, and the store and look-ahead settings; its own item
        is being made, so it is not made ahead."""
        workflow = tuple(request["workflow"])
        if workflow != self.workflow:
            self.workflow = workflow
            self._read_plan()
        self.settings = {"store": request.get("store"), "items": request.get("look_ahead", 0)}
        self.done.add(request["output"])

    def _read_plan(self) -> None:
        self.items, self.made_in_run, self.made, self.done = [], set(), {}, set()
        try:
            plan = json.loads(plan_path(self.workers_dir, self.workflow[0]).read_text())
        except (OSError, ValueError):
            return  # no plan: a dry run's job, a run without hooks, a job run by hand
        if tuple(plan["workflow"]) != self.workflow:
            return  # an earlier process's, with the same pid
        self.planned_at, self.made_in_run = plan["written"], set(plan["outputs"])
        items = [PlannedItem(**fields) for fields in plan["items"]]
        ours = [item for item in items if STAGES[item.stage].family == self.family
                and item.recipe.get("model_id") == self.model_id
                and (item.recipe.get("precision") or "auto") == self.precision]
        # Resolved once per setting: a plan names the config's few devices thousands of times.
        slots = {setting: device_slots(list(setting)) for setting in {tuple(item.devices()) for item in ours}}
        shared = [(item, slots[tuple(item.devices())]) for item in ours if self.slot in slots[tuple(item.devices())]]
        self.items = [item for number, (item, of) in enumerate(shared) if number % len(of) == of.index(self.slot)]

    def stop(self) -> None:
        """Make nothing more ahead for the run being served (its plan is read again for the next run)."""
        self.items = []

    def next_item(self) -> Candidate | None:
        """The next planned item to make ahead, if the limit allows and one is ready."""
        store_settings, limit = self.settings.get("store"), self.settings.get("items", 0)
        if not store_settings or not limit:
            return None
        # An entry made ahead is claimed once its job has placed it (a restore marks its use on the entry), or gone
        # with a store that keeps nothing.
        unclaimed = [entry for entry, made in self.made.items() if _modified(entry) == made]
        if len(unclaimed) >= limit:
            return None
        from aibeats.versions import library_versions

        store = Store(Path(store_settings["folder"]), store_settings["limit_bytes"])
        for item in self.items:
            if item.output in self.done or not self._ready(item):
                continue
            recipe = STAGES[item.stage].recipe.from_params(item.recipe)
            entry = store.entry(store_key(item.stage, recipe.as_params(), item.inputs, library_versions()),
                                Path(item.output))
            self.done.add(item.output)
            if not entry.exists():  # else its job restores it as it is
                return Candidate(item, recipe, entry, store)
        return None

    def _ready(self, item: PlannedItem) -> bool:
        for path in item.input_paths():
            try:
                modified = path.stat().st_mtime
            except OSError:
                return False
            if str(path) in self.made_in_run and modified < self.planned_at:
                return False  # the version this run replaces
        return True

    def make(self, model, candidate: Candidate) -> None:
        """Make the item into the store: no output, no history record (aibeats.stages makers, history None)."""
        from aibeats.stages import MAKERS

        item = candidate.item
        MAKERS[item.stage](model, candidate.recipe, item.inputs, candidate.entry, None)
        self.made[candidate.entry] = _modified(candidate.entry)
        candidate.store.evict()


def _modified(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None
