# Stage 1: one MusicGen track per job, from the text prompt.


rule generate_track:
    input:
        model=tiny_model("music"),
    output:
        reported("music"),
    params:
        recipe=recipe("music"),
        history=HISTORY,
        workers=WORKERS,
    log:
        log_of("music"),
    threads: threads_of("music")
    resources:
        gpu=gpus_of("music"),
    conda:
        env_of("music")
    script:
        "../scripts/generate_track.py"


rule music:
    input:
        targets_of("music"),
