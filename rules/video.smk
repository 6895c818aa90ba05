# Stage 4: one Stable Video Diffusion animation per image.


rule animate_image:
    input:
        model=tiny_model("video"),
        image=output_of("image"),
    output:
        reported("video"),
    params:
        recipe=recipe("video"),
        history=HISTORY,
        workers=WORKERS,
    log:
        log_of("video"),
    threads: threads_of("video")
    resources:
        gpu=gpus_of("video"),
    conda:
        env_of("video")
    script:
        "../scripts/animate_image.py"


rule video:
    input:
        targets_of("video"),
