"""The original tool's way of making images, for `python -m bench images`: one Python process that loads the
text-to-image pipeline once, then makes every image in a loop and writes each PNG.

`python bench/original_images.py REQUEST RESULT`. REQUEST (JSON) names the model, device, precision, torch's
threads and each image's prompt, seed, steps, size and output file; RESULT (JSON) gets the model's load time and
each image's seconds. A script of its own, importing no benchmark code, so that its start-up costs what the
original script's did: Python, torch, and diffusers through the workflow's loader.
"""

import json
import sys
import time
from pathlib import Path

import torch

from aibeats.images import generate_image, load_image_pipeline


def main(request_file: Path, result_file: Path) -> None:
    request = json.loads(request_file.read_text())
    # As many threads as the workflow's worker computes on, so that both sides do the same work the same way.
    torch.set_num_threads(request["threads"])
    started = time.perf_counter()
    pipe = load_image_pipeline(request["model_id"], request["device"], request["precision"])
    load_seconds = time.perf_counter() - started
    image_seconds = []
    for image in request["images"]:
        started = time.perf_counter()
        generate_image(pipe, image["prompt"], image["inference_steps"], image["height"], image["width"],
                       image["seed"]).save(image["output"])
        image_seconds.append(time.perf_counter() - started)
    result_file.write_text(json.dumps({"load_seconds": load_seconds, "image_seconds": image_seconds,
                                       "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main(*(Path(arg) for arg in sys.argv[1:]))
