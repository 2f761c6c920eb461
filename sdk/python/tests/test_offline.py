"""What is hard to make a real server do on cue: transport failures, 5xx,
short Retry-After, expiry, states from a newer server. A scripted transport
stands in for Belay."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from belay_client import (
    ActionBlocked,
    ActionExpired,
    AsyncBelay,
    Belay,
    Evidence,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    TransportError,
    ValidationError,
)
from belay_client.errors import parse_retry_after

from .conftest import tiny_png

VIEW: dict[str, Any] = {
    "id": "a1", "capability": "email.send", "target": "t", "summary": "s", "params": {"n": 1},
    "approved_params": None, "correction": None, "payload_hash": "h", "decision": "pending_approval",
    "reasons": ["held"], "policy_version": 1, "stage": "act_with_approval", "held_for": ["first_use"],
    "approvals_required": 1, "approvals": 0, "carried_out_by": "agent", "state": "pending_approval",
    "created_at": "2026-01-01T00:00:00Z", "expires_at": None, "decided_at": None,
    "decision_note": None, "claim_by": None, "claimed_at": None, "outcome_at": None,
    "outcome_detail": None, "incident": False, "evidence": [],
}


def view(**changes: Any) -> dict[str, Any]:
    return {**VIEW, **changes}


def problem(status: int, detail: str = "nope", headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"type": "/problems/x", "title": "T", "status": status, "detail": detail}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json",
                                                       **(headers or {})})


class Script:
    """Answers requests from a list, in order; remembers them."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer


def client(script: Script, **kwargs: Any) -> tuple[Belay, list[float]]:
    belay = Belay("http://belay.test", "belay_key", transport=httpx.MockTransport(script), **kwargs)
    slept: list[float] = []
    belay._sleep = slept.append
    return belay, slept


def test_submission_retries_reuse_one_key() -> None:
    script = Script(
        httpx.ConnectError("refused"),
        problem(503, headers={"retry-after": "2"}),
        httpx.ReadTimeout("slow"),
        problem(502),
        httpx.Response(201, json=view(), headers={"idempotent-replayed": "true"}),
    )
    belay, slept = client(script, max_retries=4)
    action = belay.submit("email.send", "t", "s", {"n": 1})
    assert action.replayed and action.id == "a1"
    keys = {r.headers["idempotency-key"] for r in script.requests}
    assert len(script.requests) == 5 and len(keys) == 1
    assert next(iter(keys)).startswith("belay-py-")
    assert slept[1] == 2.0, "Retry-After is honoured"
    assert all(r.headers["authorization"] == "Bearer belay_key" for r in script.requests)
    # A new logical submission gets a new key.
    script.answers.append(httpx.Response(201, json=view(id="a2")))
    belay.submit("email.send", "t", "s", {"n": 1})
    assert script.requests[-1].headers["idempotency-key"] not in keys


def test_retries_run_out() -> None:
    belay, slept = client(Script(problem(500), problem(500)), max_retries=1)
    with pytest.raises(ServerError) as failed:
        belay.get("a1")
    assert failed.value.status == 500 and len(slept) == 1

    belay, _ = client(Script(*[httpx.ConnectError("down")] * 3), max_retries=2)
    with pytest.raises(TransportError) as down:
        belay.me()
    assert down.value.status is None and isinstance(down.value.cause, httpx.ConnectError)


def test_a_long_retry_after_is_not_waited_out() -> None:
    belay, slept = client(Script(problem(429, headers={"retry-after": "120"})), max_retry_after=60)
    with pytest.raises(RateLimited) as limited:
        belay.submit("email.send", "t", "s")
    assert limited.value.retry_after == 120 and slept == []

    belay, _ = client(Script(problem(503, headers={"retry-after": "90"})))
    with pytest.raises(ServiceUnavailable) as busy:
        belay.get("a1")
    assert busy.value.retry_after == 90


