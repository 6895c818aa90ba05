# Stage 6: the finished video. Every clip in track order, crossfaded and normalised; its chapter lines for the
# description; its thumbnail. Each is its own job: deleting a clip's track remakes the mix, not the thumbnail.


rule mix_clips:
    input:
        clips=targets_of("audio_clip"),
    output:
        reported("mix"),
    params:
        recipe=recipe("mix"),
        history=HISTORY,
    log:
        log_of("mix"),
    threads: threads_of("mix")
    resources:
        gpu=gpus_of("mix"),
    conda:
        env_of("mix")
    script:
        "../scripts/mix_clips.py"


rule mix:
    input:
        targets_of("mix"),


rule write_chapters:
    output:
        reported("chapters"),
    params:
        recipe=recipe("chapters"),
        history=HISTORY,
    log:
        log_of("chapters"),
    resources:
        gpu=gpus_of("chapters"),
    conda:
        env_of("chapters")
    script:
        "../scripts/write_chapters.py"


rule chapters:
    input:
        targets_of("chapters"),


rule make_thumbnail:
    input:
        image=thumbnail_image,
    output:
        reported("thumbnail"),
    params:
        recipe=recipe("thumbnail"),
        history=HISTORY,
    log:
        log_of("thumbnail"),
    resources:
        gpu=gpus_of("thumbnail"),
    conda:
        env_of("thumbnail")
    script:
        "../scripts/make_thumbnail.py"


rule thumbnail:
    input:
        targets_of("thumbnail"),
