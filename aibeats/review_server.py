"""`python -m aibeats review`: the review page served on 127.0.0.1, with Re-roll and Keep behind each item.

Python's own http.server is enough here, and adds no dependency: one user on the loopback interface, a page,
the project's media files and four small JSON actions. What keeps it safe:
- it binds to 127.0.0.1 only, and answers only requests whose Host is 127.0.0.1 or localhost at its port, so
  a web page cannot reach it through a DNS name that points at this machine;
- every action needs the per-launch secret token, sent in a header, which another web page cannot read nor
  send (a custom header makes the browser ask first, and the server grants no cross-origin request);
- an action names an item (img_3), never a path: only the items of the project's plan exist, and a file that is
  a symlink or leads outside the project is refused;
- a re-roll waits while any Snakemake run holds the project's lock, and re-rolls asked for during a run are
  queued and run together in one run after it.
"""

import hmac
import json
import re
import secrets
import subprocess
import sys
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from aibeats.errors import AiBeatsError
from aibeats.history import item_of
from aibeats.pins import read_pins, write_pins
from aibeats.pipeline import REVIEW_RULE, STAGES, attempts_pattern
from aibeats.review import read_plan, render_review_page, review_state
from aibeats.status import parse_summary

TOKEN_HEADER = "X-Ai-Beats-Token"
_ITEM_NAME = re.compile(r"[a-z]+_[0-9a-z_]+|mix|chapters|thumbnail")
_CONTENT_TYPES = {".wav": "audio/wav", ".png": "image/png", ".mp4": "video/mp4", ".txt": "text/plain; charset=utf-8"}
_MAX_BODY = 4096


