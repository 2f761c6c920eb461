"""The LangGraph example (examples/langgraph_refunds.py) against a real Belay,
with its scripted model: no network, no model."""

from __future__ import annotations

from langchain_core.messages import ToolMessage

from belay_client import Belay

from .conftest import Agent, BelayServer

from langgraph_refunds import ScriptedModel, build_graph, resume, start  # noqa: E402  (examples/)


def test_a_refund_waits_for_a_reviewer_and_runs_as_edited(server: BelayServer, agent: Agent) -> None:
    refunds: list[tuple[str, int]] = []
    with server.client(agent) as belay:
        graph = build_graph(belay, ScriptedModel("customer-42", 900), refunds)
        paused = start(graph, "t-approve", "Refund customer 42's double charge")

        (held,) = paused["__interrupt__"]
        action_id = held.value["belay_action"]
        assert "purchase" in held.value["held_for"]
        assert refunds == [], "nothing runs before a person decides"

        server.approve(action_id, {"customer": "customer-42", "amount": 500})
        done = resume(graph, "t-approve")

        assert refunds == [("customer-42", 500)], "run once, as the reviewer edited it"
        assert done["messages"][-1].content == "Refund finished: refunded 500 cents to customer-42"
        action = belay.get(action_id)
        assert action.state == "succeeded" and action.params == {"customer": "customer-42", "amount": 900}


def test_a_rejected_refund_never_runs_and_the_model_hears_why(server: BelayServer, agent: Agent) -> None:
    refunds: list[tuple[str, int]] = []
    with Belay(server.base_url, agent.key) as belay:
        graph = build_graph(belay, ScriptedModel("customer-7", 120_000), refunds)
        paused = start(graph, "t-reject", "Refund customer 7 everything")
        action_id = paused["__interrupt__"][0].value["belay_action"]

        server.reject(action_id, "over the refund policy")
        done = resume(graph, "t-reject")

    assert refunds == []
    tool_answer = next(m for m in done["messages"] if isinstance(m, ToolMessage))
    assert tool_answer.status == "error" and "over the refund policy" in str(tool_answer.content)
    assert done["messages"][-1].content.startswith("Refund finished: Error")
