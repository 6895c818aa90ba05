# Snakemake adapter for rule write_review_page.
from stage_job import run_job

from aibeats.plan import Project
from aibeats.review import write_review_page

run_job(snakemake.log[0], lambda: write_review_page(Project.for_run(snakemake.config, main_process=False),
                                                   snakemake.output.page, snakemake.output.report_folder))
