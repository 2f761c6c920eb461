"""The MCP gateway end to end: a real MCP client, a real upstream, a real
Belay, and people deciding in between."""

import anyio
import httpx
import pytest

from conftest import text

pytestmark = pytest.mark.anyio


async def test_tools_are_listed_with_what_belay_will_do(belay):
    async with belay.mcp("bot") as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
    assert set(tools) == {"read_note", "delete_note"}
    assert "Belay: runs at once" in tools["read_note"].description
    assert "Read a note by name." in tools["read_note"].description
    assert "needs human approval" in tools["delete_note"].description
    assert "destructive" in tools["delete_note"].description
    assert tools["read_note"].input_schema["properties"]["name"]["type"] == "string"


async def test_a_read_only_tool_runs_at_once(belay):
    before = len(belay.calls("read_note"))
    async with belay.mcp("bot") as s:
        result = await s.call_tool("read_note", {"name": "shopping"})
    assert not result.is_error, text(result)
    assert "note shopping: buy milk" in text(result)
    calls = belay.calls("read_note")
    assert len(calls) == before + 1 and calls[-1]["args"] == {"name": "shopping"}
    # Recorded as an action, claimed as it was decided, its outcome reported.
    id, state = (await belay.settled("mcp.notes.read_note"))[-1]
    assert state == "succeeded"
    [(claimed, decision)] = belay.query("SELECT claimed_at, decision FROM action_requests WHERE id = ?", id)
    assert claimed is not None and decision == "allowed"
    # The evidence is the call as the client sent it.
    sent = belay.sent(id)
    assert sent["method"] == "tools/call"
    assert sent["params"]["name"] == "read_note" and sent["params"]["arguments"] == {"name": "shopping"}


async def test_a_calls_meta_is_recorded_with_it(belay):
    async with belay.mcp("bot") as s:
        result = await s.call_tool("read_note", {"name": "meta"}, meta={"trace": "t-42"})
    assert not result.is_error, text(result)
    id, _ = (await belay.settled("mcp.notes.read_note"))[-1]
    params = belay.sent(id)["params"]
    assert params["_meta"]["trace"] == "t-42", params


async def test_a_held_call_runs_once_with_the_arguments_the_reviewer_approved(belay):
    async with belay.mcp("bot") as s:
        async with anyio.create_task_group() as tg:
            out = {}

            async def call():
                out["result"] = await s.call_tool("delete_note", {"name": "groceries", "reason": "old"})

            tg.start_soon(call)
            id = await belay.pending("mcp.notes.delete_note")
            assert belay.calls("delete_note") == [], "nothing runs before approval"
            await belay.approve(id, {"name": "groceries-2024", "reason": "old"})
    result = out["result"]
    assert not result.is_error, text(result)
    said = text(result)
    assert "approved this call with changes" in said and "groceries-2024" in said, said
    assert "deleted groceries-2024" in said
    assert belay.calls("delete_note") == [
        {"tool": "delete_note", "args": {"name": "groceries-2024", "reason": "old"}}
    ]
    assert dict(await belay.settled("mcp.notes.delete_note"))[id] == "succeeded"
    assert belay.sent(id)["params"]["arguments"] == {"name": "groceries", "reason": "old"}, \
        "the evidence is what the agent sent, not what the reviewer approved"


async def test_a_rejected_call_returns_the_reason_and_never_runs(belay):
    before = len(belay.calls("delete_note"))
    async with belay.mcp("bot") as s:
        async with anyio.create_task_group() as tg:
            out = {}

            async def call():
                out["result"] = await s.call_tool("delete_note", {"name": "taxes"})

            tg.start_soon(call)
            id = await belay.pending("mcp.notes.delete_note")
            await belay.reject(id, "keep the tax notes for seven years")
    result = out["result"]
    assert result.is_error
    assert "keep the tax notes for seven years" in text(result)
    assert len(belay.calls("delete_note")) == before


async def test_an_agent_at_observe_never_reaches_the_upstream(belay):
    before = len(belay.calls())
    async with belay.mcp("watcher") as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert "not available to this agent" in tools["read_note"].description
        result = await s.call_tool("read_note", {"name": "shopping"})
    assert result.is_error
    assert "denied" in text(result)
    assert len(belay.calls()) == before


