-- The MCP gateway: upstream MCP servers Belay fronts for an agent, and
-- each upstream tool's capability in the catalog. Registered with
-- `belay mcp add-upstream`.
CREATE TABLE mcp_upstreams (
    id         TEXT PRIMARY KEY,
    agent_id   TEXT NOT NULL REFERENCES agents (id),
    name       TEXT NOT NULL,
    -- How to start it over stdio: a JSON array, program first.
    command    TEXT NOT NULL,
    -- Who registered it: a user id, or `operator:<login>` for the CLI.
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (agent_id, name)
);

CREATE TABLE mcp_tools (
    upstream_id TEXT NOT NULL REFERENCES mcp_upstreams (id),
    -- The tool's exact name upstream.
    tool        TEXT NOT NULL,
    capability  TEXT NOT NULL,
    -- The tool as the upstream listed it (JSON): description, schema, hints.
    definition  TEXT NOT NULL,
    PRIMARY KEY (upstream_id, tool)
);
