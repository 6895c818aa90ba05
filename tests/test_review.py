"""The review page (from disk, in a real browser) and the review server's re-roll, keep and refusals, on the demo."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from aibeats.config import validate_config
from aibeats.errors import ConfigError
from aibeats.items import format_chapter_time
from aibeats.pins import read_pins, write_pins
from aibeats.pipeline import STAGES, attempts_pattern
from aibeats.plan import Project
from aibeats.provenance import read_recipe
from aibeats.review import PlannedItem, format_duration, plan_review, read_plan, render_review_page, review_state

from chromium import chromium, console_errors, require_chromium, screenshot
from workflow import demo_config, file_hashes, run_ok, snakemake

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DEMO = Project(validate_config(demo_config(), SCHEMA))
PAGE = DEMO.root / "review.html"


def test_each_items_inputs_are_what_snakemake_plans_it_from(demo_run):
    """Project.inputs_of, which says what an item feeds on the page, against Snakemake's own plan."""
    summary = snakemake(demo_run, "--detailed-summary", "--quiet")
    rows = {row["output_file"]: row["input-file(s)"] for row in
            (dict(zip(summary.stdout.splitlines()[0].split("\t"), line.split("\t"), strict=False))
             for line in summary.stdout.splitlines()[1:] if "\t" in line)}
    for stage in STAGES:
        for index in DEMO.indices(stage):
            planned = {path for path in rows[str(DEMO.output(stage, index))].split(",") if path}
            project_files = {path for path in planned if path.startswith(str(DEMO.root))}
            assert project_files == {str(path) for path in DEMO.inputs_of(stage, index)}, (stage, index)


def test_pins_are_attempts_and_the_config_wins(tmp_path):
    config = validate_config({**demo_config(), "project_dir": str(tmp_path), "attempts": {"img_2": 3}}, SCHEMA)
    write_pins(tmp_path / "demo", {"img_1": 2, "img_2": 5})
    project = Project.for_run(config, main_process=True)
    assert (project.attempt("image", 1), project.attempt("image", 2), project.attempt("image", 3)) == (2, 3, 0)
    assert read_pins(tmp_path / "demo", attempts_pattern()) == {"img_1": 2, "img_2": 5}


@pytest.mark.parametrize(("text", "error"), [
    ("- img_1\n", "holds list, expected item: attempt lines"),
    ("img_1: -1\n", "img_1: -1 is not an attempt"),
    ("picture_1: 2\n", "'picture_1' is not an item of a project"),
    ("img_1: [\n", "not readable as YAML"),
])
def test_a_bad_pins_file_is_named_with_what_it_should_hold(tmp_path, text, error):
    (tmp_path / "pins.yaml").write_text(text)
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'pins.yaml'}: ") + ".*" + re.escape(error)):
        read_pins(tmp_path, attempts_pattern())


def test_a_page_of_a_project_not_made_yet_shows_every_item_missing(tmp_path):
    config = validate_config({**demo_config(), "project_dir": str(tmp_path)}, SCHEMA)
    project = Project(config)
    plan = plan_review(project)
    page = render_review_page(plan, review_state(project.root, plan, {}))
    assert len(re.findall(r'class="card( wide)? missing"', page)) == len(plan["items"]) == 17
    assert "0 of 17 files made, 17 missing" in page
    # the plan travels in the page, even with a prompt that would close its script element
    plan["items"][0]["path"] = "music/</script>.wav"
    written = tmp_path / "review.html"
    written.write_text(render_review_page(plan, review_state(project.root, plan, {})))
    assert read_plan(written) == plan


def test_the_demo_page_from_disk_shows_every_item_with_players_and_no_errors(demo_run):
    require_chromium()
    with chromium() as driver:
        started = time.monotonic()
        driver.get((demo_run / PAGE).as_uri())
        loaded = time.monotonic() - started
        cards = driver.find_elements(By.CSS_SELECTOR, "article.card")
        assert len(cards) == 17 and not driver.find_elements(By.CSS_SELECTOR, "article.missing")
        # 2 tracks and 2 extended; 4 animations, 2 clips and the mix; 4 images and the thumbnail
        assert len(driver.find_elements(By.TAG_NAME, "audio")) == 4
        assert len(driver.find_elements(By.TAG_NAME, "video")) == 7
        assert len(driver.find_elements(By.TAG_NAME, "img")) == 5
        animation = driver.find_element(By.CSS_SELECTOR, "#anim_3 video")
        assert animation.get_attribute("loop") and animation.get_attribute("muted")
        facts = driver.find_element(By.ID, "img_3").text
        assert "Mystical Landscape, digital art." in facts and "attempt 0" in facts and "anim_3" in facts
        # each video loads once scrolled into view, and an animation plays there
        for video in driver.find_elements(By.TAG_NAME, "video"):
            driver.execute_script("arguments[0].scrollIntoView()", video)
            WebDriverWait(driver, 10).until(lambda d, v=video: d.execute_script(
                "return arguments[0].readyState >= 1", v))
        driver.execute_script("arguments[0].scrollIntoView()", animation)
        WebDriverWait(driver, 10).until(lambda d: d.execute_script("return !arguments[0].paused", animation))
        assert console_errors(driver) == []
        print(f"page loaded in {loaded:.2f} s; screenshot: {screenshot(driver, 'review-from-disk.png')}")


