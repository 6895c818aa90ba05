# One target per stage, named like the steps of the original tool: `snakemake image` makes every image.
STAGE_OUTPUTS = PROJECT.outputs_by_stage()


rule music:
    input:
        STAGE_OUTPUTS["music"],


rule music_continuation:
    input:
        STAGE_OUTPUTS["music_continuation"],


rule image:
    input:
        STAGE_OUTPUTS["image"],


rule video:
    input:
        STAGE_OUTPUTS["video"],


rule audio_clip:
    input:
        STAGE_OUTPUTS["audio_clip"],
