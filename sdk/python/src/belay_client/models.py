"""What the agent API answers, as typed, read-only dataclasses.

Every model keeps the JSON it was read from in ``raw``, so a field a newer
Belay adds is never lost. Values of the closed vocabularies (states,
decisions, stages, ...) are kept as the strings the server sent: an unknown
one from a newer server is not an error here, and the ``guard`` helper
treats anything it does not know as "do not run".
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Optional, cast

from ._types import JSON, CarriedOutBy, Decision, EvidencePhase, RuleKey, Stage, State


def _local(**kwargs: Any) -> Any:
    """A field the SDK adds itself; it is not in the API's JSON."""
    return field(metadata={"wire": False}, **kwargs)


def wire_fields(model: type[Any]) -> list[str]:
    """The JSON property names a model reads (the drift test checks them)."""
    return [f.name for f in dataclasses.fields(model) if f.metadata.get("wire", True)]


def _opt_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _str_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(v) for v in value]


def _opt_obj(value: Any) -> Optional[dict[str, Any]]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


@dataclass(frozen=True)
class EvidenceInfo:
    """One stored piece of evidence on a request (its bytes stay in Belay)."""

    id: str
    type: str
    media_type: str
    size_bytes: int
    sha256: str
    #: ``request``: sent with the request (reviewers saw it); ``outcome``: sent with the report.
    phase: Optional[EvidencePhase] = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvidenceInfo:
        phase = data.get("phase")
        return cls(
            id=str(data["id"]),
            type=str(data["type"]),
            media_type=str(data["media_type"]),
            size_bytes=int(data["size_bytes"]),
            sha256=str(data["sha256"]),
            phase=cast(Optional[EvidencePhase], phase),
        )


@dataclass(frozen=True)
class Action:
    """One action request as the agent sees it (``/api/v1/actions/{id}``)."""

    id: str
    capability: str
    target: str
    summary: str
    #: The params as submitted.
    params: dict[str, Any]
    decision: Decision
    reasons: list[str]
    policy_version: int
    state: State
    created_at: str
    stage: Stage
    held_for: list[RuleKey]
    approvals_required: int
    approvals: int
    #: ``agent``: the agent carries it out once allowed or approved; ``human``:
    #: decided at ``propose``, a person carries it out and the agent never does.
    carried_out_by: Optional[CarriedOutBy]
    payload_hash: str
    incident: bool
    evidence: list[EvidenceInfo]
    #: Once approved: what may be carried out, the params as a reviewer edited them.
    approved_params: Optional[dict[str, Any]] = None
    #: A reviewer's edit, per param: ``{"amount": {"before": 900, "after": 500}}``.
    correction: Optional[dict[str, Any]] = None
    expires_at: Optional[str] = None
    decided_at: Optional[str] = None
    decision_note: Optional[str] = None
    claim_by: Optional[str] = None
    claimed_at: Optional[str] = None
    outcome_at: Optional[str] = None
    outcome_detail: Optional[str] = None
    #: ``True`` when Belay answered a submission with the request an earlier
    #: submission under the same ``Idempotency-Key`` made (``Idempotent-Replayed``).
    replayed: bool = _local(default=False)
    #: The JSON this was read from.
    raw: dict[str, Any] = _local(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any], *, replayed: bool = False) -> Action:
        params = data.get("params")
        return cls(
            id=str(data["id"]),
            capability=str(data.get("capability", "")),
            target=str(data.get("target", "")),
            summary=str(data.get("summary", "")),
            params=cast(dict[str, Any], params) if isinstance(params, dict) else {},
            decision=cast(Decision, str(data["decision"])),
            reasons=_str_list(data.get("reasons")),
            policy_version=int(data.get("policy_version", 0)),
            state=cast(State, str(data["state"])),
            created_at=str(data.get("created_at", "")),
            stage=cast(Stage, str(data.get("stage", ""))),
            held_for=cast(list[RuleKey], _str_list(data.get("held_for"))),
            approvals_required=int(data.get("approvals_required", 0)),
            approvals=int(data.get("approvals", 0)),
            carried_out_by=cast(Optional[CarriedOutBy], _opt_str(data.get("carried_out_by"))),
            payload_hash=str(data.get("payload_hash", "")),
            incident=bool(data.get("incident", False)),
            evidence=[
                EvidenceInfo.from_json(e) for e in data.get("evidence") or [] if isinstance(e, dict)
            ],
            approved_params=_opt_obj(data.get("approved_params")),
            correction=_opt_obj(data.get("correction")),
            expires_at=_opt_str(data.get("expires_at")),
            decided_at=_opt_str(data.get("decided_at")),
            decision_note=_opt_str(data.get("decision_note")),
            claim_by=_opt_str(data.get("claim_by")),
            claimed_at=_opt_str(data.get("claimed_at")),
            outcome_at=_opt_str(data.get("outcome_at")),
            outcome_detail=_opt_str(data.get("outcome_detail")),
            replayed=replayed,
            raw=data,
        )

    @property
    def is_pending(self) -> bool:
        """Still waiting for a human decision."""
        return self.state == "pending_approval"

    @property
    def is_allowed(self) -> bool:
        """Allowed outright by the policy: the agent may act now (no claim needed)."""
        return self.state == "allowed"

    @property
    def is_approved(self) -> bool:
        """Approved by people and not yet claimed."""
        return self.state == "approved"

    @property
    def edited(self) -> bool:
        """A reviewer changed the params before approving."""
        return self.correction is not None and len(self.correction) > 0

    @property
    def params_to_run(self) -> Optional[dict[str, Any]]:
        """The params the agent may carry out, or ``None`` if it may not.

        For an allowed request, the params as submitted; for an approved (or
        claimed) one, ``approved_params`` -- possibly edited by a reviewer.
        """
        if self.state == "allowed":
            return self.params
        if self.state in ("approved", "executing") and self.carried_out_by == "agent":
            return self.approved_params if self.approved_params is not None else None
        return None


