"""Device slots: what `device` gives a stage (every GPU for auto, a list, two CPU workers), which slot a job takes,
the locks that share the slots out between concurrent jobs and free them when a job or a worker dies, one
worker name per (model, slot) that stays the old one for a single slot, and look-ahead sharing a model's items
out among its workers."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aibeats import devices
from aibeats.config import model_slots, validate_config
from aibeats.devices import Slot, device_slots
from aibeats.look_ahead import LookAhead, plan_path
from aibeats.workers import Worker, Workflow
from aibeats.workers.locks import hold_slot, pick_slot

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "schemas" / "config.schema.yaml"


@pytest.fixture
def four_nvidia_gpus(tmp_path, monkeypatch):
    """A CUDA build of torch on a machine whose driver shows four GPUs."""
    for index in range(4):
        (tmp_path / "gpus" / f"0000:0{index + 1}:00.0").mkdir(parents=True)
    monkeypatch.setattr(devices, "NVIDIA_GPUS", tmp_path / "gpus")
    monkeypatch.setattr(devices, "NVIDIA_DEVICE", tmp_path / "nvidia0")
    monkeypatch.setattr(devices, "_torch_gpu_platform", lambda: "cuda")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_auto_is_every_visible_gpu_and_a_list_names_its_slots(four_nvidia_gpus, monkeypatch):
    assert device_slots("auto") == [Slot(f"cuda:{index}") for index in range(4)]
    assert device_slots("cuda") == [Slot("cuda:0")]
    assert device_slots(["cuda:0", "cuda:2"]) == [Slot("cuda:0"), Slot("cuda:2")]
    assert device_slots(["cpu", "cpu"]) == [Slot("cpu", 0), Slot("cpu", 1)]
    assert [str(slot) for slot in device_slots(["cpu", "cpu", "cpu"])] == ["cpu", "cpu#1", "cpu#2"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")  # as SLURM sets it for an allocation of two GPUs
    assert device_slots("auto") == [Slot("cuda:0"), Slot("cuda:1")]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1,-1,3")  # CUDA stops at the first invalid entry
    assert device_slots("auto") == [Slot("cuda:0")]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1,2,3,4,5")  # more than the driver shows
    assert len(device_slots("auto")) == 4


def test_the_gpu_resource_defaults_to_the_number_of_slots_of_the_model_stages(four_nvidia_gpus):
    def slots(music, image, video) -> int:
        config = {"music": {"device": music}, "image": {"device": image}, "video": {"device": video}}
        return model_slots(validate_config(config, SCHEMA))

    assert slots("auto", "cuda:0", "auto") == 4
    assert slots("cpu", "cuda:0", ["cpu", "cpu"]) == 3
    assert slots("cpu", "cpu", "cpu") == 1
    camera_moves = validate_config({"video": {"backend": "kenburns", "device": "auto"}, "music": {"device": "cpu"},
                                    "image": {"device": "cpu"}}, SCHEMA)
    assert model_slots(camera_moves) == 1  # no model animates: its device is not counted


@pytest.mark.parametrize(("busy", "warm", "taken"), [
    ((), (), 0),  # nothing loaded anywhere: the first slot
    ((), (2,), 2),  # the slot whose worker holds the model already
    ((2,), (2,), 0),  # that one busy: the first free one, whose worker will load the model
    ((0, 2), (1, 2), 1),
    ((0, 1, 2, 3), (0,), None),  # every slot busy
])
def test_a_job_takes_a_free_slot_preferring_a_warm_worker(busy, warm, taken):
    assert pick_slot(4, busy, warm) == taken


def test_n_jobs_over_k_slots_each_take_a_free_one_in_turn():
    """Jobs arriving one after another while the earlier ones still run: with K slots free the first K take one
    each, the first of them the warm one; then each job that ends hands its slot to the next."""
    slots, warm, busy, taken = 3, {1}, set(), []
    for _job in range(3):
        taken.append(pick_slot(slots, busy, warm))
        busy.add(taken[-1])
    assert taken == [1, 0, 2] and pick_slot(slots, busy, warm) is None
    busy.discard(0)
    assert pick_slot(slots, busy, warm) == 0


HOLDER = """
import sys, time
from aibeats.devices import Slot
from aibeats.workers.locks import hold_slot
slots = [Slot("cuda:0"), Slot("cuda:1")]
with hold_slot(sys.argv[1], slots, warm=[1]) as index:
    print(index, flush=True)
    time.sleep(float(sys.argv[2]))
