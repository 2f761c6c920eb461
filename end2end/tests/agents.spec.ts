import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { BASE_URL, createAgent, createUser, hydrated, signInAt } from './belay';

const run = Date.now().toString(36);
const lead = `lena-${run}`;

test.beforeAll(() => {
  createUser(lead, 'lead');
});

test('a lead registers an agent, issues a key shown once, and revokes it', async ({ page }) => {
  await signInAt(page, '/agents', lead);

  const name = `crm-bot-${run}`;
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Purpose').fill('Keep CRM contact records up to date');
  await page.getByLabel('Accountable sponsor').selectOption(lead);
  await page.getByLabel('Trust stage').selectOption('act_with_approval');
  await page.getByLabel(/^Reason/).fill('It has shadowed the CRM team for a month.');
  await page.getByRole('button', { name: 'Register agent' }).click();
  // Above propose, one lead registers it at propose and asks a second lead.
  await expect(page.getByRole('status')).toContainText(`Registered ${name} at propose`);
  await expect(page.getByTestId('proposed')).toContainText('registered to run at act_with_approval');
  await expect(page.getByRole('cell', { name: new RegExp(name) })).toBeVisible();

  await page.getByRole('status').getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { name: new RegExp(name) })).toBeVisible();
  await page.getByRole('button', { name: 'Issue new key' }).click();
  const key = (await page.getByTestId('new-key').textContent())!.trim();
  expect(key).toMatch(/^belay_[A-Za-z0-9_-]{43}$/);

  const me = await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
  expect(me.status).toBe(200);

  // Shown once: a fresh load of the page has only the prefix.
  await page.reload();
  await expect(page.getByTestId('new-key')).toHaveCount(0);
  await expect(page.getByText(key)).toHaveCount(0);

  await page.getByRole('button', { name: 'Revoke' }).click();
  await expect(page.getByRole('cell', { name: 'revoked' })).toBeVisible();
  const after = await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } });
  expect(after.status).toBe(401);
});

test('a lead demotes an agent and then pulls the kill switch', async ({ page }) => {
  const agentKey = createAgent(`runaway-${run}-${Date.now().toString(36)}`, lead, 'scoped_autonomy');
  const me = await (await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${agentKey}` } })).json();
  await signInAt(page, `/agents/${me.id}`, lead);

  await page.getByLabel('Demote to').selectOption('act_with_approval');
  await page.getByLabel('Reason', { exact: true }).fill('sent a draft to a customer');
  await page.getByRole('button', { name: 'Demote' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText('act_with_approval');

  const axe = await new AxeBuilder({ page }).analyze();
  expect(axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id)).toEqual([]);

  await page.getByLabel('Reason for suspending').fill('loops on refunds');
  await page.getByRole('button', { name: /Suspend/ }).click();
  await expect(page.getByRole('status')).toContainText('Suspended: 1 keys revoked');
  await expect(page.getByTestId('agent-status')).toHaveText('suspended');
  const res = await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${agentKey}` } });
  expect(res.status).toBe(401);
});
