# Stage 5: one clip per track: the extended track looped and faded, over as many animations as it needs.


rule assemble_clip:
    input:
        track=output_of("music_continuation"),
        animations=clip_animations,
    output:
        reported("audio_clip"),
    params:
        recipe=recipe("audio_clip"),
        history=HISTORY,
    log:
        log_of("audio_clip"),
    resources:
        gpu=gpus_of("audio_clip"),
    conda:
        env_of("audio_clip")
    script:
        "../scripts/assemble_clip.py"


rule audio_clip:
    input:
        targets_of("audio_clip"),
