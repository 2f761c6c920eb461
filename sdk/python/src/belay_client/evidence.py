"""Evidence an agent attaches to an action: what the reviewer looks at.

One ``Evidence`` value goes either inline in a submission (JSON, bytes as
base64) or as one part of a multipart upload to a waiting request
(``add_evidence``). Belay decides the media type from the bytes; a declared
``media_type`` must agree with it (else 415).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any, Optional, Union

from ._types import EVIDENCE_TYPES, JSON, EvidenceType

_FILE_NAMES = {
    "screenshot": "screenshot",
    "dom_snapshot": "dom.html",
    "request_log": "request_log.json",
    "events": "events.json",
    "extracted_data": "extracted_data.json",
    "plan": "plan.txt",
    "prompt": "prompt.txt",
    "diff": "diff.txt",
}

_IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def _sniff_image(data: bytes) -> Optional[str]:
    for magic, media in _IMAGE_TYPES.items():
        if data.startswith(magic):
            return media
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence: text, a JSON value, or bytes.

    Build it with the class methods (``Evidence.plan("...")``,
    ``Evidence.screenshot(png_bytes)``, ``Evidence.dom_snapshot(html)``,
    ``Evidence.json("extracted_data", {...})``, ``Evidence.file(...)``).
    """

    type: EvidenceType
    #: Text, or any JSON value (stored as its JSON text). Exactly one of
    #: ``content`` and ``data`` is set.
    content: JSON = None
    #: Raw bytes (sent as base64 inline, as-is in multipart).
    data: Optional[bytes] = None
    media_type: Optional[str] = None
    filename: Optional[str] = None

    def __post_init__(self) -> None:
        if self.type not in EVIDENCE_TYPES:
            raise ValueError(
                f"unknown evidence type {self.type!r}: expected one of {', '.join(EVIDENCE_TYPES)}"
            )
        if (self.data is None) == (self.content is None):
            raise ValueError("evidence carries exactly one of content (text or JSON) and data (bytes)")

    # -- constructors -------------------------------------------------------

    @classmethod
    def text(cls, type: EvidenceType, text: str, *, media_type: Optional[str] = None) -> Evidence:
        """Text evidence: ``plan``, ``prompt``, ``diff``, ``dom_snapshot``.

        ``media_type="text/markdown"`` is accepted for ``plan`` and ``prompt``.
        """
        return cls(type=type, content=text, media_type=media_type)

    @classmethod
    def json(cls, type: EvidenceType, value: JSON) -> Evidence:
        """Structured evidence: ``extracted_data``, ``events``, ``request_log`` (or a JSON ``diff``)."""
        if value is None:
            raise ValueError("JSON evidence must not be null")
        return cls(type=type, content=value)

    @classmethod
    def plan(cls, text: str) -> Evidence:
        return cls.text("plan", text)

    @classmethod
    def prompt(cls, text: str) -> Evidence:
        return cls.text("prompt", text)

    @classmethod
    def diff(cls, before_after: Union[str, dict[str, Any]]) -> Evidence:
        """A diff: unified text, or a JSON object of before/after values."""
        if isinstance(before_after, str):
            return cls.text("diff", before_after)
        return cls(type="diff", content=before_after, media_type="application/json")

    @classmethod
    def dom_snapshot(cls, html: Union[str, bytes]) -> Evidence:
        """The page's HTML. Belay shows it only sandboxed, scripts off, or as source."""
        if isinstance(html, bytes):
            return cls(type="dom_snapshot", data=html, filename="dom.html")
        return cls.text("dom_snapshot", html)

    @classmethod
    def screenshot(
        cls, image: Union[bytes, str, os.PathLike[str]], *, media_type: Optional[str] = None
    ) -> Evidence:
        """A PNG, JPEG or WebP image: its bytes, or a path to the file."""
        filename: Optional[str] = None
        if isinstance(image, (str, os.PathLike)):
            filename = os.path.basename(os.fspath(image))
            with open(image, "rb") as f:
                image = f.read()
        media = media_type or _sniff_image(image)
        return cls(type="screenshot", data=image, media_type=media, filename=filename)

    @classmethod
    def file(
        cls,
        type: EvidenceType,
        path_or_bytes: Union[bytes, str, os.PathLike[str]],
        *,
        media_type: Optional[str] = None,
        filename: Optional[str] = None,
    ) -> Evidence:
        """Any evidence from a file or bytes (Belay checks the bytes fit the type)."""
        if isinstance(path_or_bytes, (str, os.PathLike)):
            filename = filename or os.path.basename(os.fspath(path_or_bytes))
            with open(path_or_bytes, "rb") as f:
                data = f.read()
        else:
            data = path_or_bytes
        if media_type is None and type == "screenshot":
            media_type = _sniff_image(data)
        return cls(type=type, data=data, media_type=media_type, filename=filename)

    # -- wire forms ---------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The inline form, for ``evidence[]`` of a submission or an outcome."""
        out: dict[str, Any] = {"type": self.type}
        if self.media_type is not None:
            out["media_type"] = self.media_type
        if self.data is not None:
            out["content_base64"] = base64.b64encode(self.data).decode("ascii")
        else:
            out["content"] = self.content
        return out

    def to_part(self) -> tuple[str, tuple[str, bytes, str]]:
        """The multipart form: a part named by the type, for ``add_evidence``."""
        if self.data is not None:
            body = self.data
        elif isinstance(self.content, str):
            body = self.content.encode("utf-8")
        else:
            body = json.dumps(self.content, ensure_ascii=False).encode("utf-8")
        media = self.media_type
        if media is None and self.type == "screenshot":
            media = _sniff_image(body)
        name = self.filename or _FILE_NAMES.get(self.type, self.type)
        # application/octet-stream means "decide from the bytes" to Belay.
        return self.type, (name, body, media or "application/octet-stream")


__all__ = ["Evidence"]
