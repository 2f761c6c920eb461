"""``guard``: run a function only when Belay allows it or a person approves it.

    belay = Belay(url, key)

    @belay.guard("billing.refund", target="{customer}", summary="Refund {amount} to {customer}")
    def refund(customer: str, amount: int) -> str:
        ...

    refund(customer="c-42", amount=900)

A call submits the action (its arguments are the params a reviewer sees),
waits while it is held for approval, and then:

* allowed outright: runs the function with the arguments as submitted;
* approved: claims the request (exactly once; a stale approval is refused)
  and runs the function with the **approved** params -- a reviewer may have
  edited them (``action.approved_params``);
* anything else (denied, drafted, rejected, expired, cancelled, approved for
  a human to carry out, the guard's own deadline): never runs the function
  and raises an ``ActionBlocked`` subclass carrying the action.

After running it reports the outcome: ``succeeded``, or ``failed`` with the
exception (which is raised again). The function receives the params as JSON
values (a tuple comes back as a list); arguments that are not for the
reviewer (clients, handles) go in ``exclude`` and are passed through as given.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional, Union, cast

from . import _core
from ._blocked import check_runnable, clean_text, failure_details
from ._protocols import Arguments, AsyncClient, SyncClient, Text
from .errors import (
    ActionBlocked,
    ApiError,
    ApprovalTimeout,
    ApprovedArgumentsInvalid,
    Conflict,
    Forbidden,
)
from .evidence import Evidence
from .models import Action

log = logging.getLogger("belay_client")


class ClaimRefused(ActionBlocked):
    """Approved, but Belay refused the claim (a stale approval, a demotion, already claimed, ...).

    ``cause`` is the API error (``Conflict`` or ``Forbidden``).
    """

    def __init__(self, detail: str, action: Optional[Action], cause: ApiError) -> None:
        super().__init__(detail, action)
        self.cause = cause


@dataclass(frozen=True)
class GuardOptions:
    """How a guarded call is described to Belay and how long it waits.

    Every text option is a string, a ``str.format`` template over the call's
    arguments, or a function taking the arguments (a mapping of name to value).
    """

    capability: str
    #: What the action acts on (default: the function's name).
    target: Optional[Text] = None
    #: One line for the reviewer (default: ``"<function>(<params>)"``).
    summary: Optional[Text] = None
    #: Evidence sent with the submission: a list, or a function of the arguments.
    evidence: Optional[Union[Iterable[Evidence], Callable[[Arguments], Iterable[Evidence]]]] = None
    observation: Optional[Text] = None
    #: Arguments not sent to Belay and passed to the function as given.
    exclude: tuple[str, ...] = ()
    #: Seconds to wait for a human decision (``None``: until Belay decides or the request expires).
    approval_timeout: Optional[float] = 900.0
    #: On the guard's deadline, withdraw the request so it cannot be approved later.
    cancel_on_timeout: bool = True
    #: A stable key for the call (e.g. a tool call id), so a re-run of the
    #: same logical call finds the same request. Default: a fresh key per call.
    idempotency_key: Optional[Callable[[Arguments], Optional[str]]] = None
    #: Called with the request when it is held for approval (may be async for
    #: ``AsyncBelay``). An exception from it propagates; nothing has run.
    on_pending: Optional[Callable[[Action], Any]] = None
    #: Outcome details for a success (default: none).
    describe_result: Optional[Callable[[Any], Optional[str]]] = None
    #: Whether a failure did harm (reported as an incident, which demotes the capability).
    incident: Optional[Callable[[BaseException], bool]] = None


class _Signature:
    """How a call's arguments become params, and approved params a call."""

    def __init__(self, fn: Callable[..., Any], exclude: Iterable[str]) -> None:
        self.sig = inspect.signature(fn)
        self.exclude = set(exclude)
        names = list(self.sig.parameters)
        if names and names[0] in ("self", "cls"):
            self.exclude.add(names[0])
        for p in self.sig.parameters.values():
            if p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL):
                raise TypeError(
                    f"guard: {getattr(fn, '__qualname__', fn)} takes {p.name} positionally only; "
                    "guarded functions are called with keyword arguments (the approved params)"
                )
        self.var_kw = next(
            (p.name for p in self.sig.parameters.values() if p.kind is p.VAR_KEYWORD), None
        )

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        bound = self.sig.bind(*args, **kwargs)
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        if self.var_kw is not None:
            arguments.update(arguments.pop(self.var_kw, {}))
        return arguments

    def split(self, arguments: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        params = {k: v for k, v in arguments.items() if k not in self.exclude}
        passthrough = {k: v for k, v in arguments.items() if k in self.exclude}
        return params, passthrough

    def call_kwargs(
        self, action: Action, passthrough: Mapping[str, Any]
    ) -> dict[str, Any]:
        approved = action.params_to_run
        if approved is None:
            raise ApprovedArgumentsInvalid(
                f"Belay gave no params to carry out for request {action.id} ({action.state})", action
            )
        clash = sorted(set(approved) & self.exclude)
        if clash:
            raise ApprovedArgumentsInvalid(
                f"the approved params set {', '.join(clash)}, which this call passes itself", action
            )
        kwargs = {**approved, **passthrough}
        try:
            self.sig.bind(**kwargs)
        except TypeError as exc:
            raise ApprovedArgumentsInvalid(
                f"the approved params do not fit the function: {exc}", action
            ) from exc
        return kwargs


def _text(value: Optional[Text], arguments: Arguments, default: str) -> str:
    if value is None:
        return default
    if callable(value):
        return str(value(arguments))
    return value.format(**arguments) if "{" in value else value


def _opt_text(value: Optional[Text], arguments: Arguments) -> Optional[str]:
    if value is None:
        return None
    return _text(value, arguments, "")


@dataclass
class _Request:
    target: str
    summary: str
    params: dict[str, Any]
    passthrough: dict[str, Any]
    evidence: list[Evidence]
    observation: Optional[str]
    key: Optional[str]


def _prepare(
    fn: Callable[..., Any],
    sig: _Signature,
    o: GuardOptions,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> _Request:
    arguments = sig.arguments(args, kwargs)
    params, passthrough = sig.split(arguments)
    try:
        _core.encode_json(params)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"guard: the arguments of {fn.__name__} must be JSON values to go to Belay ({exc}); "
            "pass other values in exclude=[...]"
        ) from exc
    name = getattr(fn, "__name__", "action")
    shown = ", ".join(f"{k}={v!r}" for k, v in params.items())
    default_summary = clean_text(f"{name}({shown})", 2000) or name
    evidence = o.evidence(arguments) if callable(o.evidence) else (o.evidence or ())
    return _Request(
        target=_text(o.target, arguments, name),
        summary=_text(o.summary, arguments, default_summary),
        params=params,
        passthrough=passthrough,
        evidence=list(evidence),
        observation=_opt_text(o.observation, arguments),
        key=o.idempotency_key(arguments) if o.idempotency_key else None,
    )


def _timeout_error(action: Action, o: GuardOptions) -> ApprovalTimeout:
    what = "withdrawn" if action.state == "cancelled" else "left waiting"
    return ApprovalTimeout(
        f"{action.capability} on {action.target!r}: no decision within {o.approval_timeout} s; "
        f"the request was {what}",
        action,
    )


def _claim_refused(action: Action, exc: ApiError) -> ClaimRefused:
    return ClaimRefused(f"Belay refused the claim of request {action.id}: {exc.detail}", action, exc)


# -- sync ----------------------------------------------------------------------


def guard_sync(client: SyncClient, fn: Any, o: GuardOptions) -> Any:
    if inspect.iscoroutinefunction(fn):
        raise TypeError("guard: this is an async function; use AsyncBelay(...).guard")
    sig = _Signature(fn, o.exclude)

    @functools.wraps(fn)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        req = _prepare(fn, sig, o, args, kwargs)
        action = client.submit(
            o.capability,
            req.target,
            req.summary,
            req.params,
            evidence=req.evidence,
            observation=req.observation,
            idempotency_key=req.key,
        )
        if action.is_pending:
            if o.on_pending is not None:
                o.on_pending(action)
            action = client.wait(action.id, timeout=o.approval_timeout)
            if action.is_pending:
                action = _sync_timed_out(client, action, o)
        check_runnable(action)
        call = sig.call_kwargs(action, req.passthrough)
        if action.state == "approved":
            try:
                action = client.claim(action.id)
            except (Conflict, Forbidden) as exc:
                raise _claim_refused(action, exc) from exc
            call = sig.call_kwargs(action, req.passthrough)
        return _sync_run(client, fn, action, call, o)

    return guarded


def _sync_timed_out(client: SyncClient, action: Action, o: GuardOptions) -> Action:
    if o.cancel_on_timeout:
        try:
            action = client.cancel(action.id)
        except Conflict:
            # Decided while we gave up: go on with the decision.
            action = client.get(action.id)
            if not action.is_pending:
                return action
    raise _timeout_error(action, o)


def _sync_run(
    client: SyncClient,
    fn: Callable[..., Any],
    action: Action,
    call: dict[str, Any],
    o: GuardOptions,
) -> Any:
    try:
        result = fn(**call)
    except BaseException as exc:
        incident = bool(o.incident is not None and o.incident(exc))
        try:
            client.report_failure(action.id, failure_details(exc), incident=incident)
        except Exception as report_exc:  # the function's own error matters more
            log.error("belay: could not report the failure of %s: %s", action.id, report_exc)
        raise
    details = clean_text(o.describe_result(result)) if o.describe_result else None
    try:
        client.report_success(action.id, details)
    except Exception as report_exc:  # it ran: never turn a success into an error
        log.error("belay: could not report the success of %s: %s", action.id, report_exc)
    return result


# -- async ---------------------------------------------------------------------


def guard_async(client: AsyncClient, fn: Any, o: GuardOptions) -> Any:
    if not inspect.iscoroutinefunction(fn):
        raise TypeError("guard: AsyncBelay guards async functions; use Belay(...).guard")
    sig = _Signature(fn, o.exclude)

    @functools.wraps(fn)
    async def guarded(*args: Any, **kwargs: Any) -> Any:
        req = _prepare(fn, sig, o, args, kwargs)
        action = await client.submit(
            o.capability,
            req.target,
            req.summary,
            req.params,
            evidence=req.evidence,
            observation=req.observation,
            idempotency_key=req.key,
        )
        if action.is_pending:
            if o.on_pending is not None:
                maybe = o.on_pending(action)
                if inspect.isawaitable(maybe):
                    await maybe
            action = await client.wait(action.id, timeout=o.approval_timeout)
            if action.is_pending:
                action = await _async_timed_out(client, action, o)
        check_runnable(action)
        call = sig.call_kwargs(action, req.passthrough)
        if action.state == "approved":
            try:
                action = await client.claim(action.id)
            except (Conflict, Forbidden) as exc:
                raise _claim_refused(action, exc) from exc
            call = sig.call_kwargs(action, req.passthrough)
        return await _async_run(client, fn, action, call, o)

    return guarded


async def _async_timed_out(client: AsyncClient, action: Action, o: GuardOptions) -> Action:
    if o.cancel_on_timeout:
        try:
            action = await client.cancel(action.id)
        except Conflict:
            action = await client.get(action.id)
            if not action.is_pending:
                return action
    raise _timeout_error(action, o)


async def _async_run(
    client: AsyncClient,
    fn: Callable[..., Any],
    action: Action,
    call: dict[str, Any],
    o: GuardOptions,
) -> Any:
    try:
        result = await fn(**call)
    except BaseException as exc:
        incident = bool(o.incident is not None and o.incident(exc))
        try:
            await client.report_failure(action.id, failure_details(exc), incident=incident)
        except Exception as report_exc:
            log.error("belay: could not report the failure of %s: %s", action.id, report_exc)
        raise
    details = clean_text(o.describe_result(result)) if o.describe_result else None
    try:
        await client.report_success(action.id, details)
    except Exception as report_exc:
        log.error("belay: could not report the success of %s: %s", action.id, report_exc)
    return result


def guard(
    client: Union[SyncClient, AsyncClient], capability: str, **options: Any
) -> Callable[[Any], Any]:
    """``guard(client, "cap", ...)`` -- the same as ``client.guard("cap", ...)``."""
    return cast(Callable[[Any], Any], client.guard(capability, **options))


__all__ = ["ClaimRefused", "GuardOptions", "check_runnable", "clean_text", "guard"]
