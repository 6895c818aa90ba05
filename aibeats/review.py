"""The review page, `{project}/review.html`: every item of the project on one page, in pipeline order.

The page is built in two halves. The plan (which items there are, where each lives, what it feeds and the
attempt it is planned at) comes from the workflow's config, so the review rule writes it into the page as
JSON. The state (whether each file exists, and the recipe inside it) is read from the files whenever a page
is rendered, so that `python -m aibeats review` can serve a page that is current without the config: it reads
the plan back from the page the workflow wrote and renders it again with its actions.

Everything the page needs is inline; media are linked relatively, so the page works opened from disk.
"""

import html
import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

from aibeats.atomic import atomic_path
from aibeats.errors import AiBeatsError
from aibeats.history import item_of
from aibeats.items import animation_frame_count
from aibeats.pipeline import STAGES
from aibeats.video_backends import BACKENDS

# A clip lists each piece it shows up to this many; a long one's list (a 3-minute track shows about 21) is
# summarised, with the whole list one click away.
_PIECES_LISTED = 6
# The project's finished video and its chapter list take a row of their own: long titles fit on one line.
_WIDE_STAGES = {"mix", "chapters"}
_PLAN_TAG = re.compile(r'<script type="application/json" id="ai-beats-plan">(.*?)</script>', re.DOTALL)


@dataclass(frozen=True)
class PlannedItem:
    stage: str
    item: str
    # relative to the project folder, where the page lives
    path: str
    feeds: list[str]
    planned_attempt: int


@dataclass(frozen=True)
class ReviewItem:
    planned: PlannedItem
    exists: bool
    # (label, value) lines read from the recipe inside the file
    facts: list[tuple[str, str]]
    attempt: int | None
    kept: bool
    # why the file's recipe could not be read, when it could not
    problem: str | None = None
    # the file's modification time, so that a served page asks for a re-rolled file anew
    version: int = 0
    # a text file's content, shown on the page
    text: str | None = None


def plan_review(project) -> dict:
    """The page's plan from a Project: its name and every item, what each feeds and its planned attempt."""
    feeds: dict[str, list[str]] = {}
    for stage in STAGES:
        for index in project.indices(stage):
            for source in project.inputs_of(stage, index):
                feeds.setdefault(item_of(source), []).append(item_of(project.output(stage, index)))
    items = [PlannedItem(stage, item_of(path), path.relative_to(project.root).as_posix(),
                         feeds.get(item_of(path), []), project.attempt(stage, index))
             for stage in STAGES for index, path in zip(project.indices(stage), project.outputs(stage), strict=True)]
    return {"project": project.config["project_name"], "items": [asdict(item) for item in items]}


def read_plan(page: Path) -> dict:
    """The plan a review page carries, to render it again."""
    try:
        found = _PLAN_TAG.search(Path(page).read_text())
        plan = json.loads(found[1].replace("<\\/", "</")) if found else None
    except (OSError, ValueError) as error:
        raise AiBeatsError(f"{page}: not a review page of ai-beats ({error})") from error
    if not isinstance(plan, dict) or "items" not in plan:
        raise AiBeatsError(f"{page}: not a review page of ai-beats (it holds no plan)")
    return plan


def _duration(recipe: dict, path: Path) -> float | None:
    """Seconds of an audio or video file: from the WAV header, or from the frames its recipe lists."""
    if path.suffix == ".wav":
        from scipy.io import wavfile

        rate, samples = wavfile.read(path, mmap=True)
        return len(samples) / rate
    fps = recipe.get("video_fps")
    if not fps:
        return None
    if "num_frames" in recipe:
        return animation_frame_count(recipe["num_frames"], recipe["n_continuations"], recipe["loop_video"]) / fps
    if "animations" in recipe:
        return sum(frames for _, frames in recipe["animations"]) / fps
    if "clips" in recipe and recipe["clips"] and recipe["clips"][0][1] is not None:
        return sum(end - first for _, first, end, _ in recipe["clips"]) / fps
    return None


def format_duration(seconds: float) -> str:
    """As a person reads a video's length: 0:05, 58:44, 2:58:12 (to the nearest second)."""
    minutes, second = divmod(round(seconds), 60)
    hours, minute = divmod(minutes, 60)
    return f"{hours}:{minute:02d}:{second:02d}" if hours else f"{minute}:{second:02d}"


@dataclass(frozen=True)
class Summarised:
    """A fact too long for a card: its summary, with the whole of it one click away."""

    summary: str
    whole: str


