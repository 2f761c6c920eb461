import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { BASE_URL, belay, createAgent, createUser, signInAt } from './belay';

const run = Date.now().toString(36);
const lead = `mara-${run}`;

/** A small Streamable HTTP MCP server answering in plain JSON: it lists a
 * read-only and a destructive tool (this page never calls them). */
function upstream(): Promise<{ url: string; server: Server }> {
  const tools = [
    { name: 'read_note', description: 'Reads a note.', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } },
    {
      name: 'delete_note',
      description: 'Deletes a note.',
      inputSchema: { type: 'object' },
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
    },
  ];
  const server = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405).end();
      return;
    }
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const msg = JSON.parse(body);
      if (msg.id === undefined) {
        res.writeHead(202).end();
        return;
      }
      const result =
        msg.method === 'initialize'
          ? { protocolVersion: msg.params.protocolVersion, capabilities: { tools: {} }, serverInfo: { name: 'notes', version: '1' } }
          : msg.method === 'tools/list'
            ? { tools }
            : undefined;
      const answer = result
        ? { jsonrpc: '2.0', id: msg.id, result }
        : { jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: 'not here' } };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({ url: `http://127.0.0.1:${port}/mcp`, server });
    }),
  );
}

/** The same tools over stdio, for `belay mcp add-upstream -- sh <script>`. */
const STDIO_UPSTREAM = `#!/bin/sh
while IFS= read -r line; do
  id=$(printf '%s' "$line" | sed -n 's/.*"id":\\([0-9][0-9]*\\).*/\\1/p')
  case "$line" in
    *'"method":"initialize"'*)
      printf '%s\\n' '{"jsonrpc":"2.0","id":'"$id"',"result":{"protocolVersion":"2025-06-18","capabilities":{"tools":{}},"serverInfo":{"name":"fake","version":"1"}}}' ;;
    *'"method":"tools/list"'*)
      printf '%s\\n' '{"jsonrpc":"2.0","id":'"$id"',"result":{"tools":[{"name":"grep","inputSchema":{"type":"object"},"annotations":{"readOnlyHint":true}}]}}' ;;
  esac
done
`;

test.beforeAll(() => {
  createUser(lead, 'lead');
});

test('a lead registers an HTTP upstream, edits a tool’s risk triggers and removes it; a command upstream stays CLI-only', async ({ page }) => {
  const agent = `notes-bot-${run}`;
  const key = createAgent(agent, lead, 'act_with_approval');
  const me = await (await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } })).json();
  const dir = mkdtempSync(path.join(tmpdir(), 'belay-mcp-'));
  const script = path.join(dir, 'upstream.sh');
  writeFileSync(script, STDIO_UPSTREAM);
  belay(['mcp', 'add-upstream', '--agent', agent, '--name', 'local', '--', 'sh', script]);
  const { url, server } = await upstream();
  try {
    await signInAt(page, `/agents/${me.id}/mcp`, lead);
    await expect(page.getByRole('heading', { level: 1 })).toContainText(`MCP upstreams of ${agent}`);
    const local = page.locator('section[data-upstream="local"]');
    await expect(local.getByTestId('endpoint')).toHaveText(`sh ${script}`);
    await expect(local).toContainText('only the operator registers');

    const form = page.locator('section', { has: page.getByRole('heading', { name: 'Register a Streamable HTTP upstream' }) });
    await form.getByLabel('Name', { exact: true }).fill('notes');
    await form.getByLabel('URL').fill(url);
    await form.getByLabel('Bearer token').selectOption('none');
    await form.getByLabel(/^Reason/).fill('The notes service the bot maintains.');
    await form.getByRole('button', { name: 'Register upstream' }).click();
    await expect(page.getByTestId('registered')).toContainText('Registered 2 tools.');
    await expect(page.getByTestId('registered')).toContainText('waits for another lead');

    const notes = page.locator('section[data-upstream="notes"]');
    await expect(notes.getByTestId('endpoint')).toHaveText(url);
    const del = notes.locator('tr[data-tool="delete_note"]');
    // Two upstreams: the agent sees the tools prefixed with their upstream.
    await expect(del).toContainText('notes__delete_note');
    await expect(del).toContainText('mcp.notes.delete_note');
    await expect(del).toContainText('writes, destructive, closed world');
    await expect(del.getByTestId('at-stage')).not.toBeEmpty();
    const read = notes.locator('tr[data-tool="read_note"]');
    await expect(read).toContainText('unknown capability');
    await expect(read.getByRole('link', { name: 'entry awaits a second lead' })).toBeVisible();

    // Adding a trigger takes effect at once, through the catalog's rules.
    await del.getByText('Edit risk triggers').click();
    await del.getByLabel('purchase').check();
    await del.getByRole('button', { name: 'Save triggers' }).click();
    // The registration's note stays above it: the save adds its own.
    await expect(page.getByRole('status').filter({ hasText: 'Saved the risk triggers of mcp.notes.delete_note.' })).toBeVisible();
    await expect(notes.locator('tr[data-tool="delete_note"] .badge.trigger', { hasText: 'purchase' })).toBeVisible();

    const axe = await new AxeBuilder({ page }).analyze();
    expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);

    await notes.getByRole('button', { name: 'Remove upstream' }).click();
    await expect(page.getByText('Upstream removed.')).toBeVisible();
    await expect(page.locator('section[data-upstream="notes"]')).toHaveCount(0);
    await expect(local).toBeVisible();
  } finally {
    server.close();
  }
});
