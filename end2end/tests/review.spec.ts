import AxeBuilder from '@axe-core/playwright';
import { expect, Page, test } from '@playwright/test';
import { actionState, BASE_URL, createAgent, createUser, hydrated, signInAt, submit } from './belay';

// Unique per worker start (a retry runs beforeAll again on the same database).
const run = Date.now().toString(36);
const reviewer = `rory-${run}`;
let key: string;

test.beforeAll(() => {
  createUser(reviewer, 'reviewer');
  createUser(`lee-${run}`, 'lead');
  key = createAgent(`refunder-${run}`, `lee-${run}`, 'act_with_approval');
});

/** No serious or critical accessibility violations on the page as it is. */
async function accessible(page: Page) {
  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.length}×)`)).toEqual([]);
}

async function claim(id: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${BASE_URL}/api/v1/actions/${id}/claim`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
  });
  return { status: res.status, body: await res.json() };
}

test('a reviewer filters the queue, approves with an edit, and the agent claims the edited params', async ({ page }) => {
  // crm.update_record: a rule the other browser tests leave at one approval.
  const refund = await submit(key, {
    capability: 'crm.update_record',
    target: `crm/customers/globex-${run}`,
    summary: 'Mark the duplicate seat charge as refunded',
    params: { field: 'billing_status', value: 'refunded' },
  });
  const note = await submit(key, {
    capability: 'email.send',
    target: `ap-${run}@acme.example`,
    summary: 'Send the second reminder',
    params: { template: 'second_reminder' },
  });
  expect(refund.decision).toBe('pending_approval');

  await signInAt(page, '/approvals', reviewer);
  await expect(page.getByTestId('queue-count')).toContainText('waiting');
  await accessible(page);

  // Filter by capability: the URL carries the filter, the count says so.
  await page.locator('select[name=capability]').selectOption('crm.update_record');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/capability=crm\.update_record/);
  await expect(page.getByTestId('queue-count')).toContainText('match these filters');
  await expect(page.getByRole('link', { name: 'email.send' })).toHaveCount(0);
  await page.getByRole('link', { name: 'crm.update_record' }).first().click();
  await expect(page).toHaveURL(new RegExp(`/approvals/${refund.id}$`));
  await expect(page.getByRole('heading', { name: 'Why it paused' })).toBeVisible();
  await accessible(page);

  // Approve with an edit: the status becomes "on_hold".
  await page.getByRole('button', { name: 'Edit params…' }).click();
  await page.getByTestId('edit-params').fill('{"field": "billing_status", "value": "on_hold"}');
  await page.getByRole('button', { name: 'Approve with edits' }).click();
  await expect(page.getByTestId('outcome')).toContainText(`Approved by ${reviewer}`);
  await expect(page.getByTestId('edited-params')).toContainText('on_hold');

  const claimed = await claim(refund.id);
  expect(claimed.status).toBe(200);
  expect(claimed.body.approved_params).toEqual({ field: 'billing_status', value: 'on_hold' });
  expect(claimed.body.correction).toEqual({ value: { before: 'refunded', after: 'on_hold' } });
  expect((await claim(refund.id)).status).toBe(409);

  // Decided by me lists it.
  await page.goto('/approvals?view=mine');
  await expect(page.getByTestId('mine')).toContainText('crm.update_record');
  await accessible(page);

  // The keyboard: select the reminder with j/k and approve it with a.
  await page.goto(`/approvals?capability=email.send`);
  await hydrated(page); // the keys listen once the page is live
  await expect(page.getByRole('link', { name: 'email.send' })).toHaveCount(1);
  await page.keyboard.press('?');
  await expect(page.getByRole('dialog', { name: 'Keyboard' })).toBeVisible();
  await page.keyboard.press('Escape');
  await page.keyboard.press('j');
  await page.keyboard.press('a');
  await expect.poll(async () => (await actionState(key, note.id)).state).toBe('approved');
});

test('new requests appear in the queue without a reload', async ({ page }) => {
  await signInAt(page, '/approvals', reviewer);
  const summary = `Arrives while the reviewer watches ${run}`;
  await expect(page.getByText(summary)).toHaveCount(0);
  await submit(key, { capability: 'email.send', target: 'x@acme.example', summary, params: {} });
  await expect(page.getByText(summary)).toBeVisible({ timeout: 10_000 });
});
