"""Belay's MCP gateway overhead for an allowed tool call, against the same
call straight to the upstream server, in one run (issue 12: goal <= 2 ms
added at p50).

Usage: cargo build --release -p belay && BELAY_BIN=target/release/belay .tools/venv-mcp/bin/python end2end/mcp/bench.py

The upstream is `upstream_server.py` (its read-only tool `read_note`, which
appends each call to a log file). Timed, each from one `mcp` ClientSession,
calls interleaved round by round so every path sees the same machine:
  direct  the upstream served by FastMCP itself over Streamable HTTP;
  belay   Belay's `/mcp` over Streamable HTTP, Belay talking to the upstream
          over stdio; the agent is granted the tool, past its first use;
  stdio   (reference) the upstream over stdio, no HTTP at all;
  before  (with BELAY_BIN_BEFORE=<another belay binary>) the `belay` path
          through that build, in the same run: a before/after comparison
          under the same load.
"""

import logging
import math
import shutil
import os
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WARMUP, N = 30, 300
TOOL, ARGS = "read_note", {"name": "shopping"}


def serve_direct(port: int, log: str) -> None:
    """Child mode: upstream_server.py's FastMCP app over Streamable HTTP."""
    sys.argv = [str(HERE / "upstream_server.py"), log]
    sys.path.insert(0, str(HERE))
    from upstream_server import server

    server.run("streamable-http", host="127.0.0.1", port=port)


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    serve_direct(int(sys.argv[2]), sys.argv[3])
    sys.exit(0)

# BELAY_BIN as conftest reads it, made absolute (Belay runs in its own folder).
os.environ["BELAY_BIN"] = str(Path(os.environ.get("BELAY_BIN", ROOT / "target/release/belay")).resolve())
sys.path.insert(0, str(HERE))

import anyio  # noqa: E402
import httpx2  # noqa: E402
from conftest import BELAY, UPSTREAM, Belay, free_port, text, wait_for_port  # noqa: E402
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402


async def http_session(stack: AsyncExitStack, url: str, headers: dict | None = None) -> ClientSession:
    http = await stack.enter_async_context(
        httpx2.AsyncClient(headers=headers or {}, timeout=httpx2.Timeout(30, read=120)))
    read, write = await stack.enter_async_context(streamable_http_client(url, http_client=http))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


async def stdio_session(stack: AsyncExitStack, log: Path) -> ClientSession:
    params = StdioServerParameters(command=sys.executable, args=[str(UPSTREAM), str(log)])
    read, write = await stack.enter_async_context(stdio_client(params))
    session = await stack.enter_async_context(ClientSession(read, write))
    await session.initialize()
    return session


async def one_call(session: ClientSession) -> int:
    """One call_tool round trip, in nanoseconds; the answer is checked."""
    t0 = time.perf_counter_ns()
    result = await session.call_tool(TOOL, ARGS)
    took = time.perf_counter_ns() - t0
    said = text(result)
    if result.is_error or "note shopping: buy milk" not in said:
        raise RuntimeError(f"the call failed: {said}")
    return took


def pct(sorted_ns: list[int], q: float) -> float:
    """Nearest-rank percentile, in ms."""
    k = math.ceil(round(q * len(sorted_ns), 9)) - 1
    return sorted_ns[k] / 1e6


async def measure(sessions: dict[str, ClientSession]) -> dict[str, list[int]]:
    times: dict[str, list[int]] = {name: [] for name in sessions}
    for round_ in range(WARMUP + N):
        # Rotate who goes first so no path always follows another.
        names = list(sessions)
        names = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in names:
            took = await one_call(sessions[name])
            if round_ >= WARMUP:
                times[name].append(took)
    return {name: sorted(t) for name, t in times.items()}


