import { expect, test } from '@playwright/test';
import { BASE_URL, createAgent, createUser, hydrated, signInAt, submit } from './belay';

// Names are unique per worker start (see approve.spec.ts).
const stamp = Date.now().toString(36);
const reviewer = `rory-${stamp}`;
const runName = `renewal-${stamp}`;
let key: string;

test.beforeAll(() => {
  createUser(reviewer, 'reviewer');
  createUser(`lena-${stamp}`, 'lead');
  key = createAgent(`runner-${stamp}`, `lena-${stamp}`, 'act_with_approval');
});

async function agentCall(method: string, path: string, body?: object): Promise<any> {
  const res = await fetch(`${BASE_URL}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body ? JSON.stringify(body) : undefined,
  });
  if (res.status >= 300) throw new Error(`${method} ${path} answered ${res.status}: ${await res.text()}`);
  return res.json();
}

const event = (body: object) => agentCall('POST', `/runs/${runName}/events`, body);

test('a reviewer follows a run on its page from its first event to its final action', async ({ page }) => {
  await event({ kind: 'prompt', text: 'Renew the ACME contract' });
  await event({ kind: 'plan', text: '1. Open the account\n2. Email the renewal' });
  await event({ kind: 'page_visited', url: 'https://crm.example/accounts/7', text: '<b>ACME</b> account' });
  await event({ kind: 'extracted_data', data: { renewal_due: '2027-01-01' } });
  const escalation = await event({ kind: 'escalation', text: 'Two contacts are listed; which one gets the email?' });
  const action = await submit(key, {
    capability: 'email.send',
    target: 'buyer@acme.example',
    summary: 'Send the renewal offer to ACME',
    run_id: runName,
    evidence: [{ type: 'plan', content: 'Email the renewal' }],
  });
  expect(action.decision).toBe('pending_approval');

  // The request page shows the run so far and leads to the run.
  await signInAt(page, `/approvals/${action.id}`, reviewer);
  const soFar = page.getByTestId('run-so-far');
  await expect(soFar).toContainText(runName);
  await expect(soFar).toContainText('prompt: Renew the ACME contract');
  await soFar.getByTestId('run-link').click();
  await expect(page).toHaveURL(/\/runs\/[0-9a-f-]{36}$/);
  await hydrated(page);
  const runUrl = page.url();

  await expect(page.getByTestId('run-key')).toHaveText(runName);
  const steps = page.getByTestId('step');
  await expect(steps).toHaveCount(6);
  await expect(steps.nth(0)).toContainText('prompt');
  await expect(steps.nth(0)).toContainText('Renew the ACME contract');
  // What the agent sent is text, never markup.
  await expect(steps.nth(2)).toContainText('<b>ACME</b> account');
  await expect(steps.nth(3)).toContainText('"renewal_due": "2027-01-01"');
  await expect(steps.nth(4)).toContainText('Two contacts are listed');
  await expect(steps.nth(5)).toContainText('email.send');
  await expect(page.getByTestId('waiting')).toContainText('approval of email.send');
  await expect(page.getByTestId('waiting')).toContainText('an answer to its escalation');

  // Answer the escalation on the run page; the agent reads the answer.
  await page.getByTestId('answer-text').fill('Email the buyer, not the assistant');
  await page.getByRole('button', { name: 'Answer' }).click();
  await expect(page.getByText('Email the buyer, not the assistant')).toBeVisible();
  const read = await agentCall('GET', `/runs/${runName}/events/${escalation.id}`);
  expect(read.escalation).toEqual(expect.objectContaining({ state: 'answered', answer: 'Email the buyer, not the assistant' }));

  // Approve the request, then the agent carries it out.
  await page.goto(`/approvals/${action.id}`);
  await hydrated(page);
  await page.getByRole('button', { name: 'Approve', exact: true }).click();
  await expect(page.getByTestId('outcome')).toContainText(`Approved by ${reviewer}`);
  await agentCall('POST', `/actions/${action.id}/claim`);
  await agentCall('POST', `/actions/${action.id}/outcome`, { status: 'succeeded', details: 'Offer sent to the buyer' });

  // Back on the run: the whole story, in order, ending with the outcome.
  await page.goto(runUrl);
  await hydrated(page);
  const kinds = await page.getByTestId('step-kind').allInnerTexts();
  expect(kinds).toEqual([
    'prompt', 'plan', 'page visited', 'extracted data', 'escalation', 'request',
    'answered', 'approval', 'decided', 'claimed', 'outcome',
  ]);
  await expect(steps.last()).toContainText('Offer sent to the buyer');
  await expect(steps.last()).toContainText('succeeded');
  await expect(page.getByTestId('waiting')).toHaveText('nothing');
});
