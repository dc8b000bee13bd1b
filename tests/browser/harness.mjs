// What the smaller browser scripts share: Debian's Chromium, a watched page (every
// console error and page error is a problem), numbered steps, and the ending that fails
// the script when anything went wrong. `flows.mjs` keeps its own, with its several people.

import { chromium } from 'playwright-core';

export const problems = [];

export const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});

/**
 * A page of its own context (cookies) at `base`, watched for errors; `allow` matches the
 * console errors a script provokes on purpose (the browser logs a refused request).
 */
export async function watchedPage(base, { allow = null } = {}) {
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on('console', (m) => {
    if (m.type() === 'error' && !(allow && allow.test(m.text()))) problems.push(`console error: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return { context, page };
}

/** A new page of its own context at `base`, signed in as `email` with `password`. */
export async function signedIn(base, email, password) {
  const { page } = await watchedPage(base);
  await page.goto('/login');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

export function step(text) {
  console.log(`- ${text}`);
}

/** Closes the browser; exits 1 listing the problems, or says `passed`. */
export async function finish(passed) {
  await browser.close();
  if (problems.length) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
  console.log(passed);
}
