# Tiny, randomly initialised models with the real architectures, so the demo and the tests run offline.
# Only configs that name a folder under models/tiny/ (the demo's) depend on this rule.


rule build_tiny_model:
    output:
        directory("models/tiny/{family}"),
    log:
        "models/logs/tiny_{family}.log",
    wildcard_constraints:
        family="musicgen|musicgen-stereo|ace-step|sdxl|flux|sd3|svd|wan|wan-flf2v|wan-ti2v|ltx",
    # The video environment holds both transformers and diffusers, which is all the builders need.
    conda:
        "../envs/video.yaml"
    script:
        "../scripts/build_tiny_model.py"
