import AxeBuilder from '@axe-core/playwright';
import { expect, Locator, Page, test } from '@playwright/test';
import { crc32, deflateSync } from 'node:zlib';
import { BASE_URL, createAgent, createUser, hydrated, signInAt, submit } from './belay';

// Deciding from a phone: the reviewer's whole path at 390 × 844 and at
// 1280 × 900, with nothing off the side of the screen, axe clean in light
// and dark, times in the reader's zone, and the waiting count in the tab.
// Screenshots at phone size go to test-results/ (not committed).

// Unique per worker start (a retry runs beforeAll again on the same database).
const run = Date.now().toString(36);
const reviewer = `pia-${run}`;
const sponsor = `pat-${run}`;

test.beforeAll(() => {
  createUser(reviewer, 'reviewer');
  createUser(sponsor, 'lead');
});

// A zone far from UTC, so a local time cannot pass for the UTC one.
test.use({ timezoneId: 'Asia/Kolkata', locale: 'en-GB' });

const SIZES = [
  { name: 'phone', width: 390, height: 844 },
  { name: 'desktop', width: 1280, height: 900 },
];

/** A solid PNG, wider than a phone, to see a screenshot fitted and zoomed. */
function png(width: number, height: number): string {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body) >>> 0);
    return Buffer.concat([len, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.alloc(width * 3, 0x5a)]);
  const pixels = deflateSync(Buffer.concat(Array.from({ length: height }, () => row)));
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', pixels),
    chunk('IEND', Buffer.alloc(0)),
  ]).toString('base64');
}

const EVIDENCE = [
  { type: 'screenshot', content_base64: png(1200, 300) },
  { type: 'dom_snapshot', content: '<!doctype html><title>Fares</title><h1>Fares</h1><p>LHR → JFK, 412 EUR</p>' },
  { type: 'request_log', content: [{ method: 'GET', url: 'https://fares.example/search?from=LHR&to=JFK&date=2026-12-03', status: 200, duration_ms: 310 }] },
  { type: 'events', content: [{ at: '09:00:01', type: 'navigation', url: 'https://fares.example/search' }, { at: '09:00:09', type: 'click', detail: 'select fare' }] },
  { type: 'plan', content: '## Booking\n\n1. pick the **cheapest** refundable fare\n2. book it' },
  { type: 'extracted_data', content: [{ flight: 'BA 117', fare: 412, refundable: true }, { flight: 'VS 3', fare: 455, refundable: true }] },
  { type: 'diff', content: { before: { seat: null, fare: null }, after: { seat: '14C', fare: 412 } } },
];
const TABS = ['screenshot', 'dom_snapshot', 'request_log', 'events', 'plan', 'extracted_data', 'diff'];

/** Script errors (a broken hydration shows up here) and failed requests. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    // axe tries to run inside the DOM snapshot's frame, whose sandbox
    // forbids scripts: that refusal is the sandbox working.
    if (m.type() === 'error' && !/frame is sandboxed/.test(m.text())) errors.push(m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
  });
  return errors;
}

/** Nothing makes the page wider than the screen. */
async function fitsWidth(page: Page, where: string) {
  const { scroll, inner } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
  }));
  expect(scroll, `${where}: the page is ${scroll}px wide on a ${inner}px screen`).toBeLessThanOrEqual(inner);
}

/** Visible, and wholly inside the screen from left to right. */
async function onScreen(page: Page, el: Locator, what: string) {
  await expect(el, what).toBeVisible();
  const box = (await el.boundingBox())!;
  const width = page.viewportSize()!.width;
  expect(box.x, `${what} starts left of the screen`).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width, `${what} ends right of the screen`).toBeLessThanOrEqual(width);
  return box;
}

/** Big enough for a finger (44 px) on a phone. */
async function touchSized(page: Page, el: Locator, what: string) {
  const box = await onScreen(page, el, what);
  if (page.viewportSize()!.width < 500) {
    expect(box.height, `${what} is ${box.height}px tall`).toBeGreaterThanOrEqual(44);
  }
}

