import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { BASE_URL, createAgent, createUser, signInAt, submit } from './belay';

const run = Date.now().toString(36);
const proposer = `anna-${run}`;
const approver = `bert-${run}`;
const sponsor = `sofia-${run}`;
const auditor = `aude-${run}`;

test.beforeAll(() => {
  createUser(proposer, 'lead');
  createUser(approver, 'lead');
  createUser(sponsor, 'lead');
  createUser(auditor, 'auditor');
});

async function serious(page: import('@playwright/test').Page): Promise<string[]> {
  const axe = await new AxeBuilder({ page }).analyze();
  return axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
}

test('lead A proposes a wider grant, lead B approves the before/after, the next request runs under it', async ({ browser }) => {
  const key = createAgent(`commenter-${run}`, sponsor, 'act_with_approval');
  const me = await (await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } })).json();
  const before = await submit(key, { capability: 'tickets.comment', target: 'ticket-1', summary: 'Ask for logs' });
  expect(before.held_for).toContain('out_of_scope');

  const a = await (await browser.newContext()).newPage();
  await signInAt(a, `/agents/${me.id}`, proposer);
  await a.getByRole('combobox', { name: 'Capability', exact: true }).selectOption('tickets.comment');
  await a.getByLabel('At most this many per hour (blank: no limit)').fill('20');
  await a.getByLabel(/^Reason \(needed when/).fill('It answers the ticket queue now.');
  await a.getByRole('button', { name: 'Save grant' }).click();
  const note = a.getByTestId('proposed');
  await expect(note).toContainText('grants tickets.comment');
  await note.getByRole('link', { name: 'the change request' }).click();
  await expect(a.getByTestId('change-state')).toHaveText('open');
  await expect(a.getByTestId('cannot-vote')).toContainText('another lead decides it');
  const changePath = new URL(a.url()).pathname;
  // Not applied yet: still out of scope.
  const still = await submit(key, { capability: 'tickets.comment', target: 'ticket-2', summary: 'Ask again' });
  expect(still.held_for).toContain('out_of_scope');

  const b = await (await browser.newContext()).newPage();
  await signInAt(b, changePath, approver);
  const diff = b.getByTestId('change-diff');
  await expect(diff.getByRole('row', { name: /max_per_hour/ })).toContainText('20');
  await expect(b.getByTestId('rises')).toContainText('grants tickets.comment');
  await expect(b.getByText('It answers the ticket queue now.')).toBeVisible();
  expect(await serious(b)).toEqual([]);
  await b.getByLabel('Why you approve').fill('Within its purpose; limit is sane.');
  await b.getByRole('button', { name: 'Approve this change' }).click();
  await expect(b.getByTestId('change-state')).toHaveText('approved');
  await expect(b.getByTestId('votes')).toContainText('Within its purpose');

  const next = await submit(key, { capability: 'tickets.comment', target: 'ticket-3', summary: 'Reply with the fix' });
  expect(next.held_for ?? []).not.toContain('out_of_scope');

  // An auditor finds the approval in the trail.
  const au = await (await browser.newContext()).newPage();
  await signInAt(au, '/audit', auditor);
  await au.getByLabel('Kind', { exact: true }).selectOption('change.approved');
  await au.getByRole('button', { name: 'Filter' }).click();
  await expect(au.getByTestId('trail').locator('tbody > tr[data-event]').first()).toContainText('change.approved');
});
