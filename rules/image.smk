# Stage 3: one SDXL-Turbo image per job; img_j takes the prompt modifiers in turn.


rule generate_image:
    input:
        model=tiny_model("image"),
    output:
        reported("image"),
    params:
        recipe=recipe("image"),
        history=HISTORY,
        workers=WORKERS,
    log:
        log_of("image"),
    threads: threads_of("image")
    resources:
        gpu=gpus_of("image"),
    conda:
        env_of("image")
    script:
        "../scripts/generate_image.py"


rule image:
    input:
        targets_of("image"),