/** axe: no serious or critical violation, in the light and the dark scheme. */
async function accessibleInBothSchemes(page: Page, where: string) {
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const result = await new AxeBuilder({ page }).analyze();
    const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(
      bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
      `${where}, ${colorScheme}`,
    ).toEqual([]);
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

/** Phone-size screenshots in both schemes, kept as test artifacts. */
async function screenshots(page: Page, name: string) {
  if (page.viewportSize()!.width >= 500) return;
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    await page.screenshot({ path: test.info().outputPath(`${name}-${colorScheme}.png`), fullPage: true });
  }
  await page.emulateMedia({ colorScheme: 'light' });
}

const titleCount = async (page: Page) => Number((await page.title()).match(/^\((\d+)\) Approvals · Belay$/)?.[1]);

for (const size of SIZES) {
  test.describe(`at ${size.width} × ${size.height}`, () => {
    test.use({ viewport: { width: size.width, height: size.height } });

    test(`a reviewer decides on the ${size.name}: queue, request, every kind of evidence, approve, reject`, async ({ page }) => {
      const phone = size.width < 500;
      const errors = watchErrors(page);
      const key = createAgent(`fare-finder-${size.name}-${run}`, sponsor, 'act_with_approval');
      const me = await (await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } })).json();
      const booking = await submit(key, {
        capability: 'travel.book_flight',
        target: `trip-${run}`,
        summary: 'Book the refundable 09:40 flight to New York for the offsite',
        params: { flight: 'BA 117', fare_eur: 412, seat: '14C' },
        evidence: EVIDENCE,
      });
      expect(booking.decision).toBe('pending_approval');

      // The queue, with the count waiting for this reviewer in the tab.
      await signInAt(page, '/approvals', reviewer);
      await expect(page).toHaveTitle(/^\(\d+\) Approvals · Belay$/);
      const before = await titleCount(page);
      await fitsWidth(page, 'the queue');
      await onScreen(page, page.getByRole('button', { name: 'Sign out' }), 'Sign out');
      if (phone) {
        // The sections fold into a menu that opens from the keyboard.
        const menu = page.locator('.nav-menu > summary');
        await touchSized(page, menu, 'the menu');
        await expect(page.locator('.nav-row')).toBeHidden();
        await menu.focus();
        await page.keyboard.press('Enter');
        await onScreen(page, page.getByRole('link', { name: 'Reviews' }), 'Reviews in the menu');
        await touchSized(page, page.getByRole('link', { name: 'Approvals', exact: true }), 'Approvals in the menu');
        await fitsWidth(page, 'the open menu');
        await page.keyboard.press('Enter');
        await expect(page.getByRole('link', { name: 'Reviews' })).toBeHidden();
        // The filters are folded away until asked for.
        await expect(page.locator('select[name=capability]')).toBeHidden();
        await page.getByText('Filters', { exact: true }).click();
        await onScreen(page, page.locator('select[name=capability]'), 'the capability filter');
        await page.getByText('Filters', { exact: true }).click();
      } else {
        await expect(page.locator('.nav-menu')).toBeHidden();
        await onScreen(page, page.getByRole('link', { name: 'Reviews' }), 'Reviews in the bar');
        await onScreen(page, page.locator('select[name=capability]'), 'the capability filter');
      }
      await accessibleInBothSchemes(page, 'the queue');
      await screenshots(page, 'queue');

      // A new request raises the count in the tab, live.
      const refund = await submit(key, {
        capability: 'travel.change_booking',
        target: `trip-${run}`,
        summary: 'Move the return flight a day earlier (fee 80 EUR)',
        params: { booking: 'PNR-7Q2', new_date: '2026-12-05', fee_eur: 80 },
        evidence: [{ type: 'plan', content: 'Change the return leg; the fee is within policy.' }],
      });
      expect(refund.decision).toBe('pending_approval');
      await expect(page).toHaveTitle(`(${before + 1}) Approvals · Belay`, { timeout: 10_000 });

      // This agent's requests, as cards on a phone.
      await page.goto(`/approvals?agent=${me.id}`);
      await hydrated(page);
      const card = page.locator('table.queue tbody tr[data-id]', { hasText: 'travel.book_flight' });
      await expect(card).toContainText('Book the refundable 09:40 flight');
      await expect(card).toContainText(`fare-finder-${size.name}-${run}`);
      await expect(card).toContainText('0 of 1');
      await expect(card.locator('td[data-label="Waiting"] time')).toHaveAttribute('title', /^since .* UTC$/);
      if (phone) await expect(page.locator('table.queue thead')).toBeHidden();
      await fitsWidth(page, 'the filtered queue');
      const open = card.getByRole('link', { name: 'travel.book_flight' });
      await touchSized(page, open, 'the request link');
      await open.click();

      // The request page: times in the reader's zone, UTC in the title.
      await expect(page).toHaveURL(new RegExp(`/approvals/${booking.id}$`));
      await hydrated(page);
      const submitted = page.getByTestId('submitted').locator('time');
      await expect(submitted).toHaveAttribute('title', /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
      await expect(submitted).toHaveText(/IST|GMT\+5:30/);
      await expect(page.getByTestId('submitted')).toContainText(/just now|min ago/);
      await fitsWidth(page, 'the request page');

      // Every kind of evidence, each inside the screen.
      for (const name of TABS) {
        const tab = page.getByRole('tab', { name, exact: true });
        await tab.click();
        await expect(tab).toHaveAttribute('aria-selected', 'true');
        await touchSized(page, tab, `the ${name} tab`);
        await fitsWidth(page, `the ${name} evidence`);
        if (name === 'screenshot') {
          const img = page.getByRole('img', { name: /Screenshot the agent attached/ });
          await expect(img).toBeVisible();
          expect((await onScreen(page, img, 'the fitted screenshot')).width).toBeLessThanOrEqual(size.width);
          await page.getByRole('button', { name: '200%' }).click();
          await expect(img).toHaveAttribute('style', /width: 200%/);
          await fitsWidth(page, 'the zoomed screenshot'); // it scrolls in its box
          await page.getByRole('button', { name: 'Fit' }).click();
        }
        if (name === 'dom_snapshot') {
          await expect(page.frameLocator('iframe.snapshot').getByRole('heading', { name: 'Fares' })).toBeVisible();
          await onScreen(page, page.locator('iframe.snapshot'), 'the DOM snapshot');
        }
        if (name === 'request_log') await onScreen(page, page.getByTestId('request-log'), 'the request log');
        if (name === 'events') await onScreen(page, page.getByTestId('timeline'), 'the timeline');
        if (name === 'plan') await expect(page.locator('.markdown strong')).toHaveText('cheapest');
        if (name === 'extracted_data') await onScreen(page, page.getByTestId('data-table'), 'the data table');
        if (name === 'diff') {
          const was = await onScreen(page, page.getByTestId('diff').locator('.before'), 'the diff before');
          const now = await onScreen(page, page.getByTestId('diff').locator('.after'), 'the diff after');
          // One column on a phone, two side by side on a desk.
          if (phone) expect(now.y).toBeGreaterThan(was.y + was.height - 1);
          else expect(now.y).toBe(was.y);
        }
      }
      await page.getByRole('tab', { name: 'screenshot', exact: true }).click();
      await accessibleInBothSchemes(page, 'the request page');
      await screenshots(page, 'request');

      // Approve, without scrolling sideways.
      const approve = page.getByRole('button', { name: 'Approve', exact: true });
      await approve.scrollIntoViewIfNeeded();
      await touchSized(page, approve, 'Approve');
      await approve.click();
      await expect(page.getByTestId('outcome')).toContainText(`Approved by ${reviewer}`);
      await expect(page.getByTestId('outcome').locator('time')).toHaveText(/IST|GMT\+5:30/);
      await fitsWidth(page, 'the approved request');

      // Back to the queue (through the menu on a phone), and reject the other.
      if (phone) {
        await page.locator('.nav-menu > summary').click();
        await page.getByRole('link', { name: 'Approvals', exact: true }).click();
      } else {
        await page.getByRole('link', { name: 'Approvals', exact: true }).click();
      }
      await expect(page).toHaveURL(/\/approvals$/);
      await page.goto(`/approvals?agent=${me.id}`);
      await hydrated(page);
      await page.getByRole('link', { name: 'travel.change_booking' }).click();
      await expect(page).toHaveURL(new RegExp(`/approvals/${refund.id}$`));
      await hydrated(page);
      const reason = page.getByLabel('Reason for rejecting (required)');
      await onScreen(page, reason, 'the reason box');
      await reason.fill('The fee is not worth a day; keep the original return.');
      const reject = page.getByRole('button', { name: 'Reject', exact: true });
      await touchSized(page, reject, 'Reject');
      await reject.click();
      await expect(page.getByTestId('outcome')).toContainText(`Rejected by ${reviewer}`);
      await expect(page.getByTestId('outcome')).toContainText('The fee is not worth a day');
      await fitsWidth(page, 'the rejected request');
      await accessibleInBothSchemes(page, 'the decided request');

      expect(errors).toEqual([]);
    });
  });
}

