"""A LangGraph agent whose refund tool is behind Belay.

The tool is wrapped by ``belay.guard``: it runs only when Belay allows it or
a person approves it, with the params as approved (a reviewer may lower the
amount), after claiming the request; its outcome is reported.

When Belay holds the refund for approval, the guard uses LangGraph's own
approval hook, ``interrupt()``: the run stops (its state kept by the
checkpointer) and the host resumes it once a reviewer has decided in
Belay's queue. On resume LangGraph runs the tool node again; the guard
submits again under the same Idempotency-Key (made from the tool call id),
so it finds the same request -- now decided -- instead of making a new one.

The "model" here is scripted, so the example runs without a model or a
network (the tests drive it against a real Belay). Swap ``ScriptedModel``
for a chat model with ``.bind_tools([refund])`` to use a real one.

Run it by hand against a Belay you started::

    BELAY_URL=http://127.0.0.1:3000 BELAY_API_KEY=belay_... python langgraph_refunds.py
"""

import uuid
from collections.abc import Callable
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, ToolMessage
from langchain_core.tools import InjectedToolCallId, tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command, interrupt

from belay_client import Action, ActionBlocked, Belay

Model = Callable[[list[AnyMessage]], AIMessage]


class ScriptedModel:
    """Stands in for an LLM: asks for one refund, then says what the tool answered."""

    def __init__(self, customer: str, amount: int) -> None:
        self.customer = customer
        self.amount = amount

    def __call__(self, messages: list[AnyMessage]) -> AIMessage:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            return AIMessage(content=f"Refund finished: {last.content}")
        call = {
            "name": "refund",
            "args": {"customer": self.customer, "amount": self.amount},
            "id": f"call_{uuid.uuid4().hex}",
            "type": "tool_call",
        }
        return AIMessage(content="", tool_calls=[call])


def pause_for_review(action: Action) -> None:
    """LangGraph's approval hook: stop the run until a person decides in Belay.

    The first time, ``interrupt`` stops the graph here (nothing has run).
    When the host resumes, it returns and the guard waits for the decision.
    """
    interrupt(
        {
            "belay_action": action.id,
            "summary": action.summary,
            "held_for": list(action.held_for),
            "reasons": action.reasons,
        }
    )


def build_graph(belay: Belay, model: Model, refunds: list[tuple[str, int]]) -> Any:
    """The agent: model -> (tool calls?) -> tools -> model -> ... ; ``refunds`` records
    every refund actually carried out."""

    @tool
    @belay.guard(
        "billing.refund",
        target="{customer}",
        summary="Refund {amount} cents to {customer}",
        exclude=["tool_call_id"],
        idempotency_key=lambda args: f"langgraph-{args['tool_call_id']}",
        on_pending=pause_for_review,
        approval_timeout=60,
    )
    def refund(customer: str, amount: int, tool_call_id: Annotated[str, InjectedToolCallId]) -> str:
        """Refund ``amount`` cents to ``customer``."""
        refunds.append((customer, amount))  # the real payment call goes here
        return f"refunded {amount} cents to {customer}"

    def agent(state: MessagesState) -> dict[str, list[AnyMessage]]:
        return {"messages": [model(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    # Belay's "no" goes back to the model as the tool's answer, so it can adapt.
    graph.add_node("tools", ToolNode([refund], handle_tool_errors=(ActionBlocked,)))
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", tools_condition, {"tools": "tools", END: END})
    graph.add_edge("tools", "agent")
    return graph.compile(checkpointer=InMemorySaver())


def start(graph: Any, thread_id: str, request: str) -> dict[str, Any]:
    config = {"configurable": {"thread_id": thread_id}}
    return dict(graph.invoke({"messages": [HumanMessage(request)]}, config))


def resume(graph: Any, thread_id: str) -> dict[str, Any]:
    config = {"configurable": {"thread_id": thread_id}}
    return dict(graph.invoke(Command(resume="decided in Belay"), config))


def main() -> None:
    refunds: list[tuple[str, int]] = []
    with Belay() as belay:  # BELAY_URL, BELAY_API_KEY
        graph = build_graph(belay, ScriptedModel("customer-42", 900), refunds)
        result = start(graph, "demo", "Customer 42 was charged twice; refund 9 euros.")
        while "__interrupt__" in result:
            held = result["__interrupt__"][0].value
            print(f"Held by Belay: {held['summary']} ({', '.join(held['held_for'])})")
            input("Decide it in Belay's approval queue, then press Enter... ")
            result = resume(graph, "demo")
        print(result["messages"][-1].content)


if __name__ == "__main__":
    main()