def _shows(animations: list[list]) -> str | Summarised:
    """What a clip shows: every piece when there are few, else the animations it cycles through, in order."""
    pieces = [f"{item_of(name)} ({frames} frames)" for name, frames in animations]
    if len(pieces) <= _PIECES_LISTED:
        return ", ".join(pieces)
    distinct = list(dict.fromkeys(item_of(name) for name, _ in animations))
    *most, last = [frames for _, frames in animations]
    if len(set(most)) == 1:
        frames = f"{most[0]} frames" + ("" if last == most[0] else f" (the last {last})")
    else:
        frames = f"{min(most + [last])}-{max(most + [last])} frames"
    return Summarised(f"{', '.join(distinct)} in turn: {len(pieces)} pieces of {frames}", ", ".join(pieces))


def _made_by(backend: str) -> str:
    """What made an animation, by the backend its recipe names (SVD's recipes name none)."""
    if backend in BACKENDS:
        return f"{BACKENDS[backend].label} image-to-video ({backend})"
    return "a camera move over the image (kenburns)"


def _facts(recipe: dict, path: Path) -> list[tuple[str, str | Summarised]]:
    facts = []
    if "prompt" in recipe:
        facts.append(("prompt", recipe["prompt"]))
    if "model_id" in recipe:
        facts.append(("model", recipe["model_id"]))
    if "backend" in recipe:
        facts.append(("made by", _made_by(recipe["backend"])))
    facts.append(("seed", f"{recipe.get('seed', '?')}, attempt {recipe.get('attempt', '?')}"))
    if "width" in recipe and "height" in recipe:
        facts.append(("size", f"{recipe['width']}x{recipe['height']}"))
    seconds = _duration(recipe, path)
    if seconds is not None:
        facts.append(("duration", format_duration(seconds)))
    if "animations" in recipe:
        facts.append(("shows", _shows(recipe["animations"])))
    if "beats" in recipe:
        facts.append(("beats", f"{len(recipe['beats'])}, cuts on the beat"))
    if "loudness_lufs" in recipe and recipe["loudness_lufs"] is not None:
        facts.append(("loudness", f"{recipe['loudness_lufs']} LUFS"))
    return facts


def _state(root: Path, planned: PlannedItem, pins: dict[str, int]) -> ReviewItem:
    from aibeats.provenance import read_recipe
    from aibeats.video_io import peek_mp4_recipe

    path = root / planned.path
    kept = planned.item in pins
    if not path.is_file():
        return ReviewItem(planned, exists=False, facts=[], attempt=None, kept=kept)
    version = path.stat().st_mtime_ns
    if path.suffix == ".txt":
        return ReviewItem(planned, exists=True, facts=[], attempt=None, kept=kept, version=version,
                          text=path.read_text(errors="replace"))
    try:
        # MP4s by their metadata alone: ffmpeg's full check costs two processes per file, the player shows the rest
        recipe = peek_mp4_recipe(path) if path.suffix == ".mp4" else read_recipe(path)
        if recipe is None:
            raise AiBeatsError(f"{path}: holds no ai-beats recipe (was it made by another tool?)")
        return ReviewItem(planned, exists=True, facts=_facts(recipe, path), attempt=recipe.get("attempt"),
                          kept=kept, version=version)
    except (AiBeatsError, OSError, ValueError) as error:
        return ReviewItem(planned, exists=True, facts=[], attempt=None, kept=kept, problem=str(error),
                          version=version)


def review_state(root: Path, plan: dict, pins: dict[str, int]) -> list[ReviewItem]:
    """Each planned item as its file is now. MP4 recipes are read by ffmpeg, one process per file: threads
    overlap them."""
    planned = [PlannedItem(**item) for item in plan["items"]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda item: _state(Path(root), item, pins), planned))


def _media(item: ReviewItem, src: str) -> str:
    stage, path = item.planned.stage, item.planned.path
    if not item.exists:
        return '<div class="placeholder">missing: not made yet, or its job failed</div>'
    if path.endswith(".wav"):
        return f'<audio controls preload="metadata" src="{src}"></audio>'
    if path.endswith(".png"):
        return f'<img loading="lazy" src="{src}" alt="{html.escape(item.planned.item)}">'
    # Videos get their file only when scrolled into view (see _SCRIPT): a project's dozens of animations
    # playing at once would load slowly and keep a laptop busy.
    if path.endswith(".mp4") and stage == "video":
        return f'<video muted loop playsinline preload="none" data-src="{src}"></video>'
    if path.endswith(".mp4"):
        return f'<video controls preload="none" data-src="{src}"></video>'
    return f'<pre>{html.escape(item.text or "")}</pre>'


def _fact(value) -> str:
    if isinstance(value, Summarised):
        return (f"<details><summary>{html.escape(value.summary)}</summary>{html.escape(value.whole)}</details>")
    return html.escape(str(value))


