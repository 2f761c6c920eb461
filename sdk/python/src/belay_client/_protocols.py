"""What ``guard`` needs of a client: the calls it makes, as ``typing.Protocol`` classes.

``Belay`` matches ``SyncClient`` and ``AsyncBelay`` matches ``AsyncClient``
structurally, so the guard is typed against these and never imports the
clients (which import the guard). Nothing here imports ``client``,
``async_client`` or ``_guard``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional, Protocol, TypeVar, Union

from . import _core
from .evidence import Evidence
from .models import Action

Arguments = Mapping[str, Any]
#: A fixed string, a ``str.format`` template over the arguments
#: (``"Refund {amount} to {customer}"``), or a function of the arguments.
Text = Union[str, Callable[[Arguments], str]]

_F = TypeVar("_F", bound=Callable[..., Any])


class SyncClient(Protocol):
    """The calls ``guard`` makes on a ``Belay``."""

    def submit(
        self,
        capability: str,
        target: str,
        summary: str,
        params: Optional[Mapping[str, Any]] = None,
        *,
        evidence: Iterable[Evidence] = (),
        observation: Optional[str] = None,
        idempotency_key: Optional[str] = None,
    ) -> Action: ...

    def get(self, action_id: str) -> Action: ...

    def wait(
        self,
        action_id: str,
        *,
        timeout: Optional[float] = None,
        poll: int = _core.MAX_WAIT_PER_POLL,
    ) -> Action: ...

    def claim(self, action_id: str) -> Action: ...

    def cancel(self, action_id: str) -> Action: ...

    def report_success(
        self, action_id: str, details: Optional[str] = None, *, evidence: Iterable[Evidence] = ()
    ) -> Action: ...

    def report_failure(
        self,
        action_id: str,
        details: Optional[str] = None,
        *,
        incident: bool = False,
        evidence: Iterable[Evidence] = (),
    ) -> Action: ...

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
    ) -> Callable[[_F], _F]: ...


class AsyncClient(Protocol):
    """The calls ``guard`` makes on an ``AsyncBelay``."""

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
    ) -> Action: ...

    async def get(self, action_id: str) -> Action: ...

    async def wait(
        self,
        action_id: str,
        *,
        timeout: Optional[float] = None,
        poll: int = _core.MAX_WAIT_PER_POLL,
    ) -> Action: ...

    async def claim(self, action_id: str) -> Action: ...

    async def cancel(self, action_id: str) -> Action: ...

    async def report_success(
        self, action_id: str, details: Optional[str] = None, *, evidence: Iterable[Evidence] = ()
    ) -> Action: ...

    async def report_failure(
        self,
        action_id: str,
        details: Optional[str] = None,
        *,
        incident: bool = False,
        evidence: Iterable[Evidence] = (),
    ) -> Action: ...

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
    ) -> Callable[[_F], _F]: ...


__all__ = ["Arguments", "AsyncClient", "SyncClient", "Text"]
