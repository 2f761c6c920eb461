import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { BASE_URL, createAgent, createUser, signInAt, submit } from './belay';

const run = Date.now().toString(36);
const opener = `olga-${run}`;
const second = `pavel-${run}`;

test.beforeAll(() => {
  createUser(opener, 'lead');
  createUser(second, 'lead');
});

async function serious(page: import('@playwright/test').Page): Promise<string[]> {
  const axe = await new AxeBuilder({ page }).analyze();
  return axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
}

test('a lead opens a promotion review, a second lead approves it, and the stage changes', async ({ browser }) => {
  const key = createAgent(`drafter-${run}`, opener, 'propose');
  const me = await (await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } })).json();
  await submit(key, { capability: 'tickets.comment', target: 'ticket-7', summary: 'Ask the customer for a screenshot' });

  const lead = await (await browser.newContext()).newPage();
  await signInAt(lead, `/agents/${me.id}`, opener);
  // The record: metrics, charts and the stage history.
  await expect(lead.getByTestId('metrics')).toContainText('Requests');
  await expect(lead.getByTestId('weekly-trend')).toBeVisible();
  await expect(lead.getByTestId('timeline')).toContainText('registered');
  await expect(lead.getByTestId('what-if')).toContainText('at act_with_approval it would have had 0 auto-allowed');
  expect(await serious(lead)).toEqual([]);

  await expect(lead.getByLabel('Target stage')).toHaveValue('act_with_approval');
  await lead.getByLabel('The case for it').fill('Its proposals have been right for a month.');
  await lead.getByRole('button', { name: 'Open review' }).click();
  await lead.getByRole('status').getByRole('link', { name: 'open it' }).click();
  await expect(lead.getByTestId('review-state')).toHaveText('open');
  await expect(lead.getByTestId('checks')).toContainText('not met');
  await expect(lead.getByTestId('cannot-vote')).toContainText('other leads decide it');
  const reviewPath = new URL(lead.url()).pathname;

  const other = await (await browser.newContext()).newPage();
  await signInAt(other, reviewPath, second);
  expect(await serious(other)).toEqual([]);
  await other.getByLabel('Why you approve').fill('The proposals I reviewed were sound.');
  await other.getByLabel('Override: why it should go ahead anyway').fill('A young agent; volume is low but quality is high.');
  await other.getByRole('button', { name: 'Approve with override' }).click();
  await expect(other.getByTestId('review-state')).toHaveText('approved');
  await expect(other.getByTestId('votes')).toContainText('Override: A young agent');

  await other.goto(`/agents/${me.id}`);
  await expect(other.getByRole('heading', { level: 1 })).toContainText('act_with_approval');
  await expect(other.getByTestId('timeline')).toContainText('propose → act_with_approval');
  const next = await submit(key, { capability: 'tickets.comment', target: 'ticket-8', summary: 'Reply with the fix' });
  expect(next.stage).toBe('act_with_approval');
});
