import AxeBuilder from '@axe-core/playwright';
import { expect, Page, test } from '@playwright/test';
import { actionState, BASE_URL, createAgent, createUser, hydrated, signInAt, submit } from './belay';

// Keyboard safety in the queue: the selection follows the request, not the
// row position; `a` approves only a request whose details are on screen and
// that has been on the list a few seconds.

// Unique per worker start (a retry runs beforeAll again on the same database).
const run = Date.now().toString(36);
const reviewer = `kay-${run}`;
const sponsor = `kit-${run}`;

test.beforeAll(() => {
  createUser(reviewer, 'reviewer');
  createUser(sponsor, 'lead');
});

/** A new agent, and the queue narrowed to it: other specs' requests stay out. */
async function freshQueue(name: string): Promise<{ key: string; path: string }> {
  const key = createAgent(`${name}-${run}`, sponsor, 'act_with_approval');
  const me = await (await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } })).json();
  return { key, path: `/approvals?agent=${me.id}` };
}

async function openQueue(page: Page, path: string) {
  await signInAt(page, '/approvals', reviewer);
  await page.goto(path);
  await hydrated(page); // the keys listen once the page is live
}

const rows = (page: Page) => page.locator('table.queue tbody tr[data-id]');
const selected = (page: Page) => page.locator('table.queue tr[aria-selected="true"]');
const detail = (page: Page) => page.getByTestId('queue-detail');
const status = (page: Page) => page.getByTestId('key-status');

/** Presses `a` until it approves: while the selected request is new to the
 * list the page names the wait, and the test waits that long. (A page read
 * at load time counts a request's age from when the page came to life, so
 * the wait can be a little longer than 3 s from submission.) */
async function approveByKey(page: Page) {
  for (let tries = 0; tries < 5; tries++) {
    await page.keyboard.press('a');
    await expect(status(page)).toHaveText(/^(Approving|Approved|It just)/);
    const wait = (await status(page).textContent())?.match(/a works in (\d+) s/);
    if (!wait) return;
    await page.waitForTimeout(Number(wait[1]) * 1_000);
  }
}

// Capabilities no other spec filters the queue by; what a test leaves
// waiting is withdrawn after it, so other specs' queues stay as they expect.
const grant = (summary: string) => ({
  capability: 'access.grant',
  target: `apps/billing/${run}`,
  summary,
  params: { user: 'dana', role: 'viewer' },
  evidence: [{ type: 'plan', content: 'Dana asked for read access to the billing app.' }],
});
const release = (summary: string) => ({
  capability: 'deploy.release',
  target: `services/api/${run}`,
  summary,
  params: { version: '2.4.1' },
});

let submitted: { key: string; id: string }[] = [];

async function send(key: string, body: object): Promise<any> {
  const action = await submit(key, body);
  submitted.push({ key, id: action.id });
  return action;
}