def _card(item: ReviewItem, served: bool) -> str:
    planned = item.planned
    src = quote(planned.path) + (f"?v={item.version}" if served else "")
    facts = "".join(f"<dt>{html.escape(label)}</dt><dd>{_fact(value)}</dd>" for label, value in item.facts)
    if item.problem:
        facts += f'<dt>problem</dt><dd class="problem">{html.escape(item.problem)}</dd>'
    if not item.exists:
        facts += f"<dt>next</dt><dd>made with attempt {planned.planned_attempt}</dd>"
    feeds = " ".join(f'<a href="#{html.escape(name)}">{html.escape(name)}</a>' for name in planned.feeds)
    if feeds:
        facts += f"<dt>feeds</dt><dd>{feeds}</dd>"
    badge = '<span class="kept">kept</span>' if item.kept else ""
    actions = ""
    if served:
        actions = ('<div class="actions">'
                   f'<button class="reroll" data-item="{planned.item}"{" disabled" if item.kept else ""}>Re-roll'
                   "</button>"
                   f'<button class="keep" data-item="{planned.item}" data-keep="{"false" if item.kept else "true"}"'
                   f'{"" if item.exists else " disabled"}>{"Unkeep" if item.kept else "Keep"}</button></div>')
    classes = ("card" + (" wide" if planned.stage in _WIDE_STAGES else "") + ("" if item.exists else " missing")
               + (" kept" if item.kept else ""))
    return (f'<article class="{classes}" id="{planned.item}" data-stage="{planned.stage}">{_media(item, src)}'
            f'<h3>{planned.item} {badge}</h3><dl>{facts}</dl>{actions}</article>')


_STYLE = """
body{font-family:system-ui,sans-serif;margin:0;background:#f4f4f6;color:#1d1d22}
header{position:sticky;top:0;z-index:2;background:#1d1d22;color:#fff;padding:.8rem 1.2rem}
header h1{margin:0;font-size:1.3rem}header p{margin:.3rem 0 0;font-size:.9rem;color:#ccc}
#run{font-family:ui-monospace,monospace;font-size:.8rem;white-space:pre-wrap;max-height:7rem;overflow:auto;
margin:.4rem 0 0;color:#e8e8a8}
nav a{color:#9cf;margin-right:.8rem;font-size:.9rem}
main{padding:0 1.2rem 2rem}h2{margin:1.6rem 0 .6rem;font-size:1.1rem}h2 small{color:#666;font-weight:normal}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:.8rem}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.6rem;overflow-wrap:anywhere;min-width:0}
.card.wide{grid-column:1/-1}.card.wide video,.card.wide img{max-width:720px}
details summary{cursor:pointer;color:#247}details[open] summary{margin-bottom:.2rem}
.card.missing{border:2px dashed #c33;background:#fff6f6}.card.kept{border:2px solid #2a7}
.card img,.card video{width:100%;border-radius:4px;background:#000;display:block}
.card audio{width:100%}.card pre{font-size:.8rem;white-space:pre-wrap;margin:0}
.placeholder{height:6rem;display:flex;align-items:center;justify-content:center;color:#c33;text-align:center}
h3{margin:.5rem 0 .3rem;font-size:1rem}.kept{background:#2a7;color:#fff;border-radius:4px;padding:0 .3rem;
font-size:.75rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.1rem .6rem;margin:0;font-size:.82rem}dt{color:#666}dd{margin:0}
.problem{color:#c33}.actions{margin-top:.5rem;display:flex;gap:.4rem}
button{font:inherit;padding:.3rem .8rem;border-radius:5px;border:1px solid #888;background:#fafafa;cursor:pointer}
button.reroll{background:#e9f1ff;border-color:#58c}button:disabled{opacity:.45;cursor:default}
button.queued{background:#ffe9b0}
"""

