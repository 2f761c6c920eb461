"""A small upstream MCP server (stdio, or HTTP behind a bearer token) for
the gateway tests: one read-only tool and one destructive tool, each
appending the arguments it received to the file named on the command line,
so a test can count calls exactly."""

import json
import sys

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

LOG = sys.argv[1]
server = MCPServer("notes")


def record(tool: str, args: dict) -> None:
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps({"tool": tool, "args": args}) + "\n")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def read_note(name: str) -> str:
    """Read a note by name."""
    record("read_note", {"name": name})
    return f"note {name}: buy milk"


@server.tool(
    annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False)
)
def delete_note(name: str, reason: str = "") -> str:
    """Delete a note by name."""
    record("delete_note", {"name": name, "reason": reason})
    return f"deleted {name}"


def require_bearer(app, token: str):
    """The ASGI app, answering 401 to any HTTP request without the token."""
    expected = f"Bearer {token}".encode()

    async def guarded(scope, receive, send):
        if scope["type"] == "http" and dict(scope["headers"]).get(b"authorization") != expected:
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"a bearer token is required"})
            return
        await app(scope, receive, send)

    return guarded


def serve_http(port: int, token_file: str) -> None:
    """Streamable HTTP at http://127.0.0.1:<port>/mcp, behind a bearer token."""
    import uvicorn

    with open(token_file, encoding="utf-8") as f:
        token = f.read().strip()
    app = server.streamable_http_app(host="127.0.0.1")
    uvicorn.run(require_bearer(app, token), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    # `upstream_server.py LOG` over stdio; `LOG --http PORT TOKEN_FILE` over HTTP.
    if sys.argv[2:3] == ["--http"]:
        serve_http(int(sys.argv[3]), sys.argv[4])
    else:
        server.run()
