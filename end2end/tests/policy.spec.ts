import { expect, test } from '@playwright/test';
import { createAgent, createUser, hydrated, signInAt, submit } from './belay';

const run = Date.now().toString(36);
const lead = `lena-${run}`;
const second = `lars-${run}`;
const agent = `refund-bot-${run}`;

test.beforeAll(() => {
  createUser(lead, 'lead');
  createUser(second, 'lead');
});

test('a lead grants scope with a bound, tightens a rule and simulates the decision', async ({ page, browser }) => {
  const key = createAgent(agent, lead, 'scoped_autonomy');
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  await signInAt(page, '/agents', lead);

  // Catalog: a lead adds a capability with its triggers.
  const capability = `payouts.send-${run}`;
  await page.getByRole('link', { name: 'Capabilities' }).click();
  await hydrated(page);
  const adding = page.locator('section.card', { hasText: 'Add a capability' });
  await adding.getByLabel('Name').fill(capability);
  await adding.getByLabel('Description').fill('Pay out to a vendor');
  await adding.getByLabel('purchase').check();
  await adding.getByLabel('external_send').check();
  await adding.getByRole('button', { name: 'Add capability' }).click();
  await expect(page.getByText(`Saved ${capability}.`)).toBeVisible();
  const entry = page.getByTestId('catalog').locator(`tr[data-capability="${capability}"]`);
  await expect(entry).toContainText('purchase');
  await expect(entry).toContainText('external_send');

  // Scope: billing.refund up to 500, for customers only.
  await page.getByRole('link', { name: 'Agents' }).click();
  await hydrated(page);
  await page.getByRole('link', { name: agent }).click();
  await expect(page.getByRole('heading', { name: 'Scope', exact: true })).toBeVisible();
  await hydrated(page);
  await page.getByRole('combobox', { name: 'Capability', exact: true }).selectOption('billing.refund');
  await page.getByLabel(/Parameter bounds/).fill('amount <= 500');
  await page.getByLabel(/Allowed targets/).fill('customer:*');
  await page.getByLabel(/^Reason \(needed when/).fill('refunds are its job');
  await page.getByRole('button', { name: 'Save grant' }).click();
  // A new grant widens scope: it waits for a second lead.
  const proposal = page.getByTestId('proposed');
  await expect(proposal).toContainText('grants billing.refund');
  const changePath = await proposal.getByRole('link', { name: 'the change request' }).getAttribute('href');
  const other = await (await browser.newContext()).newPage();
  await signInAt(other, changePath!, second);
  await other.getByLabel('Why you approve').fill('bounded and targeted');
  await other.getByRole('button', { name: 'Approve this change' }).click();
  await expect(other.getByTestId('change-state')).toHaveText('approved');
  await page.reload();
  await hydrated(page);
  const row = page.getByTestId('grants').locator('tr[data-capability="billing.refund"]');
  await expect(row).toContainText('amount <= 500');
  await expect(row).toContainText('customer:*');

  // A bad bound is refused with its reason, and nothing changes.
  await page.getByRole('combobox', { name: 'Capability', exact: true }).selectOption('email.send');
  await page.getByLabel(/Parameter bounds/).fill('amount <= lots');
  await page.getByRole('button', { name: 'Save grant' }).click();
  await expect(page.getByRole('alert')).toContainText('is not a bound');
  await expect(page.getByTestId('grants').locator('tr[data-capability="email.send"]')).toHaveCount(0);

  // Policy: purchases (always approve by default) need two approvals.
  await page.getByRole('link', { name: 'Policy' }).click();
  await expect(page.getByTestId('policy-version')).toBeVisible();
  await hydrated(page);
  await page.getByRole('combobox', { name: 'approvals for purchase' }).selectOption('2');
  await page.getByLabel('What changed and why').fill('refunds move money');
  await page.getByRole('button', { name: 'Save as a new version' }).click();
  await expect(page.getByRole('status')).toContainText(/Saved as policy v\d+/);
  await expect(page.getByTestId('history')).toContainText('refunds move money');

  // Simulate: over the bound is out of scope, and the reasons say so.
  await page.getByRole('link', { name: 'Simulate' }).click();
  await hydrated(page);
  await page.getByRole('combobox', { name: 'Agent' }).selectOption({ label: agent });
  await page.getByLabel('Capability').fill('billing.refund');
  await page.getByLabel('Target').fill('customer:acme');
  await page.getByLabel('Params (JSON)').fill('{"amount": 900}');
  await page.getByRole('button', { name: 'Simulate' }).click();
  const sim = page.getByTestId('simulation');
  await expect(sim.getByTestId('outcome')).toHaveText('pending_approval');
  await expect(sim).toContainText("outside the grant's bound amount <= 500");
  await expect(sim).toContainText('first use');

  // The real request is held for the same reasons, shown to the reviewer.
  const action = await submit(key, {
    capability: 'billing.refund',
    target: 'customer:acme',
    summary: 'Refund a duplicate charge',
    params: { amount: 900 },
  });
  expect(action.decision).toBe('pending_approval');
  expect(action.approvals_required).toBe(2);
  await page.goto(`/approvals/${action.id}`);
  await expect(page.locator('.reasons')).toContainText("outside the grant's bound amount <= 500");
  await expect(page.getByTestId('approvals')).toContainText('0 of 2');
  expect(errors).toEqual([]);
});
