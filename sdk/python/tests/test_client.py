"""The sync client against a real Belay: every call of the agent API."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from pathlib import Path

import httpx
import pytest

from belay_client import (
    AsyncBelay,
    Belay,
    Conflict,
    Evidence,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    UnsupportedMediaType,
    ValidationError,
)

from .conftest import Agent, BelayServer, tiny_png


def test_me_shows_the_agent_and_its_scope(server: BelayServer, agent: Agent, belay: Belay) -> None:
    me = belay.me()
    assert (me.id, me.name, me.stage, me.status) == (agent.id, agent.name, "act_with_approval", "active")
    assert me.scope == [] and me.policy_version >= 1
    server.grant(agent, "docs.summarize")
    grant = belay.me().grant("docs.summarize")
    assert grant is not None and grant.readable and grant.first_use_pending is True
    assert grant.limits is not None and grant.limits.targets == []


def test_held_request_is_approved_claimed_once_and_reported(server: BelayServer, belay: Belay) -> None:
    action = belay.submit("crm.update_record", "customer-42", "Fix the customer's email",
                          {"field": "email", "value": "a@example.com"})
    assert action.decision == "pending_approval" and action.is_pending
    assert "out_of_scope" in action.held_for and action.reasons
    assert action.expires_at is not None and action.carried_out_by == "agent"
    assert action.approved_params is None

    server.approve(action.id)
    approved = belay.get(action.id)
    assert approved.state == "approved" and approved.claim_by is not None
    assert approved.approved_params == {"field": "email", "value": "a@example.com"}

    claimed = belay.claim(action.id)
    assert claimed.state == "executing" and claimed.claimed_at is not None
    assert claimed.params_to_run == {"field": "email", "value": "a@example.com"}
    with pytest.raises(Conflict) as second:
        belay.claim(action.id)
    assert second.value.status == 409 and second.value.type == "/problems/conflict"

    done = belay.report_success(action.id, "updated")
    assert done.state == "succeeded" and done.outcome_detail == "updated"
    with pytest.raises(Conflict):
        belay.report_failure(action.id, "twice")


def test_reviewer_edits_reach_the_claim(server: BelayServer, belay: Belay) -> None:
    action = belay.submit("crm.update_record", "customer-7", "Set the credit limit", {"limit": 900})
    server.approve(action.id, params={"limit": 500})
    claimed = belay.claim(action.id)
    assert claimed.params == {"limit": 900}
    assert claimed.approved_params == {"limit": 500}
    assert claimed.edited and claimed.correction == {"limit": {"before": 900, "after": 500}}


def test_allowed_request_needs_no_claim(server: BelayServer, agent: Agent, belay: Belay) -> None:
    server.allow(agent, "docs.summarize")
    action = belay.submit("docs.summarize", "handbook", "Summarize the handbook")
    assert action.decision == "allowed" and action.is_allowed and action.expires_at is None
    assert action.params_to_run == {}
    done = belay.report_outcome(action.id, "failed", details="the handbook was empty")
    assert done.state == "failed" and done.outcome_detail == "the handbook was empty"


@pytest.mark.parametrize(("stage", "decision"), [("observe", "denied"), ("draft", "drafted")])
def test_low_stages_refuse_or_draft(server: BelayServer, stage: str, decision: str) -> None:
    with server.client(server.create_agent(stage)) as belay:
        action = belay.submit("docs.summarize", "handbook", "Summarize the handbook")
        assert action.decision == decision and action.state == decision
        assert action.params_to_run is None
        with pytest.raises((Conflict, Forbidden)):
            belay.claim(action.id)


def test_rejected_with_a_reason(server: BelayServer, belay: Belay) -> None:
    action = belay.submit("records.delete", "table:customers", "Delete stale rows")
    server.reject(action.id, "never delete customers")
    rejected = belay.wait(action.id, timeout=10)
    assert rejected.state == "rejected" and rejected.decision_note == "never delete customers"
    assert rejected.params_to_run is None


def test_cancel_withdraws_a_waiting_request(belay: Belay) -> None:
    action = belay.submit("email.send", "a@example.com", "Say hello")
    assert belay.cancel(action.id).state == "cancelled"
    with pytest.raises(Conflict):
        belay.cancel(action.id)


def test_propose_is_carried_out_by_a_human(server: BelayServer) -> None:
    with server.client(server.create_agent("propose")) as belay:
        action = belay.submit("email.send", "a@example.com", "Say hello")
        assert action.carried_out_by == "human"
        server.approve(action.id)
        assert belay.get(action.id).params_to_run is None
        with pytest.raises(Forbidden) as refused:
            belay.claim(action.id)
        assert refused.value.status == 403


def test_long_poll_returns_when_a_reviewer_decides(server: BelayServer, belay: Belay) -> None:
    action = belay.submit("email.send", "a@example.com", "Say hello")
    timer = threading.Timer(1.0, server.approve, args=(action.id,))
    started = time.monotonic()
    timer.start()
    try:
        decided = belay.wait(action.id, timeout=30)
    finally:
        timer.join()
    took = time.monotonic() - started
    assert decided.state == "approved"
    assert 0.9 <= took < 15, took


def test_long_poll_gives_up_at_the_deadline(belay: Belay) -> None:
    action = belay.submit("email.send", "a@example.com", "Say hello")
    started = time.monotonic()
    still = belay.wait(action.id, timeout=1.5)
    took = time.monotonic() - started
    assert still.state == "pending_approval"
    assert 1.0 <= took < 5, took


class DropFirstResponse(httpx.BaseTransport):
    """Sends each request on, but loses the first answer to a submission, as a
    network would: Belay acted, the agent never heard."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.submissions: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path.endswith("/actions") and request.method == "POST":
            self.submissions.append(request)
            if len(self.submissions) == 1:
                response.read()
                response.close()
                raise httpx.ReadError("connection reset", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_lost_answer_is_retried_with_the_same_key(server: BelayServer, agent: Agent) -> None:
    transport = DropFirstResponse()
    with Belay(server.base_url, agent.key, transport=transport, backoff=0.01) as belay:
        action = belay.submit("email.send", "a@example.com", "Say hello once", {"n": 1})
        assert action.replayed, "the retry found the request the lost try made"
        keys = {r.headers["idempotency-key"] for r in transport.submissions}
        assert len(transport.submissions) == 2 and len(keys) == 1
        # The same key again: the same request; a new submission: a new one.
        key = keys.pop()
        again = belay.submit("email.send", "a@example.com", "Say hello once", {"n": 1},
                             idempotency_key=key)
        assert again.id == action.id and again.replayed
        other = belay.submit("email.send", "a@example.com", "Say hello once", {"n": 1})
        assert other.id != action.id and not other.replayed
        with pytest.raises(ValidationError) as reused:
            belay.submit("email.send", "a@example.com", "Say hello twice", {"n": 2},
                         idempotency_key=key)
        assert reused.value.status == 422


def test_inline_evidence(belay: Belay) -> None:
    png = tiny_png()
    action = belay.submit(
        "email.send", "a@example.com", "Send the summary",
        evidence=[
            Evidence.plan("1. read\n2. send"),
            Evidence.json("extracted_data", {"invoice": "INV-7", "amount": 120}),
            Evidence.screenshot(png),
        ],
    )
    got = {e.type: e for e in action.evidence}
    assert set(got) == {"plan", "extracted_data", "screenshot"}
    assert got["screenshot"].media_type == "image/png"
    assert got["screenshot"].sha256 == hashlib.sha256(png).hexdigest()
    assert got["extracted_data"].media_type == "application/json"
    assert all(e.phase == "request" for e in action.evidence)


def test_multipart_evidence_while_waiting(server: BelayServer, belay: Belay, tmp_path: Path) -> None:
    action = belay.submit("email.send", "a@example.com", "Send the summary")
    shot = tmp_path / "page.png"
    shot.write_bytes(tiny_png(3, 1))
    html = "<html><body><button>Send</button><script>alert(1)</script></body></html>"
    updated = belay.add_evidence(
        action.id,
        Evidence.screenshot(shot),
        Evidence.dom_snapshot(html),
        Evidence.json("events", [{"at": "10:02", "what": "clicked send"}]),
        Evidence.file("request_log", b'[{"method": "GET", "url": "/inbox"}]'),
    )
    got = {e.type: e for e in updated.evidence}
    assert got["screenshot"].media_type == "image/png"
    assert got["screenshot"].sha256 == hashlib.sha256(shot.read_bytes()).hexdigest()
    assert got["dom_snapshot"].media_type == "text/html"
    assert got["dom_snapshot"].sha256 == hashlib.sha256(html.encode()).hexdigest()
    assert got["events"].media_type == "application/json"
    assert got["request_log"].media_type == "application/json"
    assert updated.payload_hash != action.payload_hash, "the reviewer now sees more"

    with pytest.raises(UnsupportedMediaType) as not_an_image:
        belay.add_evidence(action.id, Evidence.file("screenshot", b"GIF89a not really"))
    assert not_an_image.value.status == 415

    server.approve(action.id)
    with pytest.raises(Conflict):
        belay.add_evidence(action.id, Evidence.plan("too late"))


def test_outcome_with_evidence(server: BelayServer, belay: Belay) -> None:
    action = belay.submit("email.send", "a@example.com", "Say hello")
    server.approve(action.id)
    belay.claim(action.id)
    done = belay.report_success(action.id, "sent", evidence=[Evidence.screenshot(tiny_png())])
    assert [(e.type, e.phase) for e in done.evidence] == [("screenshot", "outcome")]


def test_typed_errors(server: BelayServer, agent: Agent, belay: Belay) -> None:
    with Belay(server.base_url, "belay_not-a-real-key-at-all-0000000000000000000") as stranger:
        with pytest.raises(Unauthorized) as unauthorized:
            stranger.me()
    err = unauthorized.value
    assert (err.status, err.title, err.type) == (401, "Unauthorized", "/problems/unauthorized")
    assert err.detail

    with pytest.raises(NotFound) as missing:
        belay.get("01900000-0000-7000-8000-000000000000")
    assert missing.value.status == 404

    with pytest.raises(ValidationError) as invalid:
        belay.submit("Not A Capability!", "x", "y")
    assert invalid.value.status == 422 and "capability" in invalid.value.detail

    with pytest.raises(PayloadTooLarge):
        belay.submit("email.send", "x", "y", {"blob": "x" * 70_000})

    # Another agent's request is not there at all for this one.
    theirs = belay.submit("email.send", "x", "mine")
    with server.client(server.create_agent()) as other, pytest.raises(NotFound):
        other.get(theirs.id)


def test_submission_quota_is_a_typed_429(server: BelayServer, agent: Agent) -> None:
    server.cli("agent", "quota", "--name", agent.name, "--submissions-per-minute", "1")
    # Retry-After will be about a minute: longer than this client waits out.
    with server.client(agent, max_retry_after=2) as belay:
        belay.submit("email.send", "x", "first")
        with pytest.raises(RateLimited) as limited:
            belay.submit("email.send", "x", "second")
    assert limited.value.status == 429
    assert limited.value.retry_after is not None and limited.value.retry_after > 2


async def test_async_client_end_to_end(server: BelayServer, agent: Agent) -> None:
    async with AsyncBelay(server.base_url, agent.key) as belay:
        me = await belay.me()
        assert me.id == agent.id
        action = await belay.submit("email.send", "a@example.com", "Say hello", {"to": "a"},
                                    evidence=[Evidence.prompt("say hello")])
        assert action.is_pending and [e.type for e in action.evidence] == ["prompt"]
        action = await belay.add_evidence(action.id, Evidence.screenshot(tiny_png()))
        assert {e.type for e in action.evidence} == {"prompt", "screenshot"}
        approving = asyncio.create_task(asyncio.to_thread(server.approve, action.id, {"to": "b"}))
        decided = await belay.wait(action.id, timeout=30)
        await approving
        assert decided.state == "approved" and decided.approved_params == {"to": "b"}
        claimed = await belay.claim(action.id)
        assert claimed.params_to_run == {"to": "b"}
        with pytest.raises(Conflict):
            await belay.claim(action.id)
        done = await belay.report_failure(action.id, "mail server down", incident=False)
        assert done.state == "failed"
        with pytest.raises(NotFound):
            await belay.cancel("01900000-0000-7000-8000-000000000000")
