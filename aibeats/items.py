"""Which items a project makes and how they relate: pure numbering and planning, no files, no models."""

import hashlib
import itertools

# video.loop_video: true plays an animation forward then back; seamless (Wan's first-last-frame models) has each
# segment go from the image back to it, so that it loops forward only.
SEAMLESS_LOOP = "seamless"


def animation_frame_count(num_frames: int, n_continuations: int, loop_video: bool | str) -> int:
    """Frames of an animation: the first segment's num_frames, then num_frames - 1 per continuation (its first
    frame repeats the previous segment's last); looping plays it back without repeating the turning frames. A
    seamless loop's segments each end on the image, which the next one (or the loop) starts with: num_frames - 1
    each."""
    forward = num_frames + (n_continuations - 1) * (num_frames - 1)
    if loop_video == SEAMLESS_LOOP:
        return forward - 1
    return 2 * forward - 2 if loop_video else forward


def seamless_loop_mismatch(model_id: str, loop_video: bool | str) -> str:
    """Why a video model does not suit video.loop_video: only Wan's first-last-frame models end a video on a given
    frame, and they always need one."""
    if loop_video == SEAMLESS_LOOP:
        return (f"the video model {model_id!r} (config key video.model_id) cannot end a video on a given frame, which "
                f"video.loop_video {SEAMLESS_LOOP} needs: set video.model_id to a Wan first-last-frame model "
                "(Wan-AI/Wan2.1-FLF2V-14B-720P-Diffusers), or video.loop_video to true")
    return (f"the video model {model_id!r} (config key video.model_id) is a first-last-frame model: every video it "
            f"makes ends on a given frame; set video.loop_video to {SEAMLESS_LOOP}")


def image_prompt(prompt: str, modifier: str) -> str:
    return f"{prompt}, {modifier}."


def modifier_of_image(j: int, n_modifiers: int) -> int:
    """Images take the modifiers in turn (img_1: first, img_2: second, ...).

    Interleaving, rather than giving each modifier a block of n_images numbers, means raising n_images only
    appends new numbers and never renumbers an existing image.
    """
    return (j - 1) % n_modifiers


def prompt_of_track(music: dict, i: int) -> str:
    """Track i's text prompt: music.prompts taken in turn (a tracklist of moods), or music.prompt for every track."""
    prompts = music.get("prompts")
    return prompts[(i - 1) % len(prompts)] if prompts else music["prompt"]


def modifier_of_track(i: int, n_modifiers: int) -> int:
    """Track i is shown with the animations of one modifier, the tracks cycling through the modifiers."""
    return (i - 1) % n_modifiers


def images_of_modifier(modifier: int, n_images: int, n_modifiers: int) -> list[int]:
    return [modifier + 1 + k * n_modifiers for k in range(n_images)]


def clip_animation_order(seed: int, animations: list[int]) -> list[int]:
    """The order a clip shows its animations in, cycled until the clip is full.

    Sorted by a per-animation random key rather than by shuffling the list, so adding an animation slots it in
    somewhere without reordering the others: a clip whose first animations stay the same keeps the same plan,
    and Snakemake does not rebuild it.
    """
    return sorted(animations, key=lambda j: hashlib.sha256(f"{seed}:{j}".encode()).digest())


def fill_clip(order: list, frames_per_animation: int, clip_frames: int, cut_frames: list[int] = ()) -> list[tuple]:
    """Which animations fill a clip, in order, and how many frames of each: (animation, frames).

    The order is cycled until the frames cover the clip; the last animation is cut at the clip's end. Without
    cut_frames every other animation plays whole. With them (the frames nearest the track's beats) each
    animation ends on the latest cut it reaches: the whole number of beats closest to its natural length, as
    it holds no frames beyond that. A cut in its first half would flash it by, so an animation that reaches
    none past its middle (a track without beats there) plays whole.
    """
    cuts = sorted(set(cut_frames))
    plan: list[tuple] = []
    start = 0
    for item in itertools.cycle(order):
        if start >= clip_frames:
            break
        end = start + frames_per_animation
        on_beat = [cut for cut in cuts if start + frames_per_animation / 2 < cut <= end]
        end = min(on_beat[-1] if on_beat else end, clip_frames)
        plan.append((item, end - start))
        start = end
    return plan


def beat_frames(beats: list[float], fps: int) -> list[int]:
    """The video frame nearest each beat (seconds): where a cut on that beat falls."""
    return [round(beat * fps) for beat in beats]


def cut_clip_on_beats(order: list[str], animations: list[list], fps: int, beats: list[float]) -> list[list]:
    """A clip's animations (name, frames) planned anew so that each ends on one of the beats (seconds): the
    same clip length, the same order, from the plan of whole animations and the order it cycles through."""
    natural = max(frames for _, frames in animations)  # the plan's animations all play whole but the last
    plan = fill_clip(order, natural, sum(frames for _, frames in animations), beat_frames(beats, fps))
    return [[name, frames] for name, frames in plan]


def plan_clip_animations(seed: int, animations: list[int], frames_per_animation: int,
                         clip_frames: int) -> list[tuple[int, int]]:
    """Which animations fill a clip, in the seeded order, each played whole but the last: (index, frames)."""
    return fill_clip(clip_animation_order(seed, animations), frames_per_animation, clip_frames)


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
