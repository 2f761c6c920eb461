"""A small upstream MCP server (stdio) for the gateway tests: one read-only
tool and one destructive tool, each appending the arguments it received to
the file named on the command line, so a test can count calls exactly."""

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


if __name__ == "__main__":
    server.run()