class Refused(AiBeatsError):
    """An action the server will not carry out, with the HTTP status that says why."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST):
        super().__init__(message)
        self.status = status


class Review:
    """The project under review: its page, its files, and the Snakemake runs that re-roll them."""

    def __init__(self, page: Path, snakemake_args: list[str], workdir: Path):
        self.page, self.root = Path(page), Path(page).parent
        self.snakemake_args, self.workdir = list(snakemake_args), Path(workdir)
        self.token = secrets.token_urlsafe(32)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.queued: list[str] = []
        self.running = False
        self.runs_finished = 0
        self.message = ""
        self.log = ""
        self.run_log = self.root / "logs" / "review-runs.log"

    # The page and its files

    def render(self) -> str:
        plan = read_plan(self.page)
        return render_review_page(plan, review_state(self.root, plan, self.pins()), token=self.token)

    def pins(self) -> dict[str, int]:
        return read_pins(self.root, attempts_pattern())

    def planned_path(self, item: str) -> Path:
        """The file of one planned item. The name is only ever looked up, never used as a path."""
        if not isinstance(item, str) or not _ITEM_NAME.fullmatch(item):
            raise Refused(f"{item!r} is not an item name (such as img_3)")
        planned = {entry["item"]: entry["path"] for entry in read_plan(self.page)["items"]}
        if item not in planned:
            raise Refused(f"{item} is not an item of this project's plan", HTTPStatus.NOT_FOUND)
        path = self.root / planned[item]
        if path.is_symlink() or not path.resolve().is_relative_to(self.root.resolve()):
            raise Refused(f"{path} is a link or leads outside the project; it is left alone", HTTPStatus.FORBIDDEN)
        return path

    def served_file(self, url_path: str) -> Path:
        """A media file the page links to: only the planned items' own files."""
        wanted = unquote(url_path).lstrip("/")
        for entry in read_plan(self.page)["items"]:
            if entry["path"] == wanted:
                return self.planned_path(entry["item"])
        raise Refused(f"{wanted} is not a file of this project's plan", HTTPStatus.NOT_FOUND)

    # The actions

    def regenerates(self, item: str) -> list[str]:
        """What re-rolling an item regenerates, from Snakemake's plan with that file forced."""
        path = self.planned_path(item)
        result = subprocess.run([sys.executable, "-m", "snakemake", *self.snakemake_args, "--detailed-summary",
                                 "--quiet", "--forcerun", str(path)], cwd=self.workdir, capture_output=True,
                                text=True)
        if result.returncode != 0:
            raise Refused(f"snakemake could not plan the re-roll: {result.stderr.strip()[-2000:]}",
                          HTTPStatus.INTERNAL_SERVER_ERROR)
        rows = [row for row in parse_summary(result.stdout) if row.update_pending]
        order = {stage.rule: position for position, stage in enumerate(STAGES.values())}
        return [item_of(row.output) for row in sorted(rows, key=lambda row: order.get(row.rule, len(order)))
                if row.rule in order]

    def reroll(self, item: str) -> None:
        self.planned_path(item)
        if item in self.pins():
            raise Refused(f"{item} is kept; unkeep it to re-roll it", HTTPStatus.CONFLICT)
        with self._lock:
            if item not in self.queued:
                self.queued.append(item)
        self._wake.set()

    def keep(self, item: str, keep: bool) -> int | None:
        """Pin an item at the attempt its file was made with, or unpin it."""
        path = self.planned_path(item)
        pins = self.pins()
        if not keep:
            pins.pop(item, None)
            write_pins(self.root, pins)
            return None
        from aibeats.history import recorded_attempt
        from aibeats.provenance import read_recipe

        if not path.is_file():
            raise Refused(f"{item} has no file to keep", HTTPStatus.CONFLICT)
        # A text file (the chapters) holds no recipe: its history record says which attempt made it.
        attempt = (recorded_attempt(self.root / "history", item) or 0 if path.suffix == ".txt"
                   else int(read_recipe(path)["attempt"]))
        write_pins(self.root, {**pins, item: attempt})
        return attempt

    def state(self) -> dict:
        with self._lock:
            return {"running": self.running, "queued": list(self.queued), "runs_finished": self.runs_finished,
                    "message": self.message, "log": self.log}

    # The runs

    def snakemake_locked(self) -> bool:
        return any((self.workdir / ".snakemake" / "locks").glob("*.lock"))

    def run_queued(self) -> None:
        """Forever: wait for re-rolls, then delete their files and run Snakemake once for all of them."""
        while True:
            self._wake.wait()
            if self.snakemake_locked():
                with self._lock:
                    self.message = "Waiting: another Snakemake run holds this project's lock."
                time.sleep(2)
                continue
            with self._lock:
                items, self.queued = self.queued, []
                self._wake.clear()
                if not items:
                    continue
                self.running, self.log = True, ""
                self.message = f"Re-rolling {', '.join(items)}..."
            self._run(items)

    def _run(self, items: list[str]) -> None:
        for item in items:
            self.planned_path(item).unlink(missing_ok=True)
        self.run_log.parent.mkdir(parents=True, exist_ok=True)
        with self.run_log.open("w") as log:
            process = subprocess.Popen([sys.executable, "-m", "snakemake", *self.snakemake_args], cwd=self.workdir,
                                       stdout=log, stderr=subprocess.STDOUT)
            while process.poll() is None:
                time.sleep(0.5)
                self._follow()
        self._follow()
        with self._lock:
            self.running = False
            self.runs_finished += 1
            self.message = (f"Re-rolled {', '.join(items)}." if process.returncode == 0 else
                            f"The run failed (exit status {process.returncode}); see {self.run_log}.")

    def _follow(self) -> None:
        lines = self.run_log.read_text(errors="replace").splitlines()
        progress = [line for line in lines if "steps (" in line or line.startswith(("rule ", "ai-beats:"))]
        with self._lock:
            self.log = "\n".join(progress[-6:])


