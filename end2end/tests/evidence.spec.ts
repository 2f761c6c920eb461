import AxeBuilder from '@axe-core/playwright';
import { expect, test } from '@playwright/test';
import { createAgent, createUser, signInAt, submit } from './belay';

const run = Date.now().toString(36);
const reviewer = `eve-${run}`;
let key: string;

test.beforeAll(() => {
  createUser(reviewer, 'reviewer');
  createUser(`lou-${run}`, 'lead');
  key = createAgent(`browser-bot-${run}`, `lou-${run}`, 'propose');
});

// Port 9 (discard) on loopback: anything hostile that got out would aim here.
const TRAP = 'http://127.0.0.1:9';
const HOSTILE = `<!doctype html><html><head>
<meta http-equiv="refresh" content="0;url=${TRAP}/refresh">
<script>window.parent.document.body.setAttribute('data-pwned', 'script'); fetch('${TRAP}/fetch');</script>
</head><body><h1>Checkout</h1>
<img src="${TRAP}/pixel.gif" onerror="window.parent.document.body.setAttribute('data-pwned', 'onerror')">
<form action="${TRAP}/form"><button id="buy">Buy</button></form></body></html>`;
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

test('every evidence type has its view, and a hostile DOM snapshot stays inert', async ({ page, context }) => {
  const leaked: string[] = [];
  await context.route(`${TRAP}/**`, (route) => {
    leaked.push(route.request().url());
    return route.abort();
  });
  page.on('request', (r) => {
    if (!r.url().startsWith('http://127.0.0.1:3100') && !r.url().startsWith(TRAP)) leaked.push(r.url());
  });
  const action = await submit(key, {
    capability: 'vendor.purchase_order',
    target: `vendor-${run}`,
    summary: 'Order 40 chairs from the usual vendor',
    params: { quantity: 40 },
    evidence: [
      { type: 'screenshot', content_base64: PNG },
      { type: 'dom_snapshot', content: HOSTILE },
      { type: 'request_log', content: [{ method: 'POST', url: 'https://vendor.example/cart', status: 201, duration_ms: 90, request_body: '{"qty":40}' }] },
      { type: 'events', content: [{ at: '10:00:01', type: 'navigation', url: 'https://vendor.example/cart' }, { at: '10:00:04', type: 'click', detail: 'checkout' }] },
      { type: 'plan', content: '## Order\n\n1. add **40** chairs\n<script>alert(1)</script>' },
      { type: 'prompt', content: 'Buy office chairs within budget.' },
      { type: 'extracted_data', content: [{ sku: 'CH-1', qty: 40, price: 89 }] },
      { type: 'diff', content: { before: { chairs: 10 }, after: { chairs: 50 } } },
    ],
  });

  await signInAt(page, `/approvals/${action.id}`, reviewer);
  const tab = (name: string) => page.getByRole('tab', { name, exact: true });

  await expect(tab('screenshot')).toHaveAttribute('aria-selected', 'true');
  const img = page.getByRole('img', { name: /Screenshot the agent attached/ });
  await expect(img).toBeVisible();
  expect(await img.evaluate((i: HTMLImageElement) => i.naturalWidth)).toBe(1);
  await page.getByRole('button', { name: '200%' }).click();
  await expect(img).toHaveAttribute('style', /width: 200%/);

  await tab('dom_snapshot').click();
  const frame = page.locator('iframe.snapshot');
  await expect(frame).toHaveAttribute('sandbox', '');
  await expect(page.frameLocator('iframe.snapshot').getByRole('heading', { name: 'Checkout' })).toBeVisible();
  await page.waitForTimeout(1500); // time for a refresh, a script or an image to try
  await expect(page.locator('body')).not.toHaveAttribute('data-pwned', /.*/);
  expect(leaked).toEqual([]);
  await page.getByRole('button', { name: 'Source' }).click();
  await expect(page.getByText('<script>window.parent.document.body')).toBeVisible();

  await tab('request_log').click();
  await expect(page.getByTestId('request-log')).toContainText('https://vendor.example/cart');
  await page.getByText('Bodies').click();
  await expect(page.getByText('{"qty":40}')).toBeVisible();

  await tab('events').click();
  await expect(page.getByTestId('timeline').locator('li.transition')).toHaveCount(1);

  await tab('plan').click();
  await expect(page.locator('.markdown h2')).toHaveText('Order');
  await expect(page.locator('.markdown strong')).toHaveText('40');
  await expect(page.locator('.markdown')).toContainText('<script>alert(1)</script>');

  await tab('prompt').click();
  await expect(page.locator('.markdown')).toContainText('Buy office chairs');

  await tab('extracted_data').click();
  await expect(page.getByTestId('data-table')).toContainText('CH-1');

  await tab('diff').click();
  await expect(page.getByTestId('diff').locator('.before')).toContainText('10');
  await expect(page.getByTestId('diff').locator('.after')).toContainText('50');

  const result = await new AxeBuilder({ page }).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad.map((v) => `${v.id}: ${v.help}`)).toEqual([]);
  expect(leaked).toEqual([]);
  await expect(page.locator('body')).not.toHaveAttribute('data-pwned', /.*/);
});
