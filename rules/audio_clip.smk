# Stage 5: one clip per track: the extended track looped and faded, over as many animations as it needs.


rule assemble_clip:
    input:
        track=f"{ROOT}/music/track_{{i}}_ext.wav",
        animations=clip_animations,
    output:
        f"{ROOT}/clips/clip_{{i}}.mp4",
    params:
        recipe=recipe("audio_clip"),
        history=HISTORY,
    log:
        f"{ROOT}/logs/clips/clip_{{i}}.log",
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/assemble_clip.py"
