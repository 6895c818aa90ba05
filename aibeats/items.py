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


# An animation has a keyframe every this many seconds, and at its first frame (aibeats.video_io encodes it so).
KEYFRAME_SECONDS = 2


def clip_keyframes(animations: list[list], fps: int) -> list[int]:
    """The frames of a clip that are keyframes: each animation's first frame and every KEYFRAME_SECONDS after."""
    keyframes, start = [], 0
    for _, frames in animations:
        keyframes += range(start, start + frames, KEYFRAME_SECONDS * fps)
        start += frames
    return keyframes


def mix_starts(clip_frames: list[int], crossfade_frames: int) -> list[int]:
    """The frame of the mix where each clip's audio starts, and, last, the frame where the mix ends: each clip
    starts crossfade_frames before the one before it ends."""
    return list(itertools.accumulate([0, *(frames - crossfade_frames for frames in clip_frames[:-1]),
                                      clip_frames[-1]]))


def plan_mix(clip_frames: list[int], clip_keyframes: list[list[int]], crossfade_frames: int) -> list[list[int]]:
    """Which frames of each clip the mix shows, [first, end), so that the video cuts from one track to the next
    near the middle of their crossfade.

    Consecutive clips overlap by crossfade_frames (their audio is crossfaded there). The video can only start
    a clip on one of its keyframes and stay a stream copy, so the cut is at the keyframe of the next clip
    nearest to the middle of the overlap; the clip before ends exactly where that one starts, which keeps the
    mix's video as long as its audio: sum(clip frames) - (n - 1) x crossfade_frames.
    """
    n = len(clip_frames)
    firsts = [0] + [min((k for k in keys if k <= crossfade_frames), key=lambda k: abs(2 * k - crossfade_frames))
                    for keys in clip_keyframes[1:]]
    ends = [clip_frames[k] - crossfade_frames + firsts[k + 1] for k in range(n - 1)] + [clip_frames[-1]]
    return [[first, end] for first, end in zip(firsts, ends, strict=True)]


def format_chapter_time(seconds: float) -> str:
    """YouTube's chapter time: m:ss, or h:mm:ss from an hour on (whole seconds, rounded down)."""
    whole = int(seconds)
    hours, minutes, secs = whole // 3600, whole // 60 % 60, whole % 60
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# YouTube's rules for chapters in a description: it cuts longer titles, and ignores all chapters when there
# are fewer than three or one is shorter than ten seconds.
MAX_CHAPTER_TITLE = 70
MIN_CHAPTERS = 3
MIN_CHAPTER_SECONDS = 10


def youtube_chapter_rule_broken(starts: list[float], total_seconds: float) -> str | None:
    """Which of YouTube's chapter rules the chapters break (it then shows none of them), or None."""
    if len(starts) < MIN_CHAPTERS:
        return (f"{len(starts)} chapters: YouTube shows chapters only from {MIN_CHAPTERS} on "
                "(make more tracks with music.n_music)")
    ends = [*starts[1:], total_seconds]
    for number, (start, end) in enumerate(zip(starts, ends, strict=True), start=1):
        if end - start < MIN_CHAPTER_SECONDS:
            return (f"chapter {number} lasts {end - start:.1f} s: YouTube shows chapters only when each lasts at "
                    f"least {MIN_CHAPTER_SECONDS} s")
    return None
