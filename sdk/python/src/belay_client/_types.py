"""The closed vocabularies of the agent API, as the OpenAPI document spells them.

Each ``Literal`` has a tuple beside it with the same values, for code that
checks at run time (the test suite compares them with the served document).
"""

from __future__ import annotations

from typing import Any, Literal, Union

JSON = Union[None, bool, int, float, str, list[Any], dict[str, Any]]
"""Any JSON value."""

Decision = Literal["allowed", "pending_approval", "drafted", "denied"]
DECISIONS: tuple[Decision, ...] = ("allowed", "pending_approval", "drafted", "denied")

State = Literal[
    "allowed",
    "drafted",
    "denied",
    "pending_approval",
    "approved",
    "rejected",
    "expired",
    "cancelled",
    "executing",
    "succeeded",
    "failed",
]
STATES: tuple[State, ...] = (
    "allowed",
    "drafted",
    "denied",
    "pending_approval",
    "approved",
    "rejected",
    "expired",
    "cancelled",
    "executing",
    "succeeded",
    "failed",
)

#: States in which the request will never run: Belay said no, or nobody said yes in time.
NEVER_RUNS: frozenset[str] = frozenset({"drafted", "denied", "rejected", "expired", "cancelled"})
#: States in which the request already ran, or is running.
CARRIED_OUT: frozenset[str] = frozenset({"executing", "succeeded", "failed"})

Stage = Literal["observe", "draft", "propose", "act_with_approval", "scoped_autonomy"]
STAGES: tuple[Stage, ...] = ("observe", "draft", "propose", "act_with_approval", "scoped_autonomy")

RuleKey = Literal[
    "external_send",
    "purchase",
    "privileged_change",
    "production_write",
    "customer_visible",
    "destructive",
    "credential_use",
    "out_of_scope",
    "first_use",
    "unknown_capability",
    "proposal",
]
RULE_KEYS: tuple[RuleKey, ...] = (
    "external_send",
    "purchase",
    "privileged_change",
    "production_write",
    "customer_visible",
    "destructive",
    "credential_use",
    "out_of_scope",
    "first_use",
    "unknown_capability",
    "proposal",
)

EvidenceType = Literal[
    "screenshot",
    "dom_snapshot",
    "request_log",
    "events",
    "plan",
    "prompt",
    "extracted_data",
    "diff",
]
EVIDENCE_TYPES: tuple[EvidenceType, ...] = (
    "screenshot",
    "dom_snapshot",
    "request_log",
    "events",
    "plan",
    "prompt",
    "extracted_data",
    "diff",
)

EvidencePhase = Literal["request", "outcome"]
EVIDENCE_PHASES: tuple[EvidencePhase, ...] = ("request", "outcome")

CarriedOutBy = Literal["agent", "human"]
CARRIED_OUT_BY: tuple[CarriedOutBy, ...] = ("agent", "human")

AgentStatus = Literal["active", "suspended"]
AGENT_STATUSES: tuple[AgentStatus, ...] = ("active", "suspended")

OutcomeStatus = Literal["succeeded", "failed"]
OUTCOME_STATUSES: tuple[OutcomeStatus, ...] = ("succeeded", "failed")

RunEventKind = Literal[
    "prompt",
    "plan",
    "page_visited",
    "extracted_data",
    "note",
    "error",
    "escalation",
]
RUN_EVENT_KINDS: tuple[RunEventKind, ...] = (
    "prompt",
    "plan",
    "page_visited",
    "extracted_data",
    "note",
    "error",
    "escalation",
)

EscalationState = Literal["open", "answered"]
ESCALATION_STATES: tuple[EscalationState, ...] = ("open", "answered")
