"""The asynchronous client (``httpx.AsyncClient``); the same calls as ``Belay``, awaited."""

from __future__ import annotations

import time

import anyio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Optional, TypeVar, Union, cast

import httpx

from . import _core
from ._core import Call, RetryPolicy
from .errors import TransportError, error_from_response
from .evidence import Evidence
from ._guard import GuardOptions, guard_async
from ._protocols import Arguments, Text
from .models import Action, Me
from .runs import Run, RunEvent, check_run_id, event_body
from ._types import JSON, RunEventKind

F = TypeVar("F", bound=Callable[..., Any])


class AsyncBelay:
    """A client for Belay's agent API, for one agent (one API key).

    >>> async with AsyncBelay("http://127.0.0.1:3000", api_key) as belay:   # doctest: +SKIP
    ...     action = await belay.submit("email.send", "customer@example.com",
    ...                                 "Send the reminder", {"template": "reminder"})
    ...     action = await belay.wait(action.id, timeout=600)

    ``base_url`` and ``api_key`` default to ``BELAY_URL`` and ``BELAY_API_KEY``.
    Calls that are safe to repeat are retried on transport errors, 5xx and
    429 (honouring ``Retry-After``); a submission keeps one ``Idempotency-Key``
    across its retries, so it is made once. Claims, outcomes, evidence
    uploads and cancels are repeated only when Belay surely did not act.
    """

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        max_retry_after: float = 60.0,
        headers: Optional[Mapping[str, str]] = None,
        transport: Optional[httpx.AsyncBaseTransport] = None,
        http_client: Optional[httpx.AsyncClient] = None,
    ) -> None:
        self.base_url = _core.api_base(base_url)
        self._headers = _core.default_headers(_core.api_key_from(api_key), headers)
        self._timeout = httpx.Timeout(timeout)
        self.retry = RetryPolicy(max_retries, backoff, max_backoff, max_retry_after)
        self._own_client = http_client is None
        self._http = http_client or httpx.AsyncClient(transport=transport, timeout=self._timeout)
        self._sleep: Callable[[float], Awaitable[None]] = anyio.sleep

    # -- plumbing -------------------------------------------------------------

    async def aclose(self) -> None:
        if self._own_client:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncBelay:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(self, call: Call) -> httpx.Response:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    call.method,
                    self.base_url + call.path,
                    content=call.content,
                    files=call.files,
                    params=call.params,
                    headers={**self._headers, **call.headers},
                    timeout=_core.timeout_for(self._timeout, call),
                )
            except httpx.TransportError as exc:
                delay = self.retry.after_exception(attempt, call, exc)
                if delay is None:
                    raise TransportError(
                        f"{call.method} {call.path}: {type(exc).__name__}: {exc}", cause=exc
                    ) from exc
            else:
                if response.status_code in call.ok:
                    return response
                delay = self.retry.after_response(attempt, call, response)
                if delay is None:
                    raise error_from_response(response)
            await self._sleep(delay)
            attempt += 1

    async def _action(self, call: Call) -> Action:
        response = await self._send(call)
        return Action.from_json(
            response.json(), replayed=response.headers.get("idempotent-replayed") == "true"
        )

    # -- the API --------------------------------------------------------------

    async def me(self) -> Me:
        """The calling agent: stage, status, scope and limits."""
        return Me.from_json((await self._send(Call("GET", "/me", "always"))).json())

    async def openapi(self) -> dict[str, Any]:
        """The OpenAPI document Belay serves (the machine-readable contract)."""
        body = (await self._send(Call("GET", "/openapi.json", "always"))).json()
        return body if isinstance(body, dict) else {}

    async def submit(
        self,
        capability: str,
        target: str,
        summary: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        evidence: Iterable[Evidence] = (),
        observation: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        run_id: Optional[str] = None,
    ) -> Action:
        """Ask Belay before acting. Answers the decided request (``decision``, ``reasons``, ...).

        One ``Idempotency-Key`` (``idempotency_key``, or a fresh one) is sent
        with every try of this submission; pass your own to make a submission
        that survives a restart of your process (the same key and body give
        the same request, ``action.replayed`` is then ``True``). ``run_id``
        puts the request on that run's timeline (see ``run_event``).
        """
        run = None if run_id is None else check_run_id(run_id)
        body = _core.submission_body(
            capability, target, summary, params, evidence, observation, run
        )
        key = idempotency_key or _core.new_idempotency_key()
        call = Call("POST", "/actions", "always", headers={"Idempotency-Key": key}).json(body)
        return await self._action(call)

    async def get(self, action_id: str) -> Action:
        """The request as it is now."""
        return await self._action(Call("GET", f"/actions/{_core.check_id(action_id)}", "always"))

    async def wait(
        self,
        action_id: str,
        *,
        timeout: Optional[float] = None,
        poll: int = _core.MAX_WAIT_PER_POLL,
    ) -> Action:
        """Long-poll until the request is no longer waiting for approval, or ``timeout`` seconds pass.

        Answers the request as last seen: check ``action.state`` (it is still
        ``pending_approval`` if the deadline passed). ``timeout=None`` waits
        until Belay decides (requests always expire in the end).
        """
        action_id = _core.check_id(action_id)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return await self.get(action_id)
            secs = _core.poll_seconds(remaining, poll)
            call = Call(
                "GET",
                f"/actions/{action_id}",
                "always",
                params={"wait": str(secs)},
                read_timeout=secs + self._timeout_read(),
            )
            action = await self._action(call)
            if not action.is_pending:
                return action
            if deadline is not None and time.monotonic() >= deadline:
                return action

    def _timeout_read(self) -> float:
        return self._timeout.read if self._timeout.read is not None else 30.0

    async def claim(self, action_id: str) -> Action:
        """Claim an approved request to carry it out: exactly once (a second claim is ``Conflict``).

        Answers the request with ``approved_params``: what to carry out,
        possibly edited by a reviewer.
        """
        return await self._action(Call("POST", f"/actions/{_core.check_id(action_id)}/claim", "unsent"))

    async def report_outcome(
        self,
        action_id: str,
        status: str,
        *,
        details: Optional[str] = None,
        incident: bool = False,
        evidence: Iterable[Evidence] = (),
    ) -> Action:
        """Report ``succeeded`` or ``failed``, once, for a claimed or allowed request."""
        body = _core.outcome_body(status, details, incident, evidence)
        call = Call("POST", f"/actions/{_core.check_id(action_id)}/outcome", "unsent").json(body)
        return await self._action(call)

    async def report_success(
        self, action_id: str, details: Optional[str] = None, *, evidence: Iterable[Evidence] = ()
    ) -> Action:
        return await self.report_outcome(action_id, "succeeded", details=details, evidence=evidence)

    async def report_failure(
        self,
        action_id: str,
        details: Optional[str] = None,
        *,
        incident: bool = False,
        evidence: Iterable[Evidence] = (),
    ) -> Action:
        return await self.report_outcome(
            action_id, "failed", details=details, incident=incident, evidence=evidence
        )

    async def add_evidence(self, action_id: str, *pieces: Evidence) -> Action:
        """Attach evidence to a request that still waits (multipart upload).

        Approvals given before stop counting: reviewers approve what they saw.
        """
        call = Call(
            "POST",
            f"/actions/{_core.check_id(action_id)}/evidence",
            "unsent",
            files=_core.evidence_parts(pieces),
        )
        return await self._action(call)

    async def cancel(self, action_id: str) -> Action:
        """Withdraw a request that waits for approval (``Conflict`` once decided)."""
        return await self._action(Call("POST", f"/actions/{_core.check_id(action_id)}/cancel", "unsent"))

    # -- runs -----------------------------------------------------------------

    async def run_event(
        self,
        run_id: str,
        kind: RunEventKind,
        *,
        text: Optional[str] = None,
        url: Optional[str] = None,
        data: JSON = None,
    ) -> RunEvent:
        """Report what happened in run ``run_id`` (see ``Belay.run_event``)."""
        body = event_body(kind, text, url, data)
        call = Call("POST", f"/runs/{check_run_id(run_id)}/events", "unsent").json(body)
        return RunEvent.from_json((await self._send(call)).json())

    async def escalate(self, run_id: str, text: str, *, data: JSON = None) -> RunEvent:
        """Ask a person about a state the agent did not expect; read the answer with ``wait_for_answer``."""
        return await self.run_event(run_id, "escalation", text=text, data=data)

    async def get_run(self, run_id: str) -> Run:
        """One of this agent's runs: its latest events and requests."""
        call = Call("GET", f"/runs/{check_run_id(run_id)}", "always")
        return Run.from_json((await self._send(call)).json())

    async def get_run_event(self, run_id: str, event_id: str) -> RunEvent:
        path = f"/runs/{check_run_id(run_id)}/events/{_core.check_id(event_id)}"
        return RunEvent.from_json((await self._send(Call("GET", path, "always"))).json())

    async def wait_for_answer(
        self, run_id: str, event_id: str, *, timeout: Optional[float] = None
    ) -> RunEvent:
        """Long-poll until a person answers the escalation, or ``timeout`` seconds pass."""
        path = f"/runs/{check_run_id(run_id)}/events/{_core.check_id(event_id)}"
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return await self.get_run_event(run_id, event_id)
            secs = _core.poll_seconds(remaining, _core.MAX_WAIT_PER_POLL)
            call = Call("GET", path, "always", params={"wait": str(secs)},
                        read_timeout=secs + self._timeout_read())
            event = RunEvent.from_json((await self._send(call)).json())
            if not event.is_open:
                return event
            if deadline is not None and time.monotonic() >= deadline:
                return event

    # -- guard ----------------------------------------------------------------

    def guard(
        self,
        capability: str,
        *,
        target: Optional[Text] = None,
        summary: Optional[Text] = None,
        evidence: Optional[Union[Iterable[Evidence], Callable[[Arguments], Iterable[Evidence]]]] = None,
        observation: Optional[Text] = None,
        exclude: Iterable[str] = (),
        approval_timeout: Optional[float] = 900.0,
        cancel_on_timeout: bool = True,
        idempotency_key: Optional[Callable[[Arguments], Optional[str]]] = None,
        on_pending: Optional[Callable[[Action], Any]] = None,
        describe_result: Optional[Callable[[Any], Optional[str]]] = None,
        incident: Optional[Callable[[BaseException], bool]] = None,
    ) -> Callable[[F], F]:
        """Decorate an async function so it runs only when Belay allows it or a person approves it.

        See ``belay_client.GuardOptions`` for every option. The wrapped
        function is called with the approved arguments (a reviewer may have
        edited them), after the request is claimed, and its outcome is
        reported; otherwise it is not called and an ``ActionBlocked`` error
        says why.
        """
        options = GuardOptions(
            capability=capability,
            target=target,
            summary=summary,
            evidence=evidence,
            observation=observation,
            exclude=tuple(exclude),
            approval_timeout=approval_timeout,
            cancel_on_timeout=cancel_on_timeout,
            idempotency_key=idempotency_key,
            on_pending=on_pending,
            describe_result=describe_result,
            incident=incident,
        )

        def decorate(fn: F) -> F:
            return cast(F, guard_async(self, fn, options))

        return decorate
