"""Each stage's conda env parses and holds every library its code imports, pinned like requirements.txt.

What a stage imports is read from the code itself: the rule's script, the package modules it reaches, the
stage's maker in aibeats.stages and its model family's loader module, followed through every import.
"""

import ast
import re
import sys
from pathlib import Path

import pytest
import yaml

from aibeats.generate import FAMILY_OF_STAGE
from aibeats.stages import LOADERS, MAKERS

REPO = Path(__file__).resolve().parent.parent
# import name -> pip distribution name, where they differ
DISTRIBUTION = {"PIL": "pillow", "yaml": "pyyaml", "imageio_ffmpeg": "imageio-ffmpeg", "snakemake": "snakemake"}
# what a script's generate() call sends to which stage
STAGE_OF_SCRIPT = {"generate_track.py": "music", "extend_track.py": "music_continuation",
                   "generate_image.py": "image", "animate_image.py": "video"}


def rule_scripts_and_envs() -> list[tuple[str, str]]:
    pairs = []
    for rules in sorted((REPO / "rules").glob("*.smk")):
        for rule in re.split(r"\nrule ", rules.read_text()):
            env = re.search(r'conda:\s*\n\s*"\.\./envs/(\w+)\.yaml"', rule)
            script = re.search(r'script:\s*\n\s*"\.\./scripts/(\w+\.py)"', rule)
            if script:
                assert env, f"rule with script {script.group(1)} in {rules.name} has no conda env"
                pairs.append((script.group(1), env.group(1)))
    return pairs


def imports_in(node: ast.AST) -> set[str]:
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
        tree = ast.parse(path.read_text())
        if path.name == "stages.py":
            # stages.py serves every stage: only its module-level imports and this stage's maker count,
            # and the loader of this stage's family.
            module_level = [n for n in tree.body if not isinstance(n, ast.FunctionDef | ast.ClassDef)]
            todo += [i for n in module_level for i in imports_in(n)]
            if stage:
                maker = next(n for n in tree.body if isinstance(n, ast.FunctionDef)
                             and n.name == MAKERS[stage].__name__)
                todo += imports_in(maker)
                todo.append(LOADERS[FAMILY_OF_STAGE[stage]].split(":")[0])
            continue
        todo += imports_in(tree)
    return found


def env_pip_packages(env: str) -> dict[str, str]:
    spec = yaml.safe_load((REPO / "envs" / f"{env}.yaml").read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict))
    return dict(line.split("==") for line in pip)


def requirements() -> dict[str, str]:
    lines = (REPO / "requirements.txt").read_text().splitlines()
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


def test_every_env_parses_and_pins_what_requirements_pin():
    pinned = requirements()
    for env in ("music", "image", "video", "clip"):
        packages = env_pip_packages(env)
        assert packages, env
        for name, version in packages.items():
            assert pinned.get(name) == version, f"envs/{env}.yaml pins {name}=={version}, requirements.txt " \
                                                f"{pinned.get(name)}"


@pytest.mark.parametrize(("script", "env"), rule_scripts_and_envs())
def test_each_env_holds_what_its_stage_imports(script, env):
    source = (REPO / "scripts" / script).read_text()
    roots = imports_in(ast.parse(source))
    stage = STAGE_OF_SCRIPT.get(script)
    if stage:
        assert f'"{stage}"' in source, f"{script} should send its items to stage {stage}"
        roots.add("aibeats.workers")  # the worker process runs in the same env as the job that starts it
    needed = {DISTRIBUTION.get(name, name) for name in third_party_imports(roots, stage)}
    needed.discard("snakemake")  # Snakemake provides the script's `snakemake` object itself
    available = set(env_pip_packages(env))
    assert needed, script
    assert needed <= available, f"envs/{env}.yaml lacks {sorted(needed - available)} imported for {script}"


def test_the_stages_import_what_they_should():
    """A check on the analysis itself: the music stage needs transformers but not diffusers."""
    music = third_party_imports({"aibeats.generate", "aibeats.workers"}, "music")
    assert {"torch", "transformers", "numpy", "scipy"} <= music
    assert "diffusers" not in music
    assert "diffusers" in third_party_imports({"aibeats.generate"}, "video")
    assert "torch" not in third_party_imports({"aibeats.stages"}, None)