async def test_an_agent_at_draft_records_a_draft_and_runs_nothing(belay):
    before = len(belay.calls())
    async with belay.mcp("drafter") as s:
        tools = {t.name: t for t in (await s.list_tools()).tools}
        assert "recorded as a draft" in tools["delete_note"].description
        result = await s.call_tool("delete_note", {"name": "plans"})
    assert not result.is_error
    assert "recorded as a draft for humans" in text(result)
    assert len(belay.calls()) == before


async def test_tools_of_several_upstreams_are_named_by_their_upstream(belay):
    async with belay.mcp("multi") as s:
        names = sorted(t.name for t in (await s.list_tools()).tools)
    assert names == ["archive__delete_note", "archive__read_note", "notes__delete_note", "notes__read_note"]


async def test_the_gateway_refuses_a_missing_or_wrong_key(belay):
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    # A fresh connection each: a refusal answers before the body is read.
    for headers in ({}, {"Authorization": "Bearer belay_not-a-real-key-at-all-000000000000000"}):
        async with httpx.AsyncClient() as http:
            res = await http.post(f"{belay.base}/mcp", json=body, headers=headers)
        assert res.status_code == 401
        assert res.headers["content-type"] == "application/problem+json"


async def test_a_call_that_outwaits_the_hold_is_joined_by_its_retry(impatient):
    b = impatient
    args = {"name": "drafts", "reason": "tidy"}
    async with b.mcp("bot") as s:
        first = await s.call_tool("delete_note", args)
        assert first.is_error
        assert "awaits human approval" in text(first)
        [(id, state)] = b.requests("mcp.notes.delete_note")
        assert state == "pending_approval"
        assert f"/approvals/{id}" in text(first)
        again = await s.call_tool("delete_note", args)
        assert again.is_error and f"/approvals/{id}" in text(again)
        assert len(b.requests("mcp.notes.delete_note")) == 1, "the retry joined the open request"
        await b.approve(id)
        done = await s.call_tool("delete_note", args)
        assert not done.is_error, text(done)
        assert "deleted drafts" in text(done)
        assert b.calls("delete_note") == [{"tool": "delete_note", "args": args}]
        # Once carried out, the same call again is a new request.
        later = await s.call_tool("delete_note", args)
        assert later.is_error
    rows = await b.settled("mcp.notes.delete_note")
    assert [s for _, s in rows] == ["succeeded", "pending_approval"]


async def test_the_stdio_gateway_applies_the_same_rules(belay):
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client

    from conftest import BELAY

    params = StdioServerParameters(
        command=str(BELAY),
        args=["mcp", "stdio", "--mcp-wait-secs", "1"],
        env={"DATABASE_URL": f"sqlite://{belay.db_path}", "BELAY_AGENT_KEY": belay.keys["bot"],
             "RUST_LOG": "warn"},
    )
    before = len(belay.calls("read_note"))
    with open(belay.dir / "stdio.log", "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as s:
                await s.initialize()
                tools = {t.name: t for t in (await s.list_tools()).tools}
                assert "Belay: runs at once" in tools["read_note"].description
                result = await s.call_tool("read_note", {"name": "stdio"})
                assert not result.is_error, text(result)
                assert "note stdio: buy milk" in text(result)
                held = await s.call_tool("delete_note", {"name": "stdio"})
                assert held.is_error and "awaits human approval" in text(held)
    assert len(belay.calls("read_note")) == before + 1
    assert [c for c in belay.calls("delete_note") if c["args"]["name"] == "stdio"] == []


async def test_identical_calls_at_the_same_moment_make_one_request(impatient):
    b = impatient
    # `multi` holds no grants here, so every call waits for approval.
    async with b.mcp("multi") as s:
        results = []

        async def call():
            results.append(await s.call_tool("archive__delete_note", {"name": "twice"}))

        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(call)
    assert all(r.is_error and "awaits human approval" in text(r) for r in results)
    rows = b.query(
        "SELECT r.id FROM action_requests r JOIN agents a ON a.id = r.agent_id "
        "WHERE a.name = 'multi' AND r.capability = 'mcp.archive.delete_note'")
    assert len(rows) == 1, rows
