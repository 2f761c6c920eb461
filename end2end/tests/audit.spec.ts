import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { createAgent, createUser, signInAt } from './belay';

const run = Date.now().toString(36);
const auditor = `audrey-${run}`;
const lead = `lena-${run}`;
const agent = `ledger-bot-${run}`;

test.beforeAll(() => {
  createUser(lead, 'lead');
  createUser(auditor, 'auditor');
  createAgent(agent, lead, 'propose');
});

test('an auditor reads the audit trail, filters it, and sees a change before and after', async ({ page }) => {
  await signInAt(page, '/audit', auditor);
  await expect(page.getByRole('heading', { name: 'Audit trail' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Audit', exact: true })).toBeVisible();
  const trail = page.getByTestId('trail');
  await expect(trail.getByRole('cell', { name: 'agent.created' }).first()).toBeVisible();

  // Filters live in the URL.
  await page.getByLabel('Agent', { exact: true }).fill(agent);
  await page.getByLabel('Kind', { exact: true }).selectOption('agent.created');
  await page.getByRole('button', { name: 'Filter' }).click();
  await expect(page).toHaveURL(/what=agent\.created/);
  const rows = trail.locator('tbody > tr[data-event]');
  await expect(rows).toHaveCount(1);
  await rows.first().getByText(/fields?$/).click();
  const diff = rows.first().locator('.diff-table');
  await expect(diff.getByRole('rowheader', { name: 'name' })).toBeVisible();
  await expect(diff.getByText(`"${agent}"`)).toBeVisible();

  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.help} (${v.nodes.length}×)`)).toEqual([]);
});