test.afterEach(async () => {
  for (const { key, id } of submitted) {
    await fetch(`${BASE_URL}/api/v1/actions/${id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
    });
  }
  submitted = [];
});

test('the selection stays on its request when a riskier one sorts in above it, and a approves that one', async ({ page }) => {
  const { key, path } = await freshQueue('follow');
  const older = await send(key, grant('Let Dana read billing'));
  await openQueue(page, path);
  await expect(rows(page)).toHaveCount(1);

  await page.keyboard.press('j');
  await expect(selected(page)).toHaveAttribute('data-id', older.id);
  await expect(detail(page)).toHaveAttribute('data-id', older.id);
  await expect(detail(page)).toContainText('"role": "viewer"');
  await expect(detail(page).getByTestId('queue-evidence')).toContainText('Evidence (1): plan');
  const axe = await new AxeBuilder({ page }).analyze();
  const serious = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(serious.map((v) => `${v.id}: ${v.help}`)).toEqual([]);

  // A destructive request arrives: it sorts to the top and the rows shift
  // under the selection, which stays where it was.
  const riskier = await send(key, release('Release 2.4.1'));
  await expect(rows(page).first()).toHaveAttribute('data-id', riskier.id, { timeout: 10_000 });
  await expect(selected(page)).toHaveAttribute('data-id', older.id);
  await expect(detail(page)).toHaveAttribute('data-id', older.id);

  await approveByKey(page);
  await expect(status(page)).toContainText('Approved access.grant (Let Dana read billing)');
  expect((await actionState(key, older.id)).state).toBe('approved');
  expect((await actionState(key, riskier.id)).state).toBe('pending_approval');
  await expect(selected(page)).toHaveCount(0);
});

test('a request that just arrived is not approved by a key, and the page says why', async ({ page }) => {
  const { key, path } = await freshQueue('fresh');
  await send(key, grant('Let Eli read billing'));
  await openQueue(page, path);
  await expect(rows(page)).toHaveCount(1);

  const fresh = await send(key, release('Release 2.4.2'));
  await expect(rows(page).first()).toHaveAttribute('data-id', fresh.id, { timeout: 10_000 });
  const appeared = Date.now();
  await page.keyboard.press('j');
  await expect(detail(page)).toHaveAttribute('data-id', fresh.id);
  await page.keyboard.press('a');
  await expect(status(page)).toContainText(/It just (arrived|appeared on this list): look it over first \(a works in \d s\)/);
  await page.waitForTimeout(500);
  expect((await actionState(key, fresh.id)).state).toBe('pending_approval');

  // Three seconds after it appeared, the same key approves it.
  await page.waitForTimeout(appeared + 3_300 - Date.now());
  await page.keyboard.press('a');
  await expect(status(page)).toContainText('Approved deploy.release (Release 2.4.2)');
  expect((await actionState(key, fresh.id)).state).toBe('approved');
});

test('a acts only with the details on screen, and never on a request other than the one selected', async ({ page }) => {
  // A short window, so the details can be scrolled out of sight.
  await page.setViewportSize({ width: 1280, height: 220 });
  const { key, path } = await freshQueue('screen');
  const first = await send(key, grant('Let Fay read billing'));
  const second = await send(key, grant('Let Gus read billing'));
  const third = await send(key, grant('Let Hal read billing'));
  await openQueue(page, path);
  await expect(rows(page)).toHaveCount(3);

  await page.keyboard.press('a');
  await expect(status(page)).toContainText('Nothing is selected');

  await page.keyboard.press('j');
  await expect(detail(page)).toHaveAttribute('data-id', first.id);
  await expect(detail(page)).toBeInViewport();
  await page.evaluate(() => window.scrollTo(0, 0));
  await expect(detail(page)).not.toBeInViewport();
  await page.keyboard.press('a');
  await expect(status(page)).toContainText('Its details are not on screen');
  await expect(detail(page)).toBeInViewport(); // the key brought them back
  expect((await actionState(key, first.id)).state).toBe('pending_approval');
  await approveByKey(page);
  await expect(status(page)).toContainText('Approved access.grant (Let Fay read billing)');
  await expect(rows(page)).toHaveCount(2);

  // j selects the one now in the approved one's place.
  await page.keyboard.press('j');
  await expect(detail(page)).toHaveAttribute('data-id', second.id);
  // The agent withdraws it: the selection does not slide to the next row.
  const res = await fetch(`${BASE_URL}/api/v1/actions/${second.id}/cancel`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
  });
  expect(res.status).toBe(200);
  await expect(rows(page)).toHaveCount(1, { timeout: 10_000 });
  await expect(status(page)).toContainText('The request you had selected left this list');
  await expect(selected(page)).toHaveCount(0);
  await page.keyboard.press('a');
  await expect(status(page)).toContainText('Nothing is selected');
  await page.waitForTimeout(500);
  expect((await actionState(key, third.id)).state).toBe('pending_approval');
});

test('the key help says when a approves', async ({ page }) => {
  await openQueue(page, '/approvals');
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard' });
  await expect(help).toContainText('approve it exactly as shown below it');
  await expect(help).toContainText('not in its first 3 seconds on the list');
  await page.keyboard.press('a'); // inert while the help is open
  await expect(status(page)).toHaveText('');
  await page.keyboard.press('Escape');
  await expect(help).toHaveCount(0);
});
