"""The original tool's library making the mix, run by the benchmark in the moviepy venv (see bench/mix.py).

Usage: python moviepy_mix.py SPEC.json, where the spec names the clips in order, the crossfade, the fps and the
output. Prints one JSON line: the seconds the mix took, imports left out.
"""

import json
import sys
import time

from moviepy import VideoFileClip, afx, concatenate_videoclips, vfx


def mix_with_moviepy(clips: list[str], crossfade: float, fps: int, output: str) -> None:
    videos = [VideoFileClip(path) for path in clips]
    faded = []
    for number, video in enumerate(videos):
        effects = []
        if number > 0:
            effects += [vfx.CrossFadeIn(crossfade), afx.AudioFadeIn(crossfade)]
        if number < len(videos) - 1:
            effects.append(afx.AudioFadeOut(crossfade))
        faded.append(video.with_effects(effects))
    # Overlapping by the crossfade: the picture dissolves, the audio crossfades; one re-encode of everything.
    mix = concatenate_videoclips(faded, method="compose", padding=-crossfade)
    mix.write_videofile(output, fps=fps, codec="libx264", audio_codec="aac", audio_bitrate="384k", audio_fps=48000,
                        logger=None)
    for video in videos:
        video.close()


def main() -> None:
    with open(sys.argv[1]) as spec_file:
        spec = json.load(spec_file)
    started = time.perf_counter()
    mix_with_moviepy(spec["clips"], spec["crossfade"], spec["fps"], spec["output"])
    print(json.dumps({"seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
