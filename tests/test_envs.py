"""Each stage's conda env parses and holds every library its code imports, pinned like requirements.txt.

What a stage imports is read from the code itself: the package modules its job reaches (the branch of
aibeats.jobs.run_stage_job it takes), the stage's maker in aibeats.stages and its model family's loader
module, followed through every import. Which env, script and stage belong together comes from the stage
declaration (aibeats.pipeline) and is checked against the rule files.
"""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

from aibeats.pipeline import REVIEW_RULE, STAGES, TINY_MODEL_RULE
from aibeats.stages import LOADERS

REPO = Path(__file__).resolve().parent.parent
# import name -> pip distribution name, where they differ
DISTRIBUTION = {"PIL": "pillow", "yaml": "pyyaml", "imageio_ffmpeg": "imageio-ffmpeg", "snakemake": "snakemake"}
# The scripts' shared entry module (scripts/stage_job.py): it only re-exports aibeats.jobs.
ENTRY = {"stage_job", "stage_job.run_job", "stage_job.run_stage_job"}


def rule_blocks() -> dict[str, str]:
    """rule name -> its text, from every rule file."""
    blocks = {}
    for rules in sorted((REPO / "rules").glob("*.smk")):
        for block in re.split(r"\nrule ", "\n" + rules.read_text())[1:]:
            name, _, body = block.partition(":")
            blocks[name.strip()] = body
    return blocks


def _is_type_checking_block(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports_in(node: ast.AST) -> set[str]:
    """Every module an AST imports, at any depth, except for type checkers only."""
    for block in [child for child in ast.walk(node) if _is_type_checking_block(child)]:
        block.body = []
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Import):
            names |= {alias.name for alias in child.names}
        elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
            names.add(child.module)
            names |= {f"{child.module}.{alias.name}" for alias in child.names}
    return names


def module_file(name: str) -> Path | None:
    path = REPO / Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _module_level(tree: ast.Module) -> list[ast.stmt]:
    return [node for node in tree.body if not isinstance(node, ast.FunctionDef | ast.ClassDef)]


def _imports_of_module(path: Path, tree: ast.Module, stage: str | None) -> set[str]:
    if path.name == "jobs.py":
        # jobs.py serves every stage: the branch a stage takes is in the roots (job_roots).
        return {name for node in _module_level(tree) for name in imports_in(node)}
    if path.name == "stages.py":
        # stages.py serves every stage: its module-level imports, this stage's maker and its family's loader.
        names = {name for node in _module_level(tree) for name in imports_in(node)}
        if stage:
            maker = STAGES[stage].maker.split(":")[1]
            names |= imports_in(next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == maker))
            if STAGES[stage].family:
                names.add(LOADERS[STAGES[stage].family].split(":")[0])
        return names
    return imports_in(tree)


def third_party_imports(roots: set[str], stage: str | None) -> set[str]:
    """Top-level third-party modules imported by the roots and every aibeats module they reach."""
    seen, found, todo = set(), set(), list(roots)
    while todo:
        name = todo.pop()
        top = name.split(".")[0]
        if top != "aibeats":
            if top not in sys.stdlib_module_names:
                found.add(top)
            continue
        path = module_file(name)
        if path is None or path in seen:
            continue
        seen.add(path)
        todo += _imports_of_module(path, ast.parse(path.read_text()), stage)
    return found


def job_roots(stage: str) -> set[str]:
    """What a stage's job runs: its script's imports, and the branch of run_stage_job for its kind of stage."""
    script = (REPO / "scripts" / f"{STAGES[stage].rule}.py").read_text()
    roots = imports_in(ast.parse(script)) - ENTRY | {"aibeats.jobs", "aibeats.history", "aibeats.pipeline"}
    if STAGES[stage].family:
        # the worker process runs in the same env as the job that starts it
        return roots | {"aibeats.generate", "aibeats.workers"}
    return roots | {"aibeats.stages"}


def env_pip_packages(env: str) -> dict[str, str]:
    spec = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    return dict(line.split("==") for line in pip)


def requirements() -> dict[str, str]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_every_env_parses_and_pins_what_requirements_pin():
    pinned = requirements()
    for env in {stage.env for stage in STAGES.values()}:
        packages = env_pip_packages(env)
        assert packages, env
        for name, version in packages.items():
            assert pinned.get(name) == version, f"envs/{env}.yaml pins {name}=={version}, requirements.txt " \
                                                f"{pinned.get(name)}"


@pytest.mark.parametrize("stage", list(STAGES))
def test_each_stage_rule_uses_its_declared_script_env_and_stage(stage):
    declared, blocks = STAGES[stage], rule_blocks()
    rule = blocks[declared.rule]
    assert f'"../scripts/{declared.rule}.py"' in rule
    for helper in ("env_of", "reported", "log_of", "recipe", "gpus_of"):
        assert f'{helper}("{stage}")' in rule, f"rule {declared.rule} lacks {helper}({stage!r})"
    assert f'run_stage_job(snakemake, "{stage}")' in (REPO / "scripts" / f"{declared.rule}.py").read_text()
    assert (REPO / "envs" / f"{declared.env}.yaml").is_file()
    # its target, named like the stage, asks for every file of the stage
    assert f'targets_of("{stage}")' in blocks[stage]


@pytest.mark.parametrize("stage", list(STAGES))
def test_each_env_holds_what_its_stage_imports(stage):
    needed = {DISTRIBUTION.get(name, name) for name in third_party_imports(job_roots(stage), stage)}
    needed.discard("snakemake")  # Snakemake provides the script's `snakemake` object itself
    available = set(env_pip_packages(STAGES[stage].env))
    assert needed, stage
    assert needed <= available, f"envs/{STAGES[stage].env}.yaml lacks {sorted(needed - available)} for {stage}"


def test_the_tiny_model_builder_env_holds_what_it_imports():
    rule = rule_blocks()[TINY_MODEL_RULE]
    env = re.search(r'"\.\./envs/(\w+)\.yaml"', rule).group(1)
    script = (REPO / "scripts" / f"{TINY_MODEL_RULE}.py").read_text()
    roots = imports_in(ast.parse(script)) - ENTRY | {"aibeats.jobs", "aibeats.tiny.musicgen", "aibeats.tiny.sdxl",
                                                      "aibeats.tiny.svd"}
    needed = {DISTRIBUTION.get(name, name) for name in third_party_imports(roots, None)}
    assert {"torch", "diffusers", "transformers"} <= needed <= set(env_pip_packages(env))


def test_the_review_page_env_holds_what_it_imports():
    rule = rule_blocks()[REVIEW_RULE]
    env = re.search(r'"\.\./envs/(\w+)\.yaml"', rule).group(1)
    script = (REPO / "scripts" / f"{REVIEW_RULE}.py").read_text()
    roots = imports_in(ast.parse(script)) - ENTRY | {"aibeats.jobs"}
    needed = {DISTRIBUTION.get(name, name) for name in third_party_imports(roots, None)}
    assert {"pillow", "scipy", "pyyaml"} <= needed
    assert needed <= set(env_pip_packages(env))


def test_the_stages_import_what_they_should():
    """A check on the analysis itself: the music stage needs transformers (MusicGen) and diffusers (ACE-Step), but
    not librosa, which only the clips' beat cuts import."""
    music = third_party_imports(job_roots("music"), "music")
    assert {"torch", "transformers", "diffusers", "numpy", "scipy"} <= music
    assert "librosa" not in music
    assert "diffusers" in third_party_imports(job_roots("video"), "video")
    assert "torch" not in third_party_imports(job_roots("audio_clip"), "audio_clip")
