"""``guard`` against a real Belay: the function runs only when allowed or
approved, with the approved arguments, once; otherwise it never runs."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from belay_client import (
    Action,
    ActionBlocked,
    ActionCancelled,
    ActionDenied,
    ActionDrafted,
    ActionRejected,
    AlreadyCarriedOut,
    ApprovalTimeout,
    AsyncBelay,
    Belay,
    ClaimRefused,
    Evidence,
    HumanMustCarryOut,
)

from .conftest import Agent, BelayServer, Later, RecordingBelay


def recording(server: BelayServer, agent: Agent) -> RecordingBelay:
    return RecordingBelay(server.base_url, agent.key)


def approve_later(
    server: BelayServer, later: Later, params: dict[str, Any] | None = None
) -> Any:
    """An ``on_pending`` hook: a reviewer approves shortly, from another thread."""

    def on_pending(action: Action) -> None:
        later.run(0.3, server.approve, action.id, params)

    return on_pending


def test_allowed_runs_at_once_with_the_arguments(server: BelayServer, agent: Agent) -> None:
    server.allow(agent, "docs.summarize")
    calls: list[dict[str, Any]] = []
    with recording(server, agent) as belay:

        @belay.guard("docs.summarize", target="{doc}", summary="Summarize {doc}",
                     describe_result=lambda r: f"{len(r)} characters")
        def summarize(doc: str, words: int = 50) -> str:
            calls.append({"doc": doc, "words": words})
            return "short"

        assert summarize("handbook") == "short"
        assert calls == [{"doc": "handbook", "words": 50}]
        (submitted,) = belay.submitted
        assert submitted.state == "allowed" and submitted.target == "handbook"
        assert submitted.params == {"doc": "handbook", "words": 50}
        done = belay.get(submitted.id)
        assert done.state == "succeeded" and done.outcome_detail == "5 characters"


def test_approved_runs_with_the_reviewers_edits(server: BelayServer, agent: Agent, later: Later) -> None:
    calls: list[tuple[str, int]] = []
    with recording(server, agent) as belay:

        @belay.guard("billing.refund", target="{customer}", summary="Refund {amount} to {customer}",
                     evidence=lambda a: [Evidence.plan(f"refund invoice of {a['customer']}")],
                     on_pending=approve_later(server, later, {"customer": "c-42", "amount": 500}),
                     approval_timeout=30)
        def refund(customer: str, amount: int) -> str:
            calls.append((customer, amount))
            return f"refunded {amount}"

        assert refund("c-42", 900) == "refunded 500"
        assert calls == [("c-42", 500)], "run once, with what the reviewer approved"
        (submitted,) = belay.submitted
        assert submitted.params == {"customer": "c-42", "amount": 900}
        assert [e.type for e in submitted.evidence] == ["plan"]
        done = belay.get(submitted.id)
        assert done.state == "succeeded"
        assert done.correction == {"amount": {"before": 900, "after": 500}}


def test_a_failure_is_reported_and_raised(server: BelayServer, agent: Agent, later: Later) -> None:
    with recording(server, agent) as belay:

        @belay.guard("email.send", target="{to}", on_pending=approve_later(server, later),
                     approval_timeout=30)
        def send(to: str) -> None:
            raise RuntimeError("smtp said no")

        with pytest.raises(RuntimeError, match="smtp said no"):
            send(to="a@example.com")
        done = belay.get(belay.submitted[0].id)
        assert done.state == "failed" and done.outcome_detail == "RuntimeError: smtp said no"


def test_rejected_never_runs(server: BelayServer, agent: Agent, later: Later) -> None:
    ran: list[str] = []
    with recording(server, agent) as belay:

        def reject_later(action: Action) -> None:
            later.run(0.3, server.reject, action.id, "not this customer")

        @belay.guard("records.delete", target="{table}", on_pending=reject_later,
                     approval_timeout=30)
        def delete(table: str) -> None:
            ran.append(table)

        with pytest.raises(ActionRejected) as rejected:
            delete(table="customers")
    assert ran == []
    assert rejected.value.action is not None
    assert rejected.value.action.decision_note == "not this customer"
    assert "not this customer" in str(rejected.value)


@pytest.mark.parametrize(("stage", "error"), [("observe", ActionDenied), ("draft", ActionDrafted)])
def test_denied_and_drafted_never_run(server: BelayServer, stage: str, error: type[ActionBlocked]) -> None:
    ran: list[str] = []
    with server.client(server.create_agent(stage)) as belay:

        @belay.guard("docs.summarize")
        def summarize(doc: str) -> None:
            ran.append(doc)

        with pytest.raises(error) as blocked:
            summarize(doc="handbook")
    assert ran == [] and blocked.value.action is not None
    assert blocked.value.action.state == stage.replace("observe", "denied").replace("draft", "drafted")


def test_approved_for_a_human_never_runs(server: BelayServer, later: Later) -> None:
    ran: list[str] = []
    with server.client(server.create_agent("propose")) as belay:

        @belay.guard("email.send", on_pending=approve_later(server, later), approval_timeout=30)
        def send(to: str) -> None:
            ran.append(to)

        with pytest.raises(HumanMustCarryOut) as human:
            send(to="a@example.com")
        assert ran == []
        assert human.value.action is not None
        assert belay.get(human.value.action.id).state == "approved", "nothing was claimed"


def test_timeout_never_runs_and_withdraws_the_request(server: BelayServer, agent: Agent) -> None:
    ran: list[str] = []
    with recording(server, agent) as belay:

        @belay.guard("email.send", approval_timeout=1)
        def send(to: str) -> None:
            ran.append(to)

        with pytest.raises(ApprovalTimeout):
            send(to="a@example.com")
        assert ran == []
        assert belay.get(belay.submitted[0].id).state == "cancelled"


def test_cancelled_while_waiting_never_runs(server: BelayServer, agent: Agent, later: Later) -> None:
    ran: list[str] = []
    with recording(server, agent) as belay, server.client(agent) as other_worker:

        def cancel_later(action: Action) -> None:
            later.run(0.3, other_worker.cancel, action.id)

        @belay.guard("email.send", on_pending=cancel_later, approval_timeout=30)
        def send(to: str) -> None:
            ran.append(to)

        with pytest.raises(ActionCancelled):
            send(to="a@example.com")
        later.join()
    assert ran == []


def test_one_logical_call_runs_once(server: BelayServer, agent: Agent, later: Later) -> None:
    """The same idempotency key twice (a retried tool call): one request, run once."""
    calls: list[int] = []
    with recording(server, agent) as belay:

        @belay.guard("email.send", idempotency_key=lambda a: f"send-{a['n']}",
                     on_pending=approve_later(server, later), approval_timeout=30)
        def send(n: int) -> int:
            calls.append(n)
            return n

        assert send(n=1) == 1
        with pytest.raises(AlreadyCarriedOut):
            send(n=1)
        assert calls == [1]
        first, second = belay.submitted
        assert second.id == first.id and second.replayed


def test_a_second_claim_is_refused(server: BelayServer, agent: Agent, belay: Belay, later: Later) -> None:
    """Someone else claimed the approved request first: the guard does not run it."""
    ran: list[str] = []
    action = belay.submit("email.send", "a@example.com", "send(to='a@example.com')",
                          {"to": "a@example.com"}, idempotency_key="claimed-elsewhere")
    server.approve(action.id)

    with server.client(agent) as worker:

        @worker.guard("email.send", target="a@example.com",
                      summary="send(to='a@example.com')",
                      idempotency_key=lambda a: "claimed-elsewhere")
        def send(to: str) -> None:
            ran.append(to)

        belay.claim(action.id)  # the other worker wins
        with pytest.raises(AlreadyCarriedOut):
            send(to="a@example.com")

    # And when the claim itself loses a race, it is a ClaimRefused.
    with server.client(agent) as worker:

        @worker.guard("email.send", target="b@example.com", on_pending=approve_later(server, later),
                      approval_timeout=30)
        def send_b(to: str) -> None:
            ran.append(to)

        real_claim = worker.claim

        def racing_claim(action_id: str) -> Action:
            belay.claim(action_id)  # another worker gets there first
            return real_claim(action_id)

        worker.claim = racing_claim  # type: ignore[method-assign]
        with pytest.raises(ClaimRefused) as refused:
            send_b(to="b@example.com")
        assert refused.value.cause.status == 409
    assert ran == []


def test_excluded_arguments_pass_through(server: BelayServer, agent: Agent) -> None:
    server.allow(agent, "docs.summarize")

    class Store:
        def __init__(self) -> None:
            self.saved: list[str] = []

    store = Store()
    with recording(server, agent) as belay:

        @belay.guard("docs.summarize", target="{doc}", exclude=["store"])
        def summarize(doc: str, store: Store) -> None:
            store.saved.append(doc)

        summarize("handbook", store)
        assert store.saved == ["handbook"]
        assert belay.submitted[0].params == {"doc": "handbook"}

        @belay.guard("docs.summarize")
        def careless(doc: str, store: Store) -> None:
            pass

        with pytest.raises(TypeError, match="exclude"):
            careless("handbook", store)


async def test_async_guard_runs_with_the_edits(server: BelayServer, agent: Agent) -> None:
    calls: list[int] = []
    async with AsyncBelay(server.base_url, agent.key) as belay:

        async def on_pending(action: Action) -> None:
            await asyncio.to_thread(server.approve, action.id, {"amount": 250})

        @belay.guard("billing.refund", target="c-1", on_pending=on_pending, approval_timeout=30)
        async def refund(amount: int) -> int:
            calls.append(amount)
            return amount

        assert await refund(amount=900) == 250
    assert calls == [250]


async def test_async_guard_never_runs_when_rejected(server: BelayServer, agent: Agent, later: Later) -> None:
    ran: list[int] = []
    async with AsyncBelay(server.base_url, agent.key) as belay:

        def on_pending(action: Action) -> None:
            later.run(0.3, server.reject, action.id, "no")

        @belay.guard("billing.refund", target="c-1", on_pending=on_pending, approval_timeout=30)
        async def refund(amount: int) -> None:
            ran.append(amount)

        with pytest.raises(ActionRejected):
            await refund(amount=900)
        with pytest.raises(TypeError):
            belay.guard("billing.refund")(lambda amount: None)
    assert ran == []
