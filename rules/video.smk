# Stage 4: one Stable Video Diffusion animation per image.


rule animate_image:
    input:
        model=tiny_model(config["video"]["model_id"]),
        image=f"{ROOT}/images/img_{{j}}.png",
    output:
        f"{ROOT}/animations/anim_{{j}}.mp4",
    params:
        recipe=recipe("video"),
        history=HISTORY,
        workers=WORKERS,
    log:
        f"{ROOT}/logs/animations/anim_{{j}}.log",
    resources:
        gpu=1,
    conda:
        "../envs/video.yaml"
    script:
        "../scripts/animate_image.py"