// Every page an admin can reach from the menu, on a phone, in both schemes.
test.describe('every page on a phone', () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test('every section fits a 390 px screen and passes axe in light and dark', async ({ page }) => {
    // Every page twice under axe: on a slow 2-core machine this alone took
    // over the default minute.
    test.slow();
    const admin = `ada-${run}`;
    createUser(admin, 'admin');
    const key = createAgent(`sweeper-${run}`, sponsor, 'act_with_approval');
    const me = await (await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } })).json();
    await signInAt(page, '/', admin);
    const menu = page.locator('.nav-menu > summary');
    await menu.click();
    const paths = await page.locator('.nav-menu nav a').evaluateAll((links) =>
      links.map((a) => new URL((a as HTMLAnchorElement).href).pathname),
    );
    expect(paths).toContain('/people');
    for (const path of [...paths, `/agents/${me.id}`, '/approvals?view=mine', '/account']) {
      await page.goto(path);
      await hydrated(page);
      await expect(page.locator('main h1').first()).toBeVisible();
      await fitsWidth(page, path);
      await accessibleInBothSchemes(page, path);
    }
  });
});

test.describe('on a phone, before and after the page is live', () => {
  test.use({ viewport: { width: 390, height: 844 } });

  test('the menu opens before the page hydrates', async ({ page }) => {
    const who = `noa-${run}`;
    createUser(who, 'reviewer');
    await signInAt(page, '/approvals', who);
    // No wasm, so the page never hydrates: what works is plain HTML (and
    // the small scripts that stream in the server's HTML).
    await page.route('**/pkg/*.wasm', (route) => route.abort());
    await page.goto('/approvals');
    await expect(page.locator('.nav-menu > summary')).toBeVisible();
    await expect(page.getByRole('link', { name: 'Reviews' })).toBeHidden();
    await page.locator('.nav-menu > summary').click();
    await expect(page.getByRole('link', { name: 'Reviews' })).toBeVisible();
    await expect(page.locator('body')).not.toHaveAttribute('data-hydrated', 'true');
    await page.getByRole('link', { name: 'Reviews' }).click();
    await expect(page).toHaveURL(/\/reviews$/);
  });

  test('ages keep counting after the page loads', async ({ page }) => {
    const key = createAgent(`ticker-${run}`, sponsor, 'act_with_approval');
    const me = await (await fetch(`${BASE_URL}/api/v1/me`, { headers: { authorization: `Bearer ${key}` } })).json();
    const action = await submit(key, {
      capability: 'travel.hold_seat',
      target: `seat-${run}`,
      summary: 'Hold seat 14C for 24 hours',
    });
    await signInAt(page, '/approvals', reviewer);
    await page.clock.install();
    // The queue's ages tick every 10 s between its reads (every 30 s, when
    // the server's clock sets them again).
    await page.goto(`/approvals?agent=${me.id}`);
    await hydrated(page);
    const waiting = page.locator('table.queue tbody tr[data-id] td[data-label="Waiting"]');
    await expect(waiting).toHaveText(/^\d+s$/);
    const seconds = async () => Number((await waiting.textContent())!.replace('s', ''));
    const at = await seconds();
    await page.clock.fastForward('00:20');
    await expect.poll(seconds).toBeGreaterThanOrEqual(at + 20);

    await page.goto(`/approvals/${action.id}`);
    await hydrated(page);
    await expect(page.getByTestId('submitted')).toContainText(/just now/);
    await page.clock.fastForward('03:00');
    await expect(page.getByTestId('submitted')).toContainText(/3 min ago/);
    await page.clock.fastForward('01:00:00');
    await expect(page.getByTestId('submitted')).toContainText(/1 h ago/);

    // Withdrawn, so no other test finds it waiting.
    const res = await fetch(`${BASE_URL}/api/v1/actions/${action.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}` },
    });
    expect(res.status).toBe(200);
  });
});
