import { expect, Page, test } from '@playwright/test';
import { actionState, createAgent, createUser, hydrated, PASSWORD, submit } from './belay';

let key: string;

// Names are unique per worker start: after a failure Playwright starts a
// new worker, which runs beforeAll again against the same database.
const run = Date.now().toString(36);
const reviewer = `rita-${run}`;

test.beforeAll(() => {
  createUser(reviewer, 'reviewer');
  createUser(`sam-${run}`, 'lead');
  key = createAgent(`mailer-${run}`, `sam-${run}`, 'act_with_approval');
});

/** Fails the test on any script error in the page (a broken hydration shows up here). */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  return errors;
}

async function signIn(page: Page, username: string) {
  await page.goto('/approvals');
  await expect(page).toHaveURL(/\/login\?next=%2Fapprovals|\/login\?next=\/approvals/);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).toHaveURL(/\/approvals$/);
  await expect(page.getByTestId('whoami')).toHaveText(`${username} (reviewer)`);
  await hydrated(page);
}

test('a reviewer signs in, opens the pending request, approves it and sees it decided', async ({ page }) => {
  const errors = watchErrors(page);
  const wasm = page.waitForResponse((r) => r.url().endsWith('/pkg/belay.wasm') && r.ok());
  const action = await submit(key, {
    capability: 'email.send',
    target: 'customer@example.com',
    summary: 'Send the overdue-invoice reminder to ACME',
    params: { template: 'reminder', invoice: 'INV-7' },
    evidence: [{ type: 'plan', content: '1. Look up the invoice\n2. Send the reminder' }],
  });
  expect(action.decision).toBe('pending_approval');

  await signIn(page, reviewer);
  await wasm; // the page hydrated: the wasm bundle loaded

  await page.getByRole('link', { name: 'email.send' }).first().click();
  await expect(page).toHaveURL(new RegExp(`/approvals/${action.id}$`));
  await expect(page.getByRole('heading', { name: 'Why it paused' })).toBeVisible();
  await expect(page.getByText('paused: external_send, customer_visible')).toBeVisible();
  await expect(page.getByText('Send the overdue-invoice reminder to ACME')).toBeVisible();
  await expect(page.getByTestId('state')).toHaveText('waiting for approval');

  await page.getByRole('button', { name: 'Approve' }).click();
  await expect(page.getByTestId('state')).toHaveText('approved');
  await expect(page.getByTestId('outcome')).toContainText(`Approved by ${reviewer}`);
  await expect(page.getByRole('button', { name: 'Approve' })).toHaveCount(0);

  expect((await actionState(key, action.id)).state).toBe('approved');
  expect(errors).toEqual([]);
});

test('a request decided elsewhere cannot be decided again, and the page says so', async ({ browser }) => {
  const action = await submit(key, {
    capability: 'records.delete',
    target: 'crm/contacts/991',
    summary: 'Delete the duplicate contact',
  });
  const first = await browser.newPage();
  const second = await browser.newPage();
  await signIn(first, reviewer);
  await first.goto(`/approvals/${action.id}`);
  // A second browser (its own cookies) has the same request open.
  await second.goto(`/approvals/${action.id}`);
  if (second.url().includes('/login')) {
    await second.getByLabel('Username').fill(reviewer);
    await second.getByLabel('Password').fill(PASSWORD);
    await second.getByRole('button', { name: 'Sign in' }).click();
    await expect(second).toHaveURL(new RegExp(`/approvals/${action.id}$`));
  }
  await expect(second.getByRole('button', { name: 'Approve' })).toBeVisible();

  await first.getByLabel('Reason for rejecting (required)').fill('Not a duplicate: different customer');
  await first.getByRole('button', { name: 'Reject' }).click();
  await expect(first.getByTestId('state')).toHaveText('rejected');

  await second.getByRole('button', { name: 'Approve' }).click();
  await expect(second.getByRole('alert')).toContainText(`already rejected by ${reviewer}`);
  await expect(second.getByTestId('state')).toHaveText('rejected');
  expect((await actionState(key, action.id)).state).toBe('rejected');
});
