# Stage 2: extend each track to music_duration, window by window, with the track's end as audio prompt.


rule extend_track:
    input:
        model=tiny_model("music_continuation"),
        track=output_of("music"),
    output:
        reported("music_continuation"),
    params:
        recipe=recipe("music_continuation"),
        history=HISTORY,
        workers=WORKERS,
    log:
        log_of("music_continuation"),
    threads: threads_of("music_continuation")
    resources:
        gpu=gpus_of("music_continuation"),
    conda:
        env_of("music_continuation")
    script:
        "../scripts/extend_track.py"


rule music_continuation:
    input:
        targets_of("music_continuation"),
