"""What the guard says: free text Belay accepts, and the error for a request it may not run.

Split from ``_guard`` (which re-exports ``check_runnable`` and ``clean_text``);
it imports nothing from the guard or the clients.
"""

from __future__ import annotations

import re
from typing import Optional

from ._types import CARRIED_OUT
from .errors import (
    ActionBlocked,
    ActionCancelled,
    ActionDenied,
    ActionDrafted,
    ActionExpired,
    ActionRejected,
    AlreadyCarriedOut,
    HumanMustCarryOut,
)
from .models import Action

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_text(text: Optional[str], limit: int = 10_000) -> Optional[str]:
    """Text Belay accepts as free text: no control characters, not blank, bounded."""
    if text is None:
        return None
    text = _CONTROL.sub(" ", text).strip()[:limit].strip()
    return text or None


def failure_details(exc: BaseException) -> str:
    """An exception as the details of a ``failed`` outcome."""
    return clean_text(f"{type(exc).__name__}: {exc}") or type(exc).__name__


_BLOCKED: dict[str, type[ActionBlocked]] = {
    "denied": ActionDenied,
    "drafted": ActionDrafted,
    "rejected": ActionRejected,
    "expired": ActionExpired,
    "cancelled": ActionCancelled,
}


def _describe(action: Action) -> str:
    text = f"{action.capability} on {action.target!r} was {action.state.replace('_', ' ')}"
    if action.decision_note:
        text += f": {action.decision_note}"
    elif action.reasons:
        text += f" ({'; '.join(action.reasons)})"
    return text


def check_runnable(action: Action) -> None:
    """Raise the ``ActionBlocked`` error for a request the agent may not carry out now.

    Fails closed: only ``allowed``, and ``approved`` for the agent to carry
    out, pass; an unknown state is refused.
    """
    if action.state == "allowed":
        return
    if action.state == "approved":
        if action.carried_out_by != "agent":
            raise HumanMustCarryOut(
                f"{action.capability} on {action.target!r} was approved for a person to carry out "
                f"(decided at {action.stage}); the agent never runs it",
                action,
            )
        return
    if action.state in CARRIED_OUT:
        raise AlreadyCarriedOut(
            f"request {action.id} was already claimed or carried out ({action.state})", action
        )
    raise _BLOCKED.get(action.state, ActionBlocked)(_describe(action), action)


__all__ = ["check_runnable", "clean_text", "failure_details"]
