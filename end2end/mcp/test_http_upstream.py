"""An upstream reached over Streamable HTTP with a bearer token: registered
with `belay mcp add-upstream --url … --bearer-file …`, its tools called
through Belay like a stdio upstream's, the token sent but never shown."""

import subprocess
import sys

import httpx
import pytest

from conftest import UPSTREAM, Belay, free_port, text, wait_for_port

pytestmark = pytest.mark.anyio
TOKEN = "upstream-t0ken-not-for-logs"


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("remote")
    token_file = tmp / "upstream.token"
    token_file.write_text(TOKEN + "\n")
    b = Belay(tmp, 30)
    port = free_port()
    upstream = subprocess.Popen(
        [sys.executable, str(UPSTREAM), str(b.log), "--http", str(port), str(token_file)],
        stdout=subprocess.DEVNULL, stderr=open(tmp / "upstream.log", "w"))
    try:
        wait_for_port(port, upstream, "the HTTP upstream")
        b.url = f"http://127.0.0.1:{port}/mcp"
        b.user("lead1", "lead")
        b.user("lead2", "lead")
        b.user("rev", "reviewer")
        b.agent("bot", "act_with_approval", upstreams=())
        b.added = b.cli("mcp", "add-upstream", "--agent", "bot", "--name", "remote",
                        "--url", b.url, "--bearer-file", str(token_file))
        b.start()
        b.grant("bot", "mcp.remote.read_note")
        b.use_once("bot", "mcp.remote.read_note")
        yield b
    finally:
        b.stop()
        upstream.terminate()
        upstream.wait(timeout=10)


async def test_the_upstream_wants_its_token(remote):
    async with httpx.AsyncClient() as http:
        res = await http.post(remote.url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert res.status_code == 401


async def test_registering_lists_its_tools_and_never_shows_the_token(remote):
    assert "read_note -> mcp.remote.read_note: added to the catalog (no risk triggers)" in remote.added
    listed = remote.cli("mcp", "list", "--agent", "bot")
    assert f"remote: {remote.url} (bearer token from file:" in listed, listed
    assert TOKEN not in remote.added + listed
    [(url, bearer, command)] = remote.query("SELECT url, bearer_from, command FROM mcp_upstreams")
    assert (url, command) == (remote.url, "[]") and bearer.startswith("file:/")
    assert TOKEN not in remote.query("SELECT group_concat(detail) FROM audit_events")[0][0]


async def test_a_call_goes_through_belay_to_the_http_upstream(remote):
    async with remote.mcp("bot") as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert "Belay: runs at once" in tools["read_note"].description
        result = await s.call_tool("read_note", {"name": "remote"})
        assert not result.is_error, text(result)
        assert "note remote: buy milk" in text(result)
    assert remote.calls("read_note") == [{"tool": "read_note", "args": {"name": "remote"}}]
    id, state = (await remote.settled("mcp.remote.read_note"))[-1]
    assert state == "succeeded"
    assert remote.sent(id)["params"]["arguments"] == {"name": "remote"}
    assert TOKEN not in (remote.dir / "serve.log").read_text()
