"""The original tool's clip assembly with moviepy, run by the benchmark in its own venv (see bench/clips.py).

Usage: python moviepy_clip.py SPEC.json, where the spec names the animations in clip order, the frames of the
last one, the track (WAV), the fps and the output. Prints one JSON line: the seconds the assembly took, imports
left out (they are paid once per process, as in the original tool).
"""

import json
import sys
import time

from moviepy import AudioFileClip, VideoFileClip, afx, concatenate_videoclips


def assemble_with_moviepy(animations: list[str], last_frames: int, track: str, fps: int, output: str,
                          fade_out_seconds: float) -> None:
    # One reader per use of an animation, as when the original opened a file for each slot of the clip.
    clips = [VideoFileClip(path) for path in animations]
    clips[-1] = clips[-1].subclipped(0, last_frames / fps)
    video = concatenate_videoclips(clips)
    # As the original tool did: AudioFileClip's defaults, which resample the track to 44.1 kHz stereo.
    audio = AudioFileClip(track).with_effects([afx.AudioFadeOut(fade_out_seconds)])
    video.with_audio(audio).write_videofile(output, fps=fps, codec="libx264", audio_codec="aac",
                                            audio_fps=audio.fps, logger=None)
    for clip in [*clips, audio]:
        clip.close()


def main() -> None:
    with open(sys.argv[1]) as spec_file:
        spec = json.load(spec_file)
    started = time.perf_counter()
    assemble_with_moviepy(spec["animations"], spec["last_frames"], spec["track"], spec["fps"], spec["output"],
                          spec["fade_out_seconds"])
    print(json.dumps({"seconds": time.perf_counter() - started}))


if __name__ == "__main__":
    main()