# From disk: a file deleted since the page was written shows as missing. Served: the actions, and the run's
# progress, polled once a second; the page reloads when a run ends, to show the new variants.
_SCRIPT = """
for (const media of document.querySelectorAll('audio,video,img')) {
  const broken = () => {
    const card = media.closest('.card');
    card.classList.add('missing');
    media.outerHTML = '<div class="placeholder">missing: not made yet, or its job failed</div>';
  };
  media.addEventListener('error', broken);
  if (media.error) broken();
}
// A video loads when it comes into view; an animation plays while it is in view.
const inView = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    const video = entry.target;
    if (entry.isIntersecting && !video.getAttribute('src')) {
      video.src = video.dataset.src;
      video.preload = 'metadata';
    }
    if (video.loop) entry.isIntersecting ? video.play().catch(() => {}) : video.pause();
  }
}, {rootMargin: '200px'});
for (const video of document.querySelectorAll('video[data-src]')) inView.observe(video);
const token = document.body.dataset.token;
if (token) {
  const runBox = document.getElementById('run');
  const post = async (action, body) => {
    const response = await fetch('api/' + action, {method: 'POST', body: JSON.stringify(body),
      headers: {'Content-Type': 'application/json', 'X-Ai-Beats-Token': token}});
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || response.statusText);
    return answer;
  };
  document.addEventListener('click', async (event) => {
    const button = event.target.closest('button');
    if (!button) return;
    const item = button.dataset.item;
    try {
      if (button.classList.contains('reroll')) {
        runBox.textContent = 'Planning the re-roll of ' + item + '...';
        const plan = await post('plan', {item});
        if (!confirm('Re-roll ' + item + '? This regenerates:\\n' + plan.regenerates.join('\\n'))) {
          runBox.textContent = '';
          return;
        }
        await post('reroll', {item});
        button.classList.add('queued');
        button.textContent = 'Queued';
      } else if (button.classList.contains('keep')) {
        await post('keep', {item, keep: button.dataset.keep === 'true'});
        location.reload();
      }
    } catch (error) {
      runBox.textContent = 'Refused: ' + error.message;
    }
  });
  let seenRuns = null;
  const poll = async () => {
    try {
      const state = await (await fetch('api/state')).json();
      if (seenRuns !== null && state.runs_finished > seenRuns) { location.reload(); return; }
      seenRuns = state.runs_finished;
      if (state.running || state.queued.length || state.message)
        runBox.textContent = state.message + (state.queued.length ? '\\nqueued: ' + state.queued.join(', ') : '')
          + (state.log ? '\\n' + state.log : '');
    } catch (error) { runBox.textContent = 'The review server has stopped.'; return; }
    setTimeout(poll, 1000);
  };
  poll();
}
"""


def render_review_page(plan: dict, items: list[ReviewItem], token: str | None = None) -> str:
    """The page; with a token (from the review server) each item has its Re-roll and Keep buttons."""
    served = token is not None
    sections = []
    for stage in STAGES:
        cards = [item for item in items if item.planned.stage == stage]
        if not cards:
            continue
        made = sum(item.exists for item in cards)
        sections.append(f'<section id="stage-{stage}"><h2>{STAGES[stage].title} <small>{made} of {len(cards)} '
                        f'made</small></h2><div class="grid">{"".join(_card(item, served) for item in cards)}'
                        "</div></section>")
    missing = sum(not item.exists for item in items)
    how = ("Re-roll deletes an item and regenerates it and what it feeds; Keep pins its current variant."
           if served else "Opened from disk: to re-roll or keep items from this page, run "
           "<code>python -m aibeats review</code> with the arguments you give snakemake.")
    nav = " ".join(f'<a href="#stage-{stage}">{STAGES[stage].title}</a>' for stage in STAGES)
    # "</" must not close the script element early
    plan_json = json.dumps(plan).replace("</", "<\\/")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(plan["project"])}'
            f' - ai-beats review</title><meta name="viewport" content="width=device-width,initial-scale=1">'
            # an empty icon, so that the browser asks no server for /favicon.ico
            '<link rel="icon" href="data:,">'
            f"<style>{_STYLE}</style></head>"
            f'<body data-token="{html.escape(token or "")}"><header><h1>{html.escape(plan["project"])}: review</h1>'
            f"<p>{len(items) - missing} of {len(items)} files made"
            f"{f', {missing} missing' if missing else ''}. {how}</p><nav>{nav}</nav>"
            f'<div id="run"></div></header><main>{"".join(sections)}</main>'
            f'<script type="application/json" id="ai-beats-plan">{plan_json}</script>'
            f"<script>{_SCRIPT}</script></body></html>")


def write_review_page(project, page: Path, report_folder: Path) -> None:
    """The review page of a Project, as the review rule writes it; and a copy of it beside hard links to the
    project's files in report_folder, a folder that Snakemake's report can take whole (`htmlindex`), since a
    report holds files, not links to the project folder."""
    from aibeats.pins import read_pins
    from aibeats.pipeline import attempts_pattern

    plan = plan_review(project)
    items = review_state(project.root, plan, read_pins(project.root, attempts_pattern()))
    html_page = render_review_page(plan, items)
    with atomic_path(Path(page)) as temporary:
        temporary.write_text(html_page)
    with atomic_path(Path(report_folder)) as folder:
        folder.mkdir()
        (folder / Path(page).name).write_text(html_page)
        for item in items:
            if item.exists:
                linked = folder / item.planned.path
                linked.parent.mkdir(parents=True, exist_ok=True)
                _link_or_copy(project.root / item.planned.path, linked)


def _link_or_copy(source: Path, link: Path) -> None:
    """A hard link costs no space; where the filesystem has none, a copy."""
    import os
    import shutil

    try:
        os.link(source, link)
    except OSError:
        shutil.copyfile(source, link)
