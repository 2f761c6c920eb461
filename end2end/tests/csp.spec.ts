import { expect, test } from '@playwright/test';
import { createAgent, createUser, hydrated, signInAt, submit } from './belay';

const run = Date.now().toString(36);
const admin = `adele-${run}`;

test.beforeAll(() => {
  createUser(admin, 'admin');
});

test('every page carries a nonce CSP and hydrates without a single violation', async ({ page }) => {
  // Record violations the moment they happen, on every page loaded.
  await page.addInitScript(() => {
    (window as any).__csp = [];
    document.addEventListener('securitypolicyviolation', (e) =>
      (window as any).__csp.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  const key = createAgent(`csp-bot-${run}`, admin, 'propose');
  const action = await submit(key, {
    capability: 'docs.summarize', target: 't', summary: 'Evidence of every kind',
    evidence: [
      { type: 'plan', content: '## Plan\n<script>alert(1)</script>' },
      { type: 'dom_snapshot', content: '<p>Invoice</p><script>alert(1)</script>' },
      { type: 'extracted_data', content: '[{"a":1},{"b":2}]' },
    ],
  });
  await signInAt(page, '/', admin);
  const paths = ['/', '/approvals', `/approvals/${action.id}`, '/agents', '/capabilities', '/policy',
    '/simulate', '/reviews', '/readiness', '/spot-checks', '/audit', '/people', '/account'];
  for (const path of paths) {
    const res = await page.goto(path);
    const csp = res!.headers()['content-security-policy'] ?? '';
    expect(csp, path).toMatch(/script-src 'nonce-[A-Za-z0-9+/=_-]+' 'strict-dynamic'/);
    await hydrated(page);
    expect(await page.evaluate(() => (window as any).__csp), path).toEqual([]);
  }
  // Each page got its own nonce.
  const a = (await page.goto('/agents'))!.headers()['content-security-policy'];
  const b = (await page.goto('/agents'))!.headers()['content-security-policy'];
  expect(a).not.toEqual(b);
});
