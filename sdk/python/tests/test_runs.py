"""Runs against a real Belay: events, run_id on submissions, escalations."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from belay_client import AsyncBelay, Belay, BelayError, NotFound, ValidationError

from .conftest import REVIEWER, Agent, BelayServer, Later


def run_name() -> str:
    return f"run-{uuid.uuid4().hex[:12]}"


def test_a_run_collects_its_events_and_requests(belay: Belay) -> None:
    run = run_name()
    prompt = belay.run_event(run, "prompt", text="Renew the plan")
    assert (prompt.run_id, prompt.kind, prompt.text, prompt.escalation) == (run, "prompt", "Renew the plan", None)
    page = belay.run_event(run, "page_visited", url="https://crm.example/a", text="Account A")
    assert page.url == "https://crm.example/a"
    data = belay.run_event(run, "extracted_data", data={"total": 3})
    assert data.data == {"total": 3}
    action = belay.submit("crm.update_record", "customer-42", "Fix the email", run_id=run)
    other = belay.submit("crm.update_record", "customer-42", "Not in the run")

    got = belay.get_run(run)
    assert got.run_id == run
    assert [e.kind for e in got.events] == ["extracted_data", "page_visited", "prompt"]
    assert [a.id for a in got.actions] == [action.id] and other.id not in {a.id for a in got.actions}
    assert got.actions[0].state == "pending_approval"
    assert belay.get_run_event(run, prompt.id).text == "Renew the plan"

    with pytest.raises(ValidationError):
        belay.run_event(run, "plan")
    with pytest.raises(BelayError):
        belay.run_event("not a name", "note", text="x")
    with pytest.raises(BelayError):
        belay.submit("crm.update_record", "c", "s", run_id="a/b")
    with pytest.raises(NotFound):
        belay.get_run(run_name())


def test_an_escalation_waits_for_a_person_and_the_agent_reads_the_answer(
    server: BelayServer, belay: Belay, later: Later
) -> None:
    run = run_name()
    asked = belay.escalate(run, "Two contacts are listed; which one?")
    assert asked.is_open and asked.escalation is not None and asked.escalation.state == "open"
    assert belay.wait_for_answer(run, asked.id, timeout=1).is_open

    later.run(0.5, server.browser(REVIEWER).rpc, "runs/answer", {"id": asked.id, "answer": "The buyer"})
    answered = belay.wait_for_answer(run, asked.id, timeout=20)
    assert not answered.is_open
    assert answered.escalation is not None and answered.escalation.answer == "The buyer"
    assert answered.escalation.answered_at is not None


async def test_the_async_client_reports_events_and_escalates(server: BelayServer, agent: Agent) -> None:
    run = run_name()
    async with AsyncBelay(server.base_url, agent.key) as belay:
        note = await belay.run_event(run, "note", text="started")
        asked = await belay.escalate(run, "Stuck on a captcha", data={"page": 3})
        assert asked.data == {"page": 3}
        answering = asyncio.create_task(asyncio.to_thread(
            server.browser(REVIEWER).rpc, "runs/answer", {"id": asked.id, "answer": "Stop here"}))
        answered = await belay.wait_for_answer(run, asked.id, timeout=20)
        await answering
        assert answered.escalation is not None and answered.escalation.answer == "Stop here"
        got = await belay.get_run(run)
        assert [e.id for e in got.events] == [asked.id, note.id]
        assert (await belay.get_run_event(run, note.id)).kind == "note"
