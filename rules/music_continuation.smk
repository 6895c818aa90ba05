# Stage 2: extend each track to music_duration, window by window, with the track's end as audio prompt.


rule extend_track:
    input:
        model=tiny_model(config["music"]["model_id"]),
        track=f"{ROOT}/music/track_{{i}}.wav",
    output:
        f"{ROOT}/music/track_{{i}}_ext.wav",
    params:
        recipe=recipe("music_continuation"),
        history=HISTORY,
        workers=WORKERS,
    log:
        f"{ROOT}/logs/music/track_{{i}}_ext.log",
    resources:
        gpu=1,
    conda:
        "../envs/music.yaml"
    script:
        "../scripts/extend_track.py"
