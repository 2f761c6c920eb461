import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

export const PORT = Number(process.env.BELAY_E2E_PORT ?? 3100);
export const BASE_URL = `http://127.0.0.1:${PORT}`;
export const BELAY_BIN = process.env.BELAY_BIN ?? path.resolve(__dirname, '../../target/debug/belay');
export const DATABASE_URL = `sqlite://${path.resolve(__dirname, '../.data/e2e.db')}`;
export const PASSWORD = 'correct horse battery staple';

/** Waits until the wasm app has hydrated the server-rendered page. */
export async function hydrated(page: import('@playwright/test').Page): Promise<void> {
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
}

/** Runs the `belay` CLI against the test server's database. */
export function belay(args: string[], input?: string): string {
  return execFileSync(BELAY_BIN, args, {
    env: { ...process.env, DATABASE_URL, RUST_LOG: 'error' },
    input,
    encoding: 'utf8',
  });
}

export function createUser(username: string, role: string): void {
  belay(['user', 'create', '--username', username, '--role', role, '--password-stdin'], PASSWORD);
}

/** Registers an agent and returns its API key. */
export function createAgent(name: string, sponsor: string, stage: string): string {
  const out = belay(['agent', 'create', '--name', name, '--sponsor', sponsor, '--stage', stage]);
  const key = out.match(/belay_[A-Za-z0-9_-]{43}/);
  if (!key) throw new Error(`no key in: ${out}`);
  return key[0];
}

/** Submits an action as the agent and returns the API's answer. */
export async function submit(key: string, body: object): Promise<any> {
  const res = await fetch(`${BASE_URL}/api/v1/actions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (res.status !== 201) throw new Error(`submit answered ${res.status}: ${await res.text()}`);
  return res.json();
}

export async function actionState(key: string, id: string): Promise<any> {
  const res = await fetch(`${BASE_URL}/api/v1/actions/${id}`, {
    headers: { authorization: `Bearer ${key}` },
  });
  return res.json();
}

/** Opens `path`, signs in on the login page it redirects to, and waits until
 * the page it was after has hydrated. */
export async function signInAt(page: import('@playwright/test').Page, path: string, username: string): Promise<void> {
  await page.goto(path);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((url) => url.pathname === path);
  await hydrated(page);
}
