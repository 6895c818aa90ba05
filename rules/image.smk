# Stage 3: one SDXL-Turbo image per job; img_j takes the prompt modifiers in turn.


rule generate_image:
    input:
        model=tiny_model(config["image"]["model_id"]),
    output:
        f"{ROOT}/images/img_{{j}}.png",
    params:
        recipe=recipe("image"),
        history=HISTORY,
        workers=WORKERS,
    log:
        f"{ROOT}/logs/images/img_{{j}}.log",
    resources:
        gpu=1,
    conda:
        "../envs/image.yaml"
    script:
        "../scripts/generate_image.py"
