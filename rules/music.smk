# Stage 1: one MusicGen track per job, from the text prompt.


rule generate_track:
    input:
        model=tiny_model(config["music"]["model_id"]),
    output:
        f"{ROOT}/music/track_{{i}}.wav",
    params:
        recipe=recipe("music"),
        history=HISTORY,
        workers=WORKERS,
    log:
        f"{ROOT}/logs/music/track_{{i}}.log",
    resources:
        gpu=1,
    conda:
        "../envs/music.yaml"
    script:
        "../scripts/generate_track.py"