def report(times: dict[str, list[int]], belay: Belay) -> None:
    print(f"\n{N} sequential calls of {TOOL!r} per path after {WARMUP} warm-up calls, "
          "interleaved round by round; ms per call_tool round trip, client side:")
    print(f"  {'path':<8}{'p50':>8}{'p90':>8}{'p99':>8}{'max':>8}")
    for name, t in times.items():
        print(f"  {name:<8}{pct(t, .5):8.2f}{pct(t, .9):8.2f}{pct(t, .99):8.2f}{t[-1] / 1e6:8.2f}")
    for path in [p for p in ("before", "belay") if p in times]:
        added = {q: pct(times[path], q) - pct(times["direct"], q) for q in (.5, .9, .99)}
        print(f"\nadded by {path} at p50: {added[.5]:+.2f} ms  (p90 {added[.9]:+.2f}, p99 {added[.99]:+.2f}; "
              f"goal <= 2 ms at p50: {'met' if added[.5] <= 2 else 'NOT met'})")
    done = belay.query("SELECT count(*) FROM action_requests WHERE capability = ? AND state = 'succeeded'",
                       f"mcp.notes.{TOOL}")[0][0]
    print(f"""
What the figures mean:
  p50/p90/p99  half / 90 % / 99 % of the calls returned within this many ms (nearest rank of {N});
  direct  the MCP client -> FastMCP over Streamable HTTP on loopback -> the tool: the baseline;
  belay   the MCP client -> Belay's /mcp (Streamable HTTP, agent key checked) -> the rule book
          (decision: allowed) -> the request recorded as claimed in SQLite with its audit event
          (WAL, synchronous=FULL: fsync on commit) -> the upstream over stdio -> the answer
          (plain JSON), then the outcome recorded without waiting for the disk;
          Belay recorded {done} succeeded requests for this tool (the warm-up's included);
  stdio   the MCP client -> the upstream over stdio, for reference (no HTTP either side);
  added   belay's percentile minus direct's: Belay's cost on top of serving the tool over HTTP.
Server binary: {BELAY}. Client, servers and upstreams share this machine's {os.cpu_count()} cores.""")


async def main() -> None:
    # rmcp answers a session's DELETE with 202, which the client logs as a failure.
    logging.getLogger("mcp.client.streamable_http").setLevel(logging.ERROR)
    if not BELAY.exists():
        sys.exit(f"no server binary at {BELAY}: cargo build --release -p belay")
    with tempfile.TemporaryDirectory(prefix="belay-mcp-bench-") as tmp:
        tmp = Path(tmp)
        port = free_port()
        direct = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(tmp / "direct.jsonl")],
                                  stdout=subprocess.DEVNULL, stderr=open(tmp / "direct.log", "w"))
        (tmp / "belay").mkdir()
        belay = Belay(tmp / "belay", 30)
        before = None
        # Default quota is 600 submissions a minute; the bench submits more than that.
        belay.env["BELAY_SUBMISSIONS_PER_MINUTE"] = "1000000"
        belay.env["RUST_LOG"] = os.environ.get("RUST_LOG", "warn")
        try:
            wait_for_port(port, direct, "the FastMCP server")
            belay.user("lead1", "lead")
            belay.user("lead2", "lead")
            belay.user("rev", "reviewer")
            belay.agent("bot", "act_with_approval")
            belay.start()
            belay.grant("bot", f"mcp.notes.{TOOL}")
            belay.use_once("bot", f"mcp.notes.{TOOL}")
            if os.environ.get("BELAY_BIN_BEFORE"):
                (tmp / "before").mkdir()
                before = Belay(tmp / "before", 30, Path(os.environ["BELAY_BIN_BEFORE"]).resolve())
                before.env["BELAY_SUBMISSIONS_PER_MINUTE"] = "1000000"
                before.env["RUST_LOG"] = belay.env["RUST_LOG"]
                for name, role in (("lead1", "lead"), ("lead2", "lead"), ("rev", "reviewer")):
                    before.user(name, role)
                before.agent("bot", "act_with_approval")
                before.start()
                before.grant("bot", f"mcp.notes.{TOOL}")
                before.use_once("bot", f"mcp.notes.{TOOL}")
            async with AsyncExitStack() as stack:
                sessions = {
                    "direct": await http_session(stack, f"http://127.0.0.1:{port}/mcp"),
                    "belay": await http_session(stack, f"{belay.base}/mcp",
                                                {"Authorization": f"Bearer {belay.keys['bot']}"}),
                    "stdio": await stdio_session(stack, tmp / "stdio.jsonl"),
                }
                if before:
                    sessions["before"] = await http_session(stack, f"{before.base}/mcp",
                                                            {"Authorization": f"Bearer {before.keys['bot']}"})
                times = await measure(sessions)
            assert len(belay.calls(TOOL)) == WARMUP + N, "every call through Belay reached the upstream once"
            report(times, belay)
        finally:
            # BELAY_BENCH_LOG=<dir>: the servers' logs are kept there (RUST_LOG
            # is passed on; the gateway's stages are debug spans, mcp.*).
            if keep := os.environ.get("BELAY_BENCH_LOG"):
                for b in (belay, before):
                    if b:
                        shutil.copy(b.dir / "serve.log", Path(keep) / f"{b.dir.name}-serve.log")
            belay.stop()
            if before:
                before.stop()
            direct.terminate()
            direct.wait(timeout=10)


if __name__ == "__main__":
    anyio.run(main)
