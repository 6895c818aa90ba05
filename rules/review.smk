# The review page: every item of the project on one page, in pipeline order, read from the files' recipes.
# Made from every output, so any change remakes it; from the pins too, which it shows.


rule write_review_page:
    input:
        outputs=[path for stage in STAGES for path in targets_of(stage)],
        pins=kept_items,
    output:
        page=REVIEW_PAGE,
        # The page with the files it shows, for Snakemake's report, where media play only from the page.
        report_folder=report(
            directory(REVIEW_REPORT_FOLDER),
            htmlindex="review.html",
            category="Review",
            caption="../report/review.rst",
        ),
    log:
        f"{ROOT}/logs/review.log",
    conda:
        "../envs/clip.yaml"
    script:
        "../scripts/write_review_page.py"


rule review:
    input:
        REVIEW_PAGE,
        REVIEW_REPORT_FOLDER,
