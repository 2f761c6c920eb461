import { Browser, expect, Page, test } from '@playwright/test';
import { createUser, hydrated, PASSWORD, signInAt } from './belay';

// Unique per worker start (a retry runs beforeAll again on the same
// database). Each test changes its own people; the admin other specs use is
// never touched.
const run = Date.now().toString(36);
const admin = `ada-${run}`;
const leaver = `lev-${run}`;
const mover = `mo-${run}`;
const forgetful = `fay-${run}`;
const changer = `cal-${run}`;
const reviewer = `rue-${run}`;

test.beforeAll(() => {
  createUser(admin, 'admin');
  for (const name of [leaver, mover, forgetful, changer, reviewer]) createUser(name, 'reviewer');
});

/** Signs in on a page of its own (its own cookies); `ok` false expects a refusal. */
async function signInFresh(browser: Browser, username: string, password: string, ok = true): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  await page.goto('/login');
  await hydrated(page);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  if (ok) {
    await expect(page.getByTestId('whoami')).toContainText(username);
  } else {
    await expect(page.getByRole('alert')).toContainText('wrong username or password');
  }
  return page;
}

/** Whether this page's session still works: a signed-out visit goes to the login page. */
async function stillSignedIn(page: Page): Promise<boolean> {
  await page.goto('/approvals');
  return !new URL(page.url()).pathname.startsWith('/login');
}

const row = (page: Page, username: string) => page.getByTestId('people').locator(`tr[data-person="${username}"]`);

test('an admin deactivates someone, whose session ends at once, and reactivates them', async ({ page, browser }) => {
  const theirs = await signInFresh(browser, leaver, PASSWORD);
  await signInAt(page, '/people', admin);
  // No one deactivates themselves.
  await expect(row(page, admin)).toContainText(`${admin} (you)`);
  await expect(row(page, admin).getByRole('button', { name: 'Deactivate' })).toHaveCount(0);

  const state = row(page, leaver).locator('td').nth(2);
  await expect(state).toHaveText('active');
  await row(page, leaver).getByRole('button', { name: 'Deactivate' }).click();
  await expect(state).toHaveText('deactivated');
  expect(await stillSignedIn(theirs)).toBe(false);
  await signInFresh(browser, leaver, PASSWORD, false);

  await row(page, leaver).getByRole('button', { name: 'Reactivate' }).click();
  await expect(row(page, leaver).getByRole('button', { name: 'Deactivate' })).toBeVisible();
  await expect(state).toHaveText('active');
  await signInFresh(browser, leaver, PASSWORD);
});

test('an admin changes a role, and the person has it on their next page', async ({ page, browser }) => {
  const theirs = await signInFresh(browser, mover, PASSWORD);
  await expect(theirs.getByTestId('whoami')).toHaveText(`${mover} (reviewer)`);
  await signInAt(page, '/people', admin);

  const role = page.getByLabel(`role for ${mover}`);
  await role.selectOption('lead');
  const saved = page.waitForResponse((r) => r.url().includes('/rpc/people/set_role'));
  await row(page, mover).getByRole('button', { name: 'Change role' }).click();
  expect((await saved).ok()).toBe(true);
  await page.reload();
  await expect(page.getByLabel(`role for ${mover}`)).toHaveValue('lead');

  await theirs.reload();
  await expect(theirs.getByTestId('whoami')).toHaveText(`${mover} (lead)`);

  // Setting the role it already has is refused, and says so.
  await hydrated(page);
  await row(page, mover).getByRole('button', { name: 'Change role' }).click();
  await expect(page.getByRole('alert')).toContainText(`${mover} is already lead`);
});

test('a reset password is shown once, works, and the old one stops working', async ({ page, browser }) => {
  const theirs = await signInFresh(browser, forgetful, PASSWORD);
  await signInAt(page, '/people', admin);
  await row(page, forgetful).getByRole('button', { name: 'Reset password' }).click();
  const secret = page.getByTestId('new-password');
  await expect(secret).toHaveText(/^[A-Za-z0-9]{24}$/);
  const fresh = (await secret.textContent())!.trim();
  await expect(page.getByRole('status')).toContainText('shown once');

  // Shown once: the next visit to the page does not have it.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('new-password')).toHaveCount(0);
  await expect(page.getByText(fresh)).toHaveCount(0);

  expect(await stillSignedIn(theirs)).toBe(false);
  await signInFresh(browser, forgetful, PASSWORD, false);
  await signInFresh(browser, forgetful, fresh);
});

test('someone changes their own password on /account; the old one and other sessions end', async ({ page, browser }) => {
  const elsewhere = await signInFresh(browser, changer, PASSWORD);
  await signInAt(page, '/account', changer);
  await expect(page.getByRole('heading', { name: 'Your account' })).toBeVisible();
  const newPassword = `a much longer phrase ${run}`;

  // The current password is checked first.
  await page.getByLabel('Current password').fill('not the password at all');
  await page.getByLabel('New password (at least 12 characters)').fill(newPassword);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('alert')).toContainText('the current password is wrong');

  await page.getByLabel('Current password').fill(PASSWORD);
  await page.getByLabel('New password (at least 12 characters)').fill(newPassword);
  await page.getByRole('button', { name: 'Change password' }).click();
  await expect(page.getByRole('status')).toHaveText('Your password is changed.');

  // This session goes on; the other one ended; only the new password works.
  expect(await stillSignedIn(page)).toBe(true);
  expect(await stillSignedIn(elsewhere)).toBe(false);
  await signInFresh(browser, changer, PASSWORD, false);
  await signInFresh(browser, changer, newPassword);
});

test('people other than admins cannot manage people', async ({ page }) => {
  await signInAt(page, '/people', reviewer);
  await expect(page.getByRole('alert')).toContainText('may not manage people');
  await expect(page.getByTestId('people')).toHaveCount(0);
});
