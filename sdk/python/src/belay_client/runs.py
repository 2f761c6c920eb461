"""Runs: one task of an agent, followed as one timeline in Belay.

Send ``run_id`` with each submission and report what happens along the way
with ``run_event`` (prompt, plan, page visited, extracted data, note,
error); when the agent meets a state it did not expect, ``escalate`` asks a
person, and ``wait_for_answer`` long-polls until one answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Optional, cast

from ._types import JSON, EscalationState, RunEventKind, State
from .errors import BelayError

_RUN_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


def check_run_id(run_id: str) -> str:
    """A run's name: 1 to 100 of ``A-Z a-z 0-9 . _ : -`` (Belay refuses others)."""
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise BelayError(f"not a run id (1 to 100 of A-Z, a-z, 0-9, '.', '_', ':', '-'): {run_id!r}")
    return run_id


def event_body(
    kind: str, text: Optional[str], url: Optional[str], data: JSON = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": kind}
    if text is not None:
        body["text"] = text
    if url is not None:
        body["url"] = url
    if data is not None:
        body["data"] = data
    return body


@dataclass(frozen=True)
class Escalation:
    """Where an escalation stands: ``open`` until a person answers it."""

    state: EscalationState
    #: What the person says to do now.
    answer: Optional[str] = None
    answered_at: Optional[str] = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Escalation:
        answer = data.get("answer")
        at = data.get("answered_at")
        return cls(
            state=cast(EscalationState, str(data["state"])),
            answer=None if answer is None else str(answer),
            answered_at=None if at is None else str(at),
        )


@dataclass(frozen=True)
class RunEvent:
    """One event of a run (``/api/v1/runs/{run_id}/events/{id}``)."""

    id: str
    #: The run's name, as the agent chose it.
    run_id: str
    kind: RunEventKind
    at: str
    text: Optional[str] = None
    url: Optional[str] = None
    data: JSON = None
    escalation: Optional[Escalation] = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False,
                                metadata={"wire": False})

    @property
    def is_open(self) -> bool:
        """An escalation nobody has answered yet."""
        return self.escalation is not None and self.escalation.state == "open"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunEvent:
        escalation = data.get("escalation")
        text, url = data.get("text"), data.get("url")
        return cls(
            id=str(data["id"]),
            run_id=str(data["run_id"]),
            kind=cast(RunEventKind, str(data["kind"])),
            at=str(data["at"]),
            text=None if text is None else str(text),
            url=None if url is None else str(url),
            data=data.get("data"),
            escalation=Escalation.from_json(escalation) if isinstance(escalation, dict) else None,
            raw=data,
        )


@dataclass(frozen=True)
class RunAction:
    """A request submitted with the run's ``run_id``, in brief."""

    id: str
    capability: str
    state: State
    created_at: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunAction:
        return cls(
            id=str(data["id"]),
            capability=str(data["capability"]),
            state=cast(State, str(data["state"])),
            created_at=str(data["created_at"]),
        )


@dataclass(frozen=True)
class Run:
    """One of the agent's runs: its latest events and requests, newest first."""

    run_id: str
    started_at: str
    last_at: str
    events: list[RunEvent]
    actions: list[RunAction]
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False,
                                metadata={"wire": False})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        events = data.get("events")
        actions = data.get("actions")
        return cls(
            run_id=str(data["run_id"]),
            started_at=str(data["started_at"]),
            last_at=str(data["last_at"]),
            events=[RunEvent.from_json(e) for e in events if isinstance(e, dict)]
            if isinstance(events, list) else [],
            actions=[RunAction.from_json(a) for a in actions if isinstance(a, dict)]
            if isinstance(actions, list) else [],
            raw=data,
        )
