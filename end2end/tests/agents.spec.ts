import { expect, test } from '@playwright/test';
import { BASE_URL, createUser, hydrated, signInAt } from './belay';

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
  await page.getByRole('button', { name: 'Register agent' }).click();
  await expect(page.getByRole('status')).toContainText(`Registered ${name}`);
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
