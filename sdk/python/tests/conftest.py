"""A real Belay for the SDK tests.

One ``belay serve`` (the debug binary the Rust tests build) for the whole
session, on 127.0.0.1 with a random free port and a fresh SQLite database
in a temp folder. People and agents are made with the CLI, as an operator
would; reviewers and leads act through the browser's server functions
(``/rpc/...``), the way ``server/tests/http/common.rs`` does.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import httpx
import pytest

from belay_client import Action, Belay

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))

PASSWORD = "sdk tests correct horse battery staple"
SPONSOR, LEAD2, REVIEWER, REVIEWER2 = "sponsor", "lead2", "reviewer", "reviewer2"


def belay_binary() -> Path:
    path = Path(os.environ.get("BELAY_BIN") or REPO / "target" / "debug" / "belay")
    if not path.is_file():
        pytest.exit(
            f"no Belay server binary at {path}: build it first with "
            "`cargo test -p app -p belay --features app/ssr --no-run` (or set BELAY_BIN)",
            returncode=2,
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A real PNG (RGB, all red), made by hand."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass
class Agent:
    id: str
    name: str
    key: str


class Browser:
    """A person's browser: cookies kept, same-origin server-function calls."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.username = username
        self.http = httpx.Client(base_url=base, headers={"Origin": base}, timeout=60)
        res = self.rpc("login", {"username": username, "password": PASSWORD, "next": ""})
        assert res.status_code == 200, f"sign-in as {username}: {res.status_code} {res.text}"

    def rpc(self, endpoint: str, form: dict[str, str]) -> httpx.Response:
        return self.http.post(f"/rpc/{endpoint}", data=form)

    def page(self, action_id: str) -> dict[str, Any]:
        res = self.rpc("approvals/get", {"id": action_id})
        assert res.status_code == 200, res.text
        return dict(res.json())

    def seen(self, action_id: str) -> str:
        """The payload hash the request page shows: a decision binds to it."""
        return str(self.page(action_id)["action"]["payload_hash"])

    def approve(self, action_id: str, params: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        form = {"id": action_id, "seen": self.seen(action_id)}
        if params is not None:
            form["params"] = json.dumps(params)
        res = self.rpc("approvals/approve", form)
        assert res.status_code == 200, f"approve: {res.status_code} {res.text}"
        return dict(res.json())

    def reject(self, action_id: str, reason: str) -> dict[str, Any]:
        form = {"id": action_id, "seen": self.seen(action_id), "reason": reason}
        res = self.rpc("approvals/reject", form)
        assert res.status_code == 200, f"reject: {res.status_code} {res.text}"
        return dict(res.json())

    def close(self) -> None:
        self.http.close()


class BelayServer:
    def __init__(self, binary: Path, workdir: Path) -> None:
        self.binary = binary
        self.dir = workdir
        self.db_url = f"sqlite://{workdir}/belay.db"
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.base_url = ""
        self.log_path = workdir / "server.log"
        self._browsers: dict[str, Browser] = {}

    # -- the CLI ----------------------------------------------------------------

    def cli(self, *args: str, stdin: Optional[str] = None) -> str:
        res = subprocess.run(
            [str(self.binary), *args, "--database-url", self.db_url],
            input=stdin.encode() if stdin is not None else None,
            capture_output=True,
            timeout=60,
            env={**os.environ, "RUST_LOG": "warn"},
        )
        out = res.stdout.decode()
        assert res.returncode == 0, f"belay {' '.join(args)}: {res.stderr.decode()}{out}"
        return out

    def create_user(self, username: str, role: str) -> None:
        self.cli("user", "create", "--username", username, "--role", role, "--password-stdin",
                 stdin=PASSWORD + "\n")

    def create_agent(self, stage: str = "act_with_approval", *, sponsor: str = SPONSOR) -> Agent:
        name = f"sdk-{stage.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
        out = self.cli("agent", "create", "--name", name, "--sponsor", sponsor, "--stage", stage,
                       "--purpose", "SDK tests")
        agent_id = key = ""
        for line in out.splitlines():
            if line.startswith("id:"):
                agent_id = line.split(":", 1)[1].strip()
            if "API key" in line:
                key = line.rsplit(" ", 1)[1].strip()
        assert agent_id and key.startswith("belay_"), out
        return Agent(agent_id, name, key)

    # -- the server -------------------------------------------------------------

    def start(self) -> None:
        site = self.dir / "site"
        site.mkdir(exist_ok=True)
        for _ in range(3):
            port = free_port()
            log = open(self.log_path, "ab")
            self.process = subprocess.Popen(
                [str(self.binary), "serve", "--database-url", self.db_url,
                 "--addr", f"127.0.0.1:{port}", "--site-root", str(site)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "RUST_LOG": "warn"},
            )
            log.close()
            self.base_url = f"http://127.0.0.1:{port}"
            if self._ready():
                return
            self.stop()
        raise RuntimeError(f"belay serve did not start; its log:\n{self.log()}")

    def _ready(self) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.base_url}/api/v1/openapi.json", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        for b in self._browsers.values():
            b.close()
        self._browsers.clear()
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    # -- people -----------------------------------------------------------------

    def browser(self, username: str) -> Browser:
        if username not in self._browsers:
            self._browsers[username] = Browser(self.base_url, username)
        return self._browsers[username]

    def client(self, agent: Agent, **kwargs: Any) -> Belay:
        return Belay(self.base_url, agent.key, **kwargs)

    def approve(self, action_id: str, params: Optional[dict[str, Any]] = None) -> None:
        """Approve as reviewers until the request is approved (some rules need two)."""
        first = self.browser(REVIEWER).approve(action_id, params)
        if first["state"] == "pending_approval":
            self.browser(REVIEWER2).approve(action_id)

    def reject(self, action_id: str, reason: str) -> None:
        self.browser(REVIEWER).reject(action_id, reason)

    def grant(self, agent: Agent, capability: str, **fields: str) -> None:
        """A lead grants the capability; a second lead approves the wider scope."""
        form = {"agent_id": agent.id, "capability": capability, "stage": "", "max_per_hour": "",
                "bounds": "", "targets": "", "expires_on": "", "reason": "the SDK tests need it"}
        form.update(fields)
        res = self.browser(SPONSOR).rpc("scope/save", form)
        assert res.status_code == 200, f"scope/save: {res.status_code} {res.text}"
        saved = res.json()
        if "Proposed" in saved:
            change = saved["Proposed"]["change_id"]
            res = self.browser(LEAD2).rpc(
                "changes/decide", {"id": change, "verdict": "approve", "reason": "fine"}
            )
            assert res.status_code == 200, f"changes/decide: {res.status_code} {res.text}"

    def allow(self, agent: Agent, capability: str = "docs.summarize") -> None:
        """Make ``capability`` (one without risk triggers) allowed outright for the agent:
        granted, and its first use approved."""
        self.grant(agent, capability)
        with self.client(agent) as belay:
            first = belay.submit(capability, "first-use", "first use, approved by the tests")
            assert first.state == "pending_approval", first
            self.approve(first.id)
            belay.claim(first.id)
            belay.report_success(first.id, "done")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BelayServer]:
    workdir = tmp_path_factory.mktemp("belay")
    srv = BelayServer(belay_binary(), workdir)
    for username, role in ((SPONSOR, "lead"), (LEAD2, "lead"), (REVIEWER, "reviewer"),
                           (REVIEWER2, "reviewer")):
        srv.create_user(username, role)
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
        if os.environ.get("BELAY_KEEP_TEST_DB") is None:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def agent(server: BelayServer) -> Agent:
    """A fresh agent at act_with_approval, with no grants."""
    return server.create_agent("act_with_approval")


@pytest.fixture
def belay(server: BelayServer, agent: Agent) -> Iterator[Belay]:
    with server.client(agent) as client:
        yield client


class Later:
    """Runs something shortly, on another thread (a reviewer deciding while the
    agent waits); ``join`` waits for all of it. Errors on those threads fail the test."""

    def __init__(self) -> None:
        self.timers: list[threading.Timer] = []

    def run(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        timer = threading.Timer(delay, fn, args=args)
        self.timers.append(timer)
        timer.start()

    def join(self) -> None:
        for timer in self.timers:
            timer.join()


@pytest.fixture
def later() -> Iterator[Later]:
    pending = Later()
    try:
        yield pending
    finally:
        pending.join()


class RecordingBelay(Belay):
    """A client that remembers every request it submitted (for guard tests)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.submitted: list[Action] = []

    def submit(self, *args: Any, **kwargs: Any) -> Action:
        action = super().submit(*args, **kwargs)
        self.submitted.append(action)
        return action
