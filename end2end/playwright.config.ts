import { defineConfig } from '@playwright/test';
import { BASE_URL, BELAY_BIN, DATABASE_URL, PORT } from './tests/belay';

// Runs against a real `belay serve` on loopback with a fresh SQLite file,
// in Debian's Chromium (Playwright cannot download browsers here).
export default defineConfig({
  testDir: './tests',
  timeout: 60_000,
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: BASE_URL,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    },
  },
  webServer: {
    command: `rm -rf .data && mkdir -p .data && ${BELAY_BIN} serve --addr 127.0.0.1:${PORT}`,
    url: `${BASE_URL}/login`,
    env: { DATABASE_URL, LEPTOS_SITE_ROOT: '../target/site', RUST_LOG: 'info' },
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: 'pipe',
  },
});