def test_claims_and_outcomes_are_not_sent_twice() -> None:
    """Belay may have acted on a request whose answer was lost: no blind repeat."""
    for call in (lambda b: b.claim("a1"), lambda b: b.report_success("a1"),
                 lambda b: b.cancel("a1"), lambda b: b.add_evidence("a1", Evidence.plan("p"))):
        script = Script(httpx.ReadError("reset"), problem(500))
        belay, _ = client(script)
        with pytest.raises(TransportError):
            call(belay)
        assert len(script.requests) == 1
    # ... but when the connection never opened, or Belay refused before acting, they are.
    script = Script(httpx.ConnectError("refused"), problem(429, headers={"retry-after": "0"}),
                    httpx.Response(200, json=view(state="executing")))
    belay, _ = client(script)
    assert belay.claim("a1").state == "executing" and len(script.requests) == 3


def test_problem_details_without_json() -> None:
    belay, _ = client(Script(httpx.Response(422, text="plain words")))
    with pytest.raises(ValidationError) as invalid:
        belay.submit("email.send", "t", "s")
    assert invalid.value.detail == "plain words" and invalid.value.status == 422


def test_wait_loops_until_decided() -> None:
    script = Script(
        httpx.Response(200, json=view()),
        httpx.Response(200, json=view()),
        httpx.Response(200, json=view(state="approved", approved_params={"n": 2})),
    )
    belay, _ = client(script)
    action = belay.wait("a1", poll=5)
    assert action.state == "approved" and action.params_to_run == {"n": 2}
    assert [r.url.params["wait"] for r in script.requests] == ["5", "5", "5"]


def test_guard_never_runs_on_expiry_or_an_unknown_state() -> None:
    ran: list[int] = []
    for state, error in (("expired", ActionExpired), ("quarantined", ActionBlocked)):
        script = Script(httpx.Response(201, json=view()), httpx.Response(200, json=view(state=state)))
        belay, _ = client(script)

        @belay.guard("email.send")
        def send(n: int) -> None:
            ran.append(n)

        with pytest.raises(error):
            send(n=1)
        assert ran == []


def test_guard_refuses_edits_that_do_not_fit() -> None:
    script = Script(
        httpx.Response(201, json=view()),
        httpx.Response(200, json=view(state="approved", approved_params={"n": 1, "bcc": "x"})),
    )
    belay, _ = client(script)

    @belay.guard("email.send")
    def send(n: int) -> None:
        raise AssertionError("never runs")

    from belay_client import ApprovedArgumentsInvalid

    with pytest.raises(ApprovedArgumentsInvalid):
        send(n=1)
    assert [r.url.path for r in script.requests] == ["/api/v1/actions", "/api/v1/actions/a1"]


def test_guard_takes_keyword_arguments_only() -> None:
    belay, _ = client(Script())
    with pytest.raises(TypeError, match="positionally"):
        belay.guard("email.send")(lambda n, /: None)


async def test_async_client_retries_with_one_key() -> None:
    script = Script(httpx.ReadError("reset"), httpx.Response(201, json=view()))
    belay = AsyncBelay("http://belay.test/api/v1/", "belay_key", transport=httpx.MockTransport(script),
                       backoff=0.001)
    async with belay:
        action = await belay.submit("email.send", "t", "s")
    assert action.id == "a1"
    assert len({r.headers["idempotency-key"] for r in script.requests}) == 1
    assert script.requests[0].url == "http://belay.test/api/v1/actions"


def test_evidence_wire_forms() -> None:
    png = tiny_png()
    shot = Evidence.screenshot(png)
    assert shot.to_json()["media_type"] == "image/png" and "content_base64" in shot.to_json()
    assert shot.to_part() == ("screenshot", ("screenshot", png, "image/png"))
    data = Evidence.json("extracted_data", {"a": 1})
    assert data.to_json() == {"type": "extracted_data", "content": {"a": 1}}
    assert json.loads(data.to_part()[1][1]) == {"a": 1}
    with pytest.raises(ValueError):
        Evidence.text("video", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Evidence(type="plan")


def test_retry_after_forms() -> None:
    assert parse_retry_after("7") == 7
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
