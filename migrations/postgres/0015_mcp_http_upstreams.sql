-- An MCP upstream may be a Streamable HTTP endpoint instead of a command:
-- then `command` is `[]` and `url` holds the endpoint. `bearer_from` says
-- where Belay reads the token it sends as `Authorization: Bearer`, when it
-- connects: `env:<NAME>` or `file:<path>`. The token itself is never stored.
ALTER TABLE mcp_upstreams ADD COLUMN url TEXT;
ALTER TABLE mcp_upstreams ADD COLUMN bearer_from TEXT;
