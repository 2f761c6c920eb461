import { expect, test, type Page } from '@playwright/test';

// name=url pairs from ./run-tests: `release` and `debug` each run in an
// empty folder; `stale` is the release binary where target/site holds the
// debug front end.
const servers = Object.fromEntries(
  (process.env.BELAY_SERVERS ?? '').split(',').filter(Boolean).map((s) => s.split('=', 2)),
) as Record<string, string>;
const VERSIONED_WASM = /^\/pkg\/[0-9a-f]{16}\/belay\.wasm$/;

/** Signs in as the runner's admin; returns the wasm the pages loaded. */
async function signInAndHydrate(page: Page, base: string): Promise<string> {
  const failures: string[] = [];
  page.on('pageerror', (e) => failures.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') failures.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400) failures.push(`${r.status()} ${r.url()}`);
  });
  const wasm = page.waitForResponse((r) => r.url().endsWith('/belay.wasm'));
  const css = page.waitForResponse((r) => r.url().endsWith('/belay.css'));
  await page.goto(`${base}/login`);
  expect((await css).status()).toBe(200);
  expect((await wasm).status()).toBe(200);
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
  await page.getByLabel('Username').fill('ada');
  await page.getByLabel('Password').fill('correct horse battery staple');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).not.toHaveURL(/\/login/);
  await page.locator('body[data-hydrated="true"]').waitFor({ state: 'attached' });
  expect(failures).toEqual([]);
  return new URL((await wasm).url()).pathname;
}

test('the release binary in an empty folder serves its own front end, compressed and kept for good', async ({ page, request }) => {
  const base = servers.release;
  const wasm = await signInAndHydrate(page, base);
  expect(wasm).toMatch(VERSIONED_WASM);

  const res = await request.get(`${base}${wasm}`, { headers: { 'accept-encoding': 'br, gzip' } });
  expect(res.status()).toBe(200);
  const h = res.headers();
  expect(h['content-encoding']).toBe('br');
  expect(h['content-type']).toBe('application/wasm');
  expect(h['cache-control']).toBe('public, max-age=31536000, immutable');
  expect(h['vary']).toBe('accept-encoding');
  // The security headers reach the embedded files too.
  expect(h['x-content-type-options']).toBe('nosniff');
  expect(h['x-frame-options']).toBe('DENY');
  expect(h['referrer-policy']).toBe('same-origin');
  expect((await res.body()).subarray(0, 4)).toEqual(Buffer.from([0, 0x61, 0x73, 0x6d]));

  const gz = await request.get(`${base}${wasm}`, { headers: { 'accept-encoding': 'gzip' } });
  expect(gz.headers()['content-encoding']).toBe('gzip');
  const again = await request.get(`${base}${wasm}`, {
    headers: { 'accept-encoding': 'br', 'if-none-match': h['etag'] },
  });
  expect(again.status()).toBe(304);

  // Unversioned names are not served: a page can only load this build.
  expect((await request.get(`${base}/pkg/belay.wasm`)).status()).toBe(404);
  const icon = await request.get(`${base}/favicon.svg`);
  expect(icon.status()).toBe(200);
  expect(icon.headers()['cache-control']).toBe('no-cache');
  expect(icon.headers()['etag']).toBeTruthy();
  const login = await request.get(`${base}/login`);
  expect(login.headers()['cache-control']).toBe('no-store');
});

test('the release binary ignores a debug front end in target/site beside it', async ({ page, request }) => {
  const wasm = await signInAndHydrate(page, servers.stale);
  const release = await request.get(`${servers.release}/login`);
  // The same build, so the same version in the names.
  expect(await release.text()).toContain(wasm);
});

test('the debug binary in an empty folder serves the folder it is given', async ({ page }) => {
  const wasm = await signInAndHydrate(page, servers.debug);
  expect(wasm).toBe('/pkg/belay.wasm');
});