@dataclass(frozen=True)
class Limits:
    """The limits of one grant, with the last hour's use."""

    max_per_hour: Optional[int] = None
    used_last_hour: Optional[int] = None
    #: Parameter bounds, e.g. ``amount <= 500``.
    params: list[str] = field(default_factory=list)
    #: Allowed targets: exact, or a prefix ending in ``*``; empty: any target.
    targets: list[str] = field(default_factory=list)
    expires_at: Optional[str] = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Limits:
        mph = data.get("max_per_hour")
        used = data.get("used_last_hour")
        return cls(
            max_per_hour=None if mph is None else int(mph),
            used_last_hour=None if used is None else int(used),
            params=_str_list(data.get("params")),
            targets=_str_list(data.get("targets")),
            expires_at=_opt_str(data.get("expires_at")),
        )


@dataclass(frozen=True)
class Grant:
    """One capability in the agent's scope."""

    capability: str
    #: ``False``: the stored grant cannot be read, and using it is out of scope.
    readable: bool
    in_catalog: Optional[bool] = None
    stage: Optional[Stage] = None
    triggers: list[str] = field(default_factory=list)
    #: Triggers that pause even at ``scoped_autonomy``.
    always_approve: list[str] = field(default_factory=list)
    #: ``True`` until one request for it has been approved.
    first_use_pending: Optional[bool] = None
    expired: Optional[bool] = None
    limits: Optional[Limits] = None
    #: Why an unreadable grant (``readable`` false) cannot be used.
    note: Optional[str] = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Grant:
        limits = data.get("limits")
        in_catalog = data.get("in_catalog")
        first = data.get("first_use_pending")
        expired = data.get("expired")
        return cls(
            capability=str(data["capability"]),
            readable=bool(data.get("readable", False)),
            in_catalog=None if in_catalog is None else bool(in_catalog),
            stage=cast(Optional[Stage], _opt_str(data.get("stage"))),
            triggers=_str_list(data.get("triggers")),
            always_approve=_str_list(data.get("always_approve")),
            first_use_pending=None if first is None else bool(first),
            expired=None if expired is None else bool(expired),
            limits=Limits.from_json(limits) if isinstance(limits, dict) else None,
            note=_opt_str(data.get("note")),
        )


@dataclass(frozen=True)
class Me:
    """The calling agent (``GET /api/v1/me``)."""

    id: str
    name: str
    stage: Stage
    status: str
    policy_version: int
    scope: list[Grant]
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = _local(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Me:
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            stage=cast(Stage, str(data["stage"])),
            status=str(data["status"]),
            policy_version=int(data.get("policy_version", 0)),
            scope=[Grant.from_json(g) for g in data.get("scope") or [] if isinstance(g, dict)],
            notes=_str_list(data.get("notes")),
            raw=data,
        )

    def grant(self, capability: str) -> Optional[Grant]:
        """The grant for ``capability``, if the agent has one."""
        return next((g for g in self.scope if g.capability == capability), None)


__all__ = ["JSON", "Action", "EvidenceInfo", "Grant", "Limits", "Me", "wire_fields"]
