"""Which items a project makes and how they relate: pure numbering and planning, no files, no models."""

import hashlib
import itertools


def image_prompt(prompt: str, modifier: str) -> str:
    return f"{prompt}, {modifier}."


def modifier_of_image(j: int, n_modifiers: int) -> int:
    """Images take the modifiers in turn (img_1: first, img_2: second, ...).

    Interleaving, rather than giving each modifier a block of n_images numbers, means raising n_images only
    appends new numbers and never renumbers an existing image.
    """
    return (j - 1) % n_modifiers


def modifier_of_track(i: int, n_modifiers: int) -> int:
    """Track i is shown with the animations of one modifier, the tracks cycling through the modifiers."""
    return (i - 1) % n_modifiers


def images_of_modifier(modifier: int, n_images: int, n_modifiers: int) -> list[int]:
    return [modifier + 1 + k * n_modifiers for k in range(n_images)]


def plan_clip_animations(seed: int, animations: list[int], frames_per_animation: int,
                         clip_frames: int) -> list[tuple[int, int]]:
    """Which animations fill a clip, in order, and how many frames of each: (animation index, frames).

    The animations are shuffled by a per-animation random key rather than by shuffling the list, so adding an
    animation slots it in somewhere without reordering the others: a clip whose first animations stay the
    same keeps the same plan, and Snakemake does not rebuild it. The list is cycled until the frames cover
    the clip; the last animation is cut.
    """
    order = sorted(animations, key=lambda j: hashlib.sha256(f"{seed}:{j}".encode()).digest())
    plan: list[tuple[int, int]] = []
    remaining = clip_frames
    for j in itertools.cycle(order):
        if remaining <= 0:
            break
        frames = min(frames_per_animation, remaining)
        plan.append((j, frames))
        remaining -= frames
    return plan
