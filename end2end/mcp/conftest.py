"""A real Belay (`target/debug/belay serve`) on a free loopback port with a
fresh SQLite database, people and agents registered with the CLI, and the
test upstream (`upstream_server.py`) registered for the agents."""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import aclosing, asynccontextmanager, closing
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parents[2]
BELAY = Path(os.environ.get("BELAY_BIN", ROOT / "target" / "debug" / "belay"))
UPSTREAM = Path(__file__).resolve().parent / "upstream_server.py"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def anyio_backend():
    return "asyncio"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str) -> None:
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"{what} exited with {proc.returncode}")
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


class Belay:
    """One server and its database; one method per thing a test does."""

    def __init__(self, tmp: Path, wait_secs: int, bin: Path = BELAY):
        self.bin = bin
        self.dir = tmp
        self.db_path = tmp / "belay.db"
        self.env = {**os.environ, "DATABASE_URL": f"sqlite://{self.db_path}", "RUST_LOG": "warn"}
        self.log = tmp / "upstream-calls.jsonl"
        self.log.touch()
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.wait_secs = wait_secs
        self.keys: dict[str, str] = {}
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [str(self.bin), *args], env=self.env, input=stdin, capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, f"belay {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def user(self, name: str, role: str) -> None:
        self.cli("user", "create", "--username", name, "--role", role, "--password-stdin", stdin=PASSWORD)

    def agent(self, name: str, stage: str, upstreams: tuple[str, ...] = ("notes",)) -> str:
        out = self.cli("agent", "create", "--name", name, "--sponsor", "lead1", "--stage", stage)
        key = out.strip().splitlines()[-1].split(": ")[-1]
        self.keys[name] = key
        for upstream in upstreams:
            self.cli("mcp", "add-upstream", "--agent", name, "--name", upstream, "--",
                     sys.executable, str(UPSTREAM), str(self.log))
        return key

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(self.bin), "serve", "--addr", f"127.0.0.1:{self.port}",
             "--mcp-wait-secs", str(self.wait_secs)],
            env=self.env, cwd=self.dir, stdout=subprocess.DEVNULL, stderr=open(self.dir / "serve.log", "w"),
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                assert self.proc.poll() is None, (self.dir / "serve.log").read_text()
                time.sleep(0.1)
        raise RuntimeError("belay serve did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    # What the upstream received, and what Belay recorded.

    def calls(self, tool: str | None = None) -> list[dict]:
        lines = [json.loads(l) for l in self.log.read_text().splitlines() if l.strip()]
        return [c for c in lines if tool is None or c["tool"] == tool]

    def query(self, sql: str, *args) -> list[tuple]:
        with sqlite3.connect(self.db_path, timeout=10) as db:
            return db.execute(sql, args).fetchall()

    def requests(self, capability: str) -> list[tuple]:
        return self.query(
            "SELECT id, state FROM action_requests WHERE capability = ? ORDER BY created_at", capability
        )

    async def settled(self, capability: str, timeout: float = 10) -> list[tuple]:
        """`requests`, once no call is still `executing`: Belay records a
        call's outcome just after the agent has its answer."""
        import anyio

        deadline = time.time() + timeout
        while (rows := self.requests(capability)) and any(s == "executing" for _, s in rows):
            assert time.time() < deadline, f"a call to {capability} never got its outcome: {rows}"
            await anyio.sleep(0.05)
        return rows

    def sent(self, id: str) -> dict:
        """The evidence a gateway call was recorded with: the call as sent."""
        [(kind, media, content)] = self.query(
            "SELECT kind, media_type, content FROM evidence WHERE action_id = ?", id)
        assert (kind, media) == ("request_log", "application/json")
        return json.loads(content)

    async def pending(self, capability: str, timeout: float = 20) -> str:
        """The id of the first request for `capability` waiting for approval."""
        import anyio

        deadline = time.time() + timeout
        while time.time() < deadline:
            rows = self.query(
                "SELECT id FROM action_requests WHERE capability = ? AND state = 'pending_approval' "
                "ORDER BY created_at", capability)
            if rows:
                return rows[0][0]
            await anyio.sleep(0.1)
        raise AssertionError(f"no request for {capability} waits for approval")

    # People, through the browser's front door.

    async def browser(self, username: str) -> httpx.AsyncClient:
        b = httpx.AsyncClient(base_url=self.base, headers={"Origin": self.base}, timeout=30)
        res = await b.post("/rpc/login", data={"username": username, "password": PASSWORD, "next": ""})
        assert res.status_code == 200, res.text
        return b

    async def approve(self, id: str, params: dict | None = None, by: str = "rev") -> None:
        async with aclosing(await self.browser(by)) as b:
            page = await b.post("/rpc/approvals/get", data={"id": id})
            assert page.status_code == 200, page.text
            form = {"id": id, "seen": page.json()["action"]["payload_hash"]}
            if params is not None:
                form["params"] = json.dumps(params)
            res = await b.post("/rpc/approvals/approve", data=form)
            assert res.status_code == 200, res.text

    async def reject(self, id: str, reason: str) -> None:
        async with aclosing(await self.browser("rev")) as b:
            page = await b.post("/rpc/approvals/get", data={"id": id})
            seen = page.json()["action"]["payload_hash"]
            res = await b.post("/rpc/approvals/reject", data={"id": id, "seen": seen, "reason": reason})
            assert res.status_code == 200, res.text

    def grant(self, agent: str, capability: str) -> None:
        """lead1 grants, lead2 approves the change (two people raise trust)."""
        agent_id = self.query("SELECT id FROM agents WHERE name = ?", agent)[0][0]
        with closing(self.sync_browser("lead1")) as b:
            res = b.post("/rpc/scope/save", data={
                "agent_id": agent_id, "capability": capability, "stage": "", "max_per_hour": "",
                "bounds": "", "targets": "", "expires_on": "", "reason": "the MCP tests use it"})
            assert res.status_code == 200, res.text
            change = res.json()["Proposed"]["change_id"]
        with closing(self.sync_browser("lead2")) as b:
            res = b.post("/rpc/changes/decide", data={
                "id": change, "verdict": "approve", "reason": "fine", "override_reason": ""})
            assert res.status_code == 200, res.text

    def use_once(self, agent: str, capability: str) -> None:
        """Past the first-use checkpoint: one request over the REST API, approved."""
        res = httpx.post(f"{self.base}/api/v1/actions", headers={"Authorization": f"Bearer {self.keys[agent]}"},
                         json={"capability": capability, "target": "notes", "summary": "first use"}, timeout=30)
        assert res.status_code == 201, res.text
        id = res.json()["id"]
        with closing(self.sync_browser("rev")) as b:
            seen = b.post("/rpc/approvals/get", data={"id": id}).json()["action"]["payload_hash"]
            res = b.post("/rpc/approvals/approve", data={"id": id, "seen": seen})
            assert res.status_code == 200, res.text

    def sync_browser(self, username: str) -> httpx.Client:
        b = httpx.Client(base_url=self.base, headers={"Origin": self.base}, timeout=30)
        res = b.post("/rpc/login", data={"username": username, "password": PASSWORD, "next": ""})
        assert res.status_code == 200, res.text
        return b

    @asynccontextmanager
    async def mcp(self, agent: str):
        http = httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {self.keys[agent]}"},
            timeout=httpx2.Timeout(30, read=120),
        )
        async with http:
            async with streamable_http_client(f"{self.base}/mcp", http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    yield session


def setup(tmp: Path, wait_secs: int) -> Belay:
    belay = Belay(tmp, wait_secs)
    belay.user("lead1", "lead")
    belay.user("lead2", "lead")
    belay.user("rev", "reviewer")
    belay.agent("bot", "act_with_approval")
    belay.agent("watcher", "observe")
    belay.agent("drafter", "draft")
    belay.agent("multi", "act_with_approval", ("notes", "archive"))
    belay.start()
    try:
        belay.grant("bot", "mcp.notes.read_note")
        belay.grant("bot", "mcp.notes.delete_note")
        belay.use_once("bot", "mcp.notes.read_note")
    except BaseException:
        belay.stop()
        raise
    return belay


@pytest.fixture(scope="session")
def belay(tmp_path_factory):
    """Held calls wait up to 30 s for a reviewer."""
    b = setup(tmp_path_factory.mktemp("belay"), 30)
    yield b
    b.stop()


@pytest.fixture(scope="session")
def impatient(tmp_path_factory):
    """Held calls wait 2 s, then tell the agent to call again."""
    b = setup(tmp_path_factory.mktemp("impatient"), 2)
    yield b
    b.stop()


def text(result) -> str:
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")