class _Handler(BaseHTTPRequestHandler):
    review: Review
    port: int

    def log_message(self, format, *args):  # noqa: A002 (the base class names it so)
        pass

    def _reply(self, status: HTTPStatus, body: bytes, content_type: str, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: HTTPStatus, answer: dict) -> None:
        self._reply(status, json.dumps(answer).encode(), "application/json")

    def _host_is_ours(self) -> bool:
        return self.headers.get("Host", "") in {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    def do_GET(self):  # noqa: N802 (http.server's name)
        if not self._host_is_ours():
            return self._json(HTTPStatus.FORBIDDEN, {"error": "unknown host"})
        path = urlsplit(self.path).path
        try:
            if path in ("/", "/review.html"):
                return self._reply(HTTPStatus.OK, self.review.render().encode(), "text/html; charset=utf-8")
            if path == "/api/state":
                return self._json(HTTPStatus.OK, self.review.state())
            return self._send_file(self.review.served_file(path))
        except Refused as refused:
            return self._json(refused.status, {"error": str(refused)})

    do_HEAD = do_GET

    def _send_file(self, path: Path) -> None:
        """The file, or the byte range a media player asks for."""
        if not path.is_file():
            return self._json(HTTPStatus.NOT_FOUND, {"error": f"{path.name} is missing"})
        data = path.read_bytes()
        content_type = _CONTENT_TYPES.get(path.suffix, "application/octet-stream")
        wanted = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if not wanted or not (wanted[1] or wanted[2]):
            return self._reply(HTTPStatus.OK, data, content_type, {"Accept-Ranges": "bytes"})
        start = int(wanted[1]) if wanted[1] else max(0, len(data) - int(wanted[2]))
        end = min(int(wanted[2]), len(data) - 1) if wanted[1] and wanted[2] else len(data) - 1
        if start > end:
            return self._reply(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE, b"", content_type,
                               {"Content-Range": f"bytes */{len(data)}"})
        return self._reply(HTTPStatus.PARTIAL_CONTENT, data[start:end + 1], content_type,
                           {"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{len(data)}"})

    def do_POST(self):  # noqa: N802
        if not self._host_is_ours():
            return self._json(HTTPStatus.FORBIDDEN, {"error": "unknown host"})
        if not hmac.compare_digest(self.headers.get(TOKEN_HEADER, ""), self.review.token):
            return self._json(HTTPStatus.FORBIDDEN, {"error": "missing or wrong token"})
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            return self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "request too large"})
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
            if not isinstance(request, dict):
                raise ValueError(request)
            status, answer = self._act(urlsplit(self.path).path, request.get("item"), request)
        except ValueError:
            status, answer = HTTPStatus.BAD_REQUEST, {"error": "the request is not a JSON object"}
        except Refused as refused:
            status, answer = refused.status, {"error": str(refused)}
        except AiBeatsError as error:
            status, answer = HTTPStatus.CONFLICT, {"error": str(error)}
        return self._json(status, answer)

    def _act(self, action: str, item, request: dict) -> tuple[HTTPStatus, dict]:
        if action == "/api/plan":
            return HTTPStatus.OK, {"regenerates": self.review.regenerates(item)}
        if action == "/api/reroll":
            self.review.reroll(item)
            return HTTPStatus.ACCEPTED, {"queued": self.review.state()["queued"]}
        if action == "/api/keep":
            return HTTPStatus.OK, {"kept": self.review.keep(item, request.get("keep") is True)}
        return HTTPStatus.NOT_FOUND, {"error": f"no action {action}"}


def review_page_of(snakemake_args: list[str], workdir: Path) -> Path:
    """Where the workflow, run with these arguments, writes its review page."""
    result = subprocess.run([sys.executable, "-m", "snakemake", *snakemake_args, "--detailed-summary", "--quiet"],
                            cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise AiBeatsError(f"snakemake {' '.join(snakemake_args)} cannot plan: {result.stderr.strip()[-2000:]}")
    pages = [row.output for row in parse_summary(result.stdout) if row.rule == REVIEW_RULE]
    if not pages:
        raise AiBeatsError("this workflow has no review page")
    page = Path(workdir) / pages[0]
    if not page.is_file():
        raise AiBeatsError(f"{page} does not exist yet: run snakemake {' '.join(snakemake_args)} first")
    return page


def serve_review(snakemake_args: list[str], port: int, workdir: Path = Path(".")) -> None:
    review = Review(review_page_of(snakemake_args, workdir), snakemake_args, workdir)
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    _Handler.review, _Handler.port = review, server.server_address[1]
    threading.Thread(target=review.run_queued, daemon=True).start()
    print(f"Reviewing {review.page.parent}: open http://127.0.0.1:{_Handler.port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
