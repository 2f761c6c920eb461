"""What the sync and async clients share: settings, request bodies and the
retry policy. No I/O happens here."""

from __future__ import annotations

import json
import math
import os
import random
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import httpx

from ._version import __version__
from .errors import BelayError, parse_retry_after
from .evidence import Evidence

#: Longest long-poll Belay holds (it caps ``?wait=`` at its own maximum anyway).
MAX_WAIT_PER_POLL = 60

#: ``always``: safe to repeat whatever happened (reads; submissions, which carry
#: an Idempotency-Key). ``unsent``: repeat only when Belay surely did not act
#: (the connection never opened, or it answered 429 / 503 before acting), so a
#: claim or an outcome is never sent twice by the SDK.
RetryMode = Literal["always", "unsent"]

_RETRY_STATUSES = {
    "always": frozenset({429, 500, 502, 503, 504}),
    "unsent": frozenset({429, 503}),
}
_UNSENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def new_idempotency_key() -> str:
    """A fresh key for one logical submission."""
    return f"belay-py-{uuid.uuid4().hex}"


def api_base(base_url: Optional[str]) -> str:
    """``http://host:port`` or ``.../api/v1`` -> the API's base URL."""
    url = base_url or os.environ.get("BELAY_URL")
    if not url:
        raise ValueError("pass base_url (e.g. http://127.0.0.1:3000) or set BELAY_URL")
    url = url.rstrip("/")
    if not url.endswith("/api/v1"):
        url += "/api/v1"
    return url


def api_key_from(api_key: Optional[str]) -> str:
    key = api_key or os.environ.get("BELAY_API_KEY")
    if not key:
        raise ValueError("pass api_key or set BELAY_API_KEY")
    return key


def default_headers(api_key: str, extra: Optional[Mapping[str, str]]) -> dict[str, str]:
    headers = {
        "Authorization": f"Bearer {api_key}",
        "Accept": "application/json, application/problem+json",
        "User-Agent": f"belay-client-python/{__version__}",
    }
    headers.update(extra or {})
    return headers


def encode_json(body: Any) -> bytes:
    """Strict JSON: NaN, infinities and non-JSON values fail here, before sending."""
    return json.dumps(body, allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode(
        "utf-8"
    )


@dataclass
class Call:
    """One API call, as the clients send it (and send again on a retry)."""

    method: str
    path: str
    retry: RetryMode
    content: Optional[bytes] = None
    files: Optional[list[tuple[str, tuple[str, bytes, str]]]] = None
    params: Optional[dict[str, str]] = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Read timeout for this call, if not the client's (long-polls).
    read_timeout: Optional[float] = None
    #: Status codes that are an answer, not an error, for this call.
    ok: frozenset[int] = frozenset({200, 201})

    def json(self, body: Any) -> Call:
        self.content = encode_json(body)
        self.headers["Content-Type"] = "application/json"
        return self


def submission_body(
    capability: str,
    target: str,
    summary: str,
    params: Optional[Mapping[str, Any]],
    evidence: Iterable[Evidence],
    observation: Optional[str],
    run_id: Optional[str] = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"capability": capability, "target": target, "summary": summary}
    if run_id is not None:
        body["run_id"] = run_id
    if params is not None:
        body["params"] = dict(params)
    pieces = [e.to_json() for e in evidence]
    if pieces:
        body["evidence"] = pieces
    if observation is not None:
        body["observation"] = observation
    return body


def outcome_body(
    status: str, details: Optional[str], incident: bool, evidence: Iterable[Evidence]
) -> dict[str, Any]:
    if status not in ("succeeded", "failed"):
        raise ValueError("an outcome is 'succeeded' or 'failed'")
    body: dict[str, Any] = {"status": status}
    if details is not None:
        body["details"] = details
    if incident:
        body["incident"] = True
    pieces = [e.to_json() for e in evidence]
    if pieces:
        body["evidence"] = pieces
    return body


def evidence_parts(pieces: Iterable[Evidence]) -> list[tuple[str, tuple[str, bytes, str]]]:
    parts = [e.to_part() for e in pieces]
    if not parts:
        raise ValueError("add_evidence needs at least one piece of evidence")
    return parts


def poll_seconds(remaining: Optional[float], per_poll: int) -> int:
    """How long the next long-poll asks Belay to hold: whole seconds, at least 1."""
    if remaining is None:
        return per_poll
    return max(1, min(per_poll, math.ceil(remaining)))


@dataclass
class RetryPolicy:
    """Exponential back-off with jitter, honouring ``Retry-After``.

    ``max_retries`` repeats after the first try. A ``Retry-After`` longer than
    ``max_retry_after`` seconds is not waited out: the error is raised, with
    ``retry_after`` on it.
    """

    max_retries: int = 3
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def _backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff, self.backoff * (2**attempt)) * random.uniform(0.5, 1.0))

    def after_response(self, attempt: int, call: Call, response: httpx.Response) -> Optional[float]:
        """Seconds to wait before trying again, or ``None`` to stop."""
        if attempt >= self.max_retries or response.status_code not in _RETRY_STATUSES[call.retry]:
            return None
        after = parse_retry_after(response.headers.get("retry-after"))
        if after is None:
            return self._backoff(attempt)
        if after > self.max_retry_after:
            return None
        return after

    def after_exception(self, attempt: int, call: Call, exc: Exception) -> Optional[float]:
        if attempt >= self.max_retries:
            return None
        if call.retry == "always" and isinstance(exc, httpx.TransportError):
            return self._backoff(attempt)
        if isinstance(exc, _UNSENT_ERRORS):
            return self._backoff(attempt)
        return None


def check_id(action_id: str) -> str:
    if not action_id or "/" in action_id or action_id.strip() != action_id:
        raise BelayError(f"not an action id: {action_id!r}")
    return action_id


def timeout_for(base: httpx.Timeout, call: Call) -> httpx.Timeout:
    if call.read_timeout is None:
        return base
    return httpx.Timeout(
        connect=base.connect, read=call.read_timeout, write=base.write, pool=base.pool
    )