"""


def start_holder(workers_dir: Path, seconds: float) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", HOLDER, str(workers_dir), str(seconds)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)


def test_concurrent_jobs_hold_distinct_slots_and_a_killed_one_frees_its_own(tmp_path):
    """Two jobs on two GPUs take one each, the warm one first; a third waits, and gets the slot of the job
    killed with SIGKILL (the kernel drops its lock) while the other still runs."""
    first = start_holder(tmp_path, 60)
    assert first.stdout.readline() == "1\n"
    second = start_holder(tmp_path, 60)
    assert second.stdout.readline() == "0\n"
    third = start_holder(tmp_path, 0)
    time.sleep(1)
    assert third.poll() is None  # waiting: both slots are held
    second.send_signal(signal.SIGKILL)
    assert third.communicate(timeout=30)[0] == "0\n"
    assert first.poll() is None
    first.kill()
    first.wait()
    second.wait()


def test_in_one_process_a_slot_is_held_for_the_block_only(tmp_path):
    slots = [Slot("cpu", 0), Slot("cpu", 1)]
    with hold_slot(tmp_path, slots, warm=()) as outer, hold_slot(tmp_path, slots, warm=()) as inner:
        assert (outer, inner) == (0, 1)
    with hold_slot(tmp_path, slots, warm=(1,)) as again:
        assert again == 1


DEVICE_HOLDER = """
import sys, time
from aibeats.workers.locks import hold_device
lock = hold_device(sys.argv[1], "cuda:1")
print("held", flush=True)
time.sleep(60)
"""


def test_a_dead_workers_gpu_is_free_for_the_next_worker_at_once(tmp_path):
    """A worker killed with SIGKILL answers no shutdown request; its device lock goes with it."""
    from aibeats.workers.locks import hold_device

    holder = subprocess.Popen([sys.executable, "-c", DEVICE_HOLDER, str(tmp_path)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    hold_device(tmp_path, "cuda:1").close()
    assert time.monotonic() - started < 5


def test_one_worker_per_model_and_slot_named_as_before_for_a_single_slot(tmp_path, monkeypatch):
    """Replica 0 keeps the name workers had before slots existed: an upgrade reuses a warm worker."""
    import hashlib
    import socket

    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    digest = hashlib.sha256(b"video\0m\0cpu\0auto").hexdigest()[:12]
    assert Worker("video", "m", "cpu", tmp_path).name == f"video-{digest}-{socket.gethostname()}"
    names = {Worker("video", "m", slot.device, tmp_path, replica=slot.replica).name
             for slot in device_slots(["cpu", "cpu", "cuda:0", "cuda:1"])}
    assert len(names) == 4


def test_the_workers_of_a_model_share_its_planned_items_out(tmp_path):
    """Every item of a two-slot model is made ahead by exactly one of its two workers; an item of a one-slot
    stage of the same model goes to the worker of that slot alone."""
    workflow = Workflow.of_this_job()
    items = [{"stage": "image", "output": f"images/img_{n}.png", "recipe": {"model_id": "m", "precision": None},
              "inputs": {}, "device": ["cpu", "cpu"]} for n in range(5)]
    items.append({"stage": "image", "output": "images/img_9.png", "recipe": {"model_id": "m"},
                  "inputs": {}, "device": "cpu"})
    plan_file = plan_path(tmp_path, workflow.pid)
    plan_file.parent.mkdir(parents=True, exist_ok=True)
    plan_file.write_text(json.dumps({"workflow": [workflow.pid, workflow.start], "written": time.time(),
                                     "outputs": [item["output"] for item in items], "items": items}))

    def made_ahead_by(slot: Slot) -> list[str]:
        look_ahead = LookAhead("image", "m", "auto", slot, tmp_path)
        look_ahead.follow({"workflow": [workflow.pid, workflow.start], "output": "images/asked.png"})
        return [item.output for item in look_ahead.items]

    first, second = made_ahead_by(Slot("cpu", 0)), made_ahead_by(Slot("cpu", 1))
    assert first == ["images/img_0.png", "images/img_2.png", "images/img_4.png", "images/img_9.png"]
    assert second == ["images/img_1.png", "images/img_3.png"]