def test_a_file_deleted_after_the_page_was_written_shows_as_missing(demo_copy):
    require_chromium()
    (demo_copy / DEMO.animation(3)).unlink()
    with chromium() as driver:
        driver.get((demo_copy / PAGE).as_uri())
        driver.execute_script("document.getElementById('anim_3').scrollIntoView()")
        WebDriverWait(driver, 10).until(lambda d: "missing" in d.find_element(By.ID, "anim_3").get_attribute("class"))
        assert [card.get_attribute("id") for card in driver.find_elements(By.CSS_SELECTOR, "article.missing")] == [
            "anim_3"]


class ReviewServer:
    """`python -m aibeats review --port 0 --profile profiles/demo` in a copy of the demo run."""

    def __init__(self, workdir: Path):
        env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
        self.process = subprocess.Popen([sys.executable, "-m", "aibeats", "review", "--port", "0", "--profile",
                                         "profiles/demo"], cwd=workdir, env=env, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert found, f"the review server did not start: {line}"
        self.url, self.port = found[0], int(found[1])
        self.token = re.search(r'data-token="([^"]+)"', self.get("/")[1])[1]

    def get(self, path: str, headers: dict | None = None) -> tuple[int, str]:
        return self._send(urllib.request.Request(self.url + path.lstrip("/"), headers=headers or {}))

    def post(self, action: str, body: dict, token: str | None = None, headers: dict | None = None) -> tuple[int, dict]:
        headers = {"Content-Type": "application/json", **(headers or {})}
        if token is not None:
            headers["X-Ai-Beats-Token"] = token
        request = urllib.request.Request(f"{self.url}api/{action}", data=json.dumps(body).encode(), headers=headers)
        status, text = self._send(request)
        return status, json.loads(text)

    @staticmethod
    def _send(request) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def wait_for_runs(self, n: int, timeout: float = 600) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = json.loads(self.get("/api/state")[1])
            if state["runs_finished"] >= n:
                return state
            time.sleep(1)
        raise AssertionError(f"no run finished in {timeout} s: {state}")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture
def review_server(demo_copy):
    server = ReviewServer(demo_copy)
    yield server
    server.stop()


def clips_showing(animation: str) -> set[str]:
    return {DEMO.clip(i).name for i in DEMO.track_indices
            if animation in {name for name, _ in read_recipe(DEMO.clip(i)).get("animations", [])}}


def changed_files(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {Path(place).name for place in after if before.get(place) != after[place]}


def test_reroll_in_the_browser_regenerates_the_item_and_what_it_feeds_only(review_server, demo_copy, monkeypatch):
    require_chromium()
    monkeypatch.chdir(demo_copy)
    remade = {"img_2.png", "anim_2.mp4", "mix.mp4"} | clips_showing("anim_2.mp4")
    before = file_hashes(demo_copy)
    with chromium() as driver:
        driver.get(review_server.url)
        driver.find_element(By.CSS_SELECTOR, "#img_2 button.reroll").click()
        # the page asks first, listing what will be regenerated, from Snakemake's plan
        alert = WebDriverWait(driver, 120).until(expected_conditions.alert_is_present())
        assert set(alert.text.split("\n")[1:]) == {name.split(".")[0] for name in remade}
        alert.accept()
        # the page reloads by itself when the run is over, and shows the new variant
        WebDriverWait(driver, 600, poll_frequency=1, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: "attempt 1" in d.find_element(By.ID, "img_2").text)
        assert console_errors(driver) == []
        print(f"screenshot: {screenshot(driver, 'review-served.png')}")
    assert changed_files(before, file_hashes(demo_copy)) == remade
    assert read_recipe(demo_copy / DEMO.image(2))["attempt"] == 1


def test_keep_pins_the_variant_through_a_lost_history_and_a_deletion(review_server, demo_copy):
    require_chromium()
    kept = (demo_copy / DEMO.image(3)).read_bytes()
    with chromium() as driver:
        driver.get(review_server.url)
        driver.find_element(By.CSS_SELECTOR, "#img_3 button.keep").click()
        WebDriverWait(driver, 30, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: "kept" in d.find_element(By.ID, "img_3").get_attribute("class"))
        assert driver.find_element(By.CSS_SELECTOR, "#img_3 button.reroll").get_attribute("disabled")
    assert read_pins(demo_copy / DEMO.root, attempts_pattern()) == {"img_3": 0}
    status, answer = review_server.post("reroll", {"item": "img_3"}, review_server.token)
    assert (status, answer) == (409, {"error": "img_3 is kept; unkeep it to re-roll it"})
    shutil.rmtree(demo_copy / DEMO.history_dir)
    before = file_hashes(demo_copy)
    run_ok(demo_copy)
    assert file_hashes(demo_copy) == before
    # deleted, a kept item comes back as the same variant, where it would otherwise be re-rolled
    (demo_copy / DEMO.image(3)).unlink()
    run_ok(demo_copy)
    assert (demo_copy / DEMO.image(3)).read_bytes() == kept


def test_requests_without_the_token_or_outside_the_plan_are_refused(review_server, demo_copy):
    server = review_server
    (demo_copy / DEMO.image(4)).unlink()
    (demo_copy / DEMO.image(4)).symlink_to((demo_copy / DEMO.image(1)).resolve())
    before = file_hashes(demo_copy)
    refusals = [
        (server.post("reroll", {"item": "img_2"}), 403),
        (server.post("reroll", {"item": "img_2"}, token="guess"), 403),
        (server.post("reroll", {"item": "img_2"}, server.token, headers={"Host": f"evil.example:{server.port}"}),
         403),
        (server.post("reroll", {"item": "../music/track_1"}, server.token), 400),
        (server.post("reroll", {"item": "images/img_2.png"}, server.token), 400),
        (server.post("reroll", {"item": "img_99"}, server.token), 404),
        (server.post("reroll", {"item": "img_4"}, server.token), 403),
        (server.post("keep", {"item": "img_4", "keep": True}, server.token), 403),
    ]
    assert [status for (status, _), _ in refusals] == [expected for _, expected in refusals]
    assert "a link or leads outside the project" in refusals[6][0][1]["error"]
    assert server.get("/config.yaml")[0] == 404
    assert server.get("/../config.yaml")[0] == 404
    assert server.get("/images/img_4.png")[0] == 403
    assert server.get("/", headers={"Host": "evil.example"})[0] == 403
    time.sleep(2)
    state = json.loads(server.get("/api/state")[1])
    assert (state["running"], state["queued"], state["runs_finished"]) == (False, [], 0)
    assert file_hashes(demo_copy) == before
    assert not (demo_copy / DEMO.root / "pins.yaml").exists()


def test_rerolls_wait_while_another_snakemake_run_holds_the_lock_then_run_together(review_server, demo_copy):
    locks = demo_copy / ".snakemake" / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    (locks / "0.input.lock").write_text("held by another run")
    for item in ("img_1", "img_3"):
        assert review_server.post("reroll", {"item": item}, review_server.token)[0] == 202
    time.sleep(3)
    state = json.loads(review_server.get("/api/state")[1])
    assert "another Snakemake run holds" in state["message"] and state["runs_finished"] == 0
    assert (demo_copy / DEMO.image(1)).exists() and (demo_copy / DEMO.image(3)).exists()
    (locks / "0.input.lock").unlink()
    # both in one run
    assert review_server.wait_for_runs(1)["message"] == "Re-rolled img_1, img_3."
    assert [read_recipe(demo_copy / DEMO.image(j))["attempt"] for j in (1, 2, 3, 4)] == [1, 0, 1, 0]
    time.sleep(2)
    assert json.loads(review_server.get("/api/state")[1])["runs_finished"] == 1


def test_snakemakes_report_has_each_stage_with_its_recipes_and_the_review_page_with_its_files(demo_copy):
    run_ok(demo_copy, "--report", "report.zip")
    with zipfile.ZipFile(demo_copy / "report.zip") as report:
        names = report.namelist()
        page = report.read("report/report.html").decode()
    for stage in STAGES.values():
        assert f'"{stage.title}"' in page, stage.name
    seed = read_recipe(demo_copy / DEMO.image(3))["seed"]
    assert f"img_3.png: &quot;Mystical Landscape, digital art.&quot;, seed {seed} (attempt 0)" in page
    # the review page, with every file it plays at the place its relative links name
    folder = next(name for name in names if name.endswith("/review.html")).removesuffix("review.html")
    beside = {name.removeprefix(folder) for name in names if name.startswith(folder)}
    assert {"review.html", "images/img_3.png", "animations/anim_3.mp4", "mix/mix.mp4", "music/track_1.wav"} <= beside


def long_project(tmp_path: Path) -> tuple[Project, dict, list]:
    """A one-hour project (20 tracks of 180 s, 25 images) as its files' recipes describe it, with stand-in
    media: a page of this size is about its cards, not its players."""
    from PIL import Image

    from aibeats.audio import write_wav
    from aibeats.review import ReviewItem, _facts
    from aibeats.video_io import write_animation

    config = validate_config({"project_dir": str(tmp_path), "project_name": "lofi-hour", "music": {
        "n_music": 20, "music_duration": 180}, "image": {"n_images": 5, "prompt_modifiers": [
            "rainy night window, neon reflections", "coffee shop at dawn", "late train through the city",
            "snowy forest cabin", "rooftop at sunset"]},
        "mix": {"chapter_titles": "{track}. {modifier}"}}, SCHEMA)
    project = Project(config)
    plan = plan_review(project)
    video = tmp_path / "stand-in.mp4"
    write_animation([Image.new("RGB", (128, 72), (40 * k % 255, 90, 140)) for k in range(6)], video, 6, {})
    items = []
    for planned in map(lambda item: PlannedItem(**item), plan["items"]):
        path = project.root / planned.path
        path.parent.mkdir(parents=True, exist_ok=True)
        stage, index = planned.stage, int(planned.item.rsplit("_", 1)[1]) if planned.item[-1].isdigit() else 1
        recipe = project.planned_recipe(stage, index).as_params()
        if path.suffix == ".wav":
            write_wav(path, np.zeros(32000), 32000, recipe)
        elif path.suffix == ".png":
            Image.new("RGB", (128, 72), (30, 30 + 8 * index % 200, 90)).save(path)
        elif path.suffix == ".mp4":
            shutil.copy(video, path)
        else:
            path.write_text("".join(f"{format_chapter_time(start)} {title}\n" for start, title in recipe["chapters"]))
        text = path.read_text() if path.suffix == ".txt" else None
        items.append(ReviewItem(planned, exists=True, facts=[] if text else _facts(recipe, path), attempt=0,
                                kept=False, text=text))
    return project, plan, items


def test_a_long_projects_cards_read_as_a_person_reads_them(tmp_path):
    """Durations as m:ss or h:mm:ss, a clip's 21 pieces summarised, the mix and chapters on rows of their own."""
    assert [format_duration(s) for s in (5, 59.6, 180, 3524.0, 3600, 10692.4)] == [
        "0:05", "1:00", "3:00", "58:44", "1:00:00", "2:58:12"]
    project, plan, items = long_project(tmp_path)
    page = render_review_page(plan, items)
    mix = page[page.index('id="mix"'):]
    assert "<dd>58:44</dd>" in mix[:mix.index("</article>")]
    clip = page[page.index('id="clip_7"'):]
    clip = clip[:clip.index("</article>")]
    assert ("<details><summary>anim_2, anim_7, anim_12, anim_22, anim_17 in turn: 21 pieces of 52 frames (the last "
            "40)</summary>") in clip
    assert clip.count("frames)") == 21
    assert 'class="card wide" id="chapters"' in page and 'class="card wide" id="mix"' in page
    assert "<dd>3:00</dd>" in clip


def test_a_long_projects_page_fits_its_text_in_the_browser(tmp_path):
    require_chromium()
    project, plan, items = long_project(tmp_path)
    page = project.root / "review.html"
    page.write_text(render_review_page(plan, items))
    with chromium(width=1280, height=900) as driver:
        driver.get(page.as_uri())
        overflowing = driver.execute_script(
            "return [...document.querySelectorAll('article.card')].filter(c => c.scrollWidth > c.clientWidth + 1)"
            ".map(c => c.id)")
        assert overflowing == []
        chapters = driver.find_element(By.CSS_SELECTOR, "#chapters pre")
        font = driver.execute_script("return parseFloat(getComputedStyle(arguments[0]).fontSize)", chapters)
        # one line per chapter (a line is about 1.2 times the font's size): no title wraps
        assert chapters.size["height"] < 20 * 1.5 * font
        grid = driver.find_element(By.CSS_SELECTOR, "#stage-chapters .grid")
        assert driver.find_element(By.ID, "chapters").size["width"] == grid.size["width"]
        summary = driver.find_element(By.CSS_SELECTOR, "#clip_7 details summary")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
        summary.click()
        assert "anim_22 (52 frames)" in driver.find_element(By.CSS_SELECTOR, "#clip_7 details").text
        assert console_errors(driver) == []
        print(f"screenshot: {screenshot(driver, 'review-one-hour.png')}")
