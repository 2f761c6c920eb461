"""Typed errors.

Everything the SDK raises on purpose is a ``BelayError``:

* ``ApiError`` subclasses: Belay answered with an RFC 9457 problem
  (``application/problem+json``), mapped by status -- ``Unauthorized`` (401),
  ``Forbidden`` (403), ``NotFound`` (404), ``Conflict`` (409),
  ``ValidationError`` (422), ``RateLimited`` (429, with ``retry_after``), ...
* ``TransportError``: Belay could not be reached (after the retries).
* ``ActionBlocked`` subclasses, from ``guard``: the guarded function did not
  run because Belay did not allow it (``ActionDenied``, ``ActionRejected``,
  ``ApprovalTimeout``, ...). Each carries the ``action`` as Belay last showed it.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import TYPE_CHECKING, Any, Optional

import httpx

if TYPE_CHECKING:
    from .models import Action


class BelayError(Exception):
    """Base of every error the SDK raises on purpose.

    ``status``, ``title``, ``detail`` and ``type`` follow RFC 9457; ``status``
    is ``None`` for errors that are not an HTTP answer (transport errors,
    ``guard`` refusals).
    """

    status: Optional[int]
    title: str
    detail: str
    type: str

    def __init__(
        self,
        detail: str,
        *,
        status: Optional[int] = None,
        title: str = "",
        type: str = "about:blank",
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type

    def __str__(self) -> str:
        head = " ".join(p for p in (str(self.status) if self.status else "", self.title) if p)
        return f"{head}: {self.detail}" if head else self.detail


# -- problems Belay answered --------------------------------------------------


class ApiError(BelayError):
    """Belay answered with an error status (a problem details body)."""

    status: int

    def __init__(
        self,
        detail: str,
        *,
        status: int,
        title: str = "",
        type: str = "about:blank",
        problem: Optional[dict[str, Any]] = None,
        response: Optional[httpx.Response] = None,
    ) -> None:
        super().__init__(detail, status=status, title=title, type=type)
        #: The whole problem body (extension members included), if it was JSON.
        self.problem: dict[str, Any] = problem or {}
        self.response = response


class BadRequest(ApiError):
    """400: the request was malformed."""


class Unauthorized(ApiError):
    """401: the API key is missing, unknown, revoked or expired."""


class Forbidden(ApiError):
    """403: the key is good but may not do this (suspended agent, a human carries it out, ...)."""


class NotFound(ApiError):
    """404: no such request -- or it belongs to another agent."""


class MethodNotAllowed(ApiError):
    """405."""


class Conflict(ApiError):
    """409: the request is not in a state for this (already claimed, already decided, stale approval, ...)."""


class Gone(ApiError):
    """410."""


class PayloadTooLarge(ApiError):
    """413: a body, params or piece of evidence is over its size limit."""


class UnsupportedMediaType(ApiError):
    """415: evidence bytes that do not match their type or declared media type."""


class ValidationError(ApiError):
    """422: well-formed but invalid (bad capability name, a reused Idempotency-Key, ...)."""


class RateLimited(ApiError):
    """429: over a quota or throttled; ``retry_after`` seconds until trying again makes sense."""

    def __init__(self, detail: str, *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: Belay failed (it logged the cause)."""


class ServiceUnavailable(ServerError):
    """503: Belay is busy for a moment; ``retry_after`` says when to try again."""

    def __init__(self, detail: str, *, retry_after: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(detail, **kwargs)
        self.retry_after = retry_after


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: ValidationError,
    429: RateLimited,
    503: ServiceUnavailable,
}


def parse_retry_after(value: Optional[str], now: Optional[float] = None) -> Optional[float]:
    """Seconds from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(int(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_from_response(response: httpx.Response) -> ApiError:
    """The typed error for an error answer, read from its problem details."""
    status = response.status_code
    problem: dict[str, Any] = {}
    try:
        body = json.loads(response.content) if response.content else None
        if isinstance(body, dict):
            problem = body
    except ValueError:
        pass
    detail = problem.get("detail")
    if not isinstance(detail, str):
        detail = response.text[:500] if not problem else ""
    title = problem.get("title")
    if not isinstance(title, str):
        title = response.reason_phrase
    ptype = problem.get("type")
    if not isinstance(ptype, str):
        ptype = "about:blank"
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else ApiError)
    kwargs: dict[str, Any] = dict(
        status=status, title=title, type=ptype, problem=problem, response=response
    )
    if cls in (RateLimited, ServiceUnavailable):
        kwargs["retry_after"] = parse_retry_after(response.headers.get("retry-after"))
    return cls(detail, **kwargs)


# -- could not reach Belay ----------------------------------------------------


class TransportError(BelayError):
    """Belay could not be reached, or did not answer in time (after the retries)."""

    def __init__(self, detail: str, *, cause: Optional[BaseException] = None) -> None:
        super().__init__(detail, title="Transport error")
        self.cause = cause


# -- guard: the function did not run -------------------------------------------


class ActionBlocked(BelayError):
    """The guarded function did not run: Belay did not allow it.

    ``action`` is the request as Belay last showed it (``None`` only if the
    refusal came before anything was submitted).
    """

    def __init__(self, detail: str, action: Optional[Action] = None) -> None:
        super().__init__(detail, title=type(self).__name__)
        self.action = action


class ActionDenied(ActionBlocked):
    """Belay refused the action outright (``denied``)."""


class ActionDrafted(ActionBlocked):
    """Belay recorded the action as a draft for humans (the agent is at ``draft``); never executable."""


class ActionRejected(ActionBlocked):
    """A reviewer rejected the action; ``action.decision_note`` says why."""


class ActionExpired(ActionBlocked):
    """Nobody approved in time, or the approval was not claimed in its window. Expiry means no."""


class ActionCancelled(ActionBlocked):
    """The request was withdrawn (by the agent, or when the agent was suspended)."""


class ApprovalTimeout(ActionBlocked):
    """The guard's own deadline passed while the request still waited (it is cancelled by default)."""


class HumanMustCarryOut(ActionBlocked):
    """Approved, but decided at ``propose``: a person carries it out, never the agent."""


class AlreadyCarriedOut(ActionBlocked):
    """The request was claimed or carried out before (a replayed Idempotency-Key)."""


class ApprovedArgumentsInvalid(ActionBlocked):
    """The approved (edited) params do not fit the function's signature; nothing was claimed."""


__all__ = [
    "ActionBlocked",
    "ActionCancelled",
    "ActionDenied",
    "ActionDrafted",
    "ActionExpired",
    "ActionRejected",
    "AlreadyCarriedOut",
    "ApiError",
    "ApprovalTimeout",
    "ApprovedArgumentsInvalid",
    "BadRequest",
    "BelayError",
    "Conflict",
    "Forbidden",
    "Gone",
    "HumanMustCarryOut",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "Unauthorized",
    "UnsupportedMediaType",
    "ValidationError",
    "error_from_response",
    "parse_retry_after",
]
