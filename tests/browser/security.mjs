// Sign-in security in headless Chromium, against the real server that
// tests/e2e/web_app.rs started: a patient turns on a code app from the profile page
// (reading the key the page shows, computing codes as an authenticator app would), sees
// their recovery codes once, signs out, is asked for a code at sign-in, signs in with
// one, sees how each session signed in, and turns the code app off with a recovery code.
// Then an administrator, whose role must have a second factor (MEDCHAIN_MFA_REQUIRED),
// signs in to a page that only sets one up; with it on, they reset the patient's new code
// app, and the patient signs in with their password alone.
//
// The server's clock stands still at SERVER_TIME (seconds since the epoch): the codes
// are those of the steps around it (a code is good one step either side, and each once).
//
// Environment: MEDCHAIN_URL, CHROMIUM, SCREENSHOTS, SERVER_TIME, ADMIN_EMAIL, ADMIN_PASSWORD.

import { browser, finish, problems, step, watchedPage } from './harness.mjs';
import { createHmac } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.MEDCHAIN_URL;
const shots = process.env.SCREENSHOTS;
const serverTime = Number(process.env.SERVER_TIME);
const PASSWORD = 'Tq9#vLm2!pXz7wRb';
const EMAIL = 'otto.totp@example.org';
mkdirSync(shots, { recursive: true });

/** RFC 4648 base32 without padding, as the page shows the key. */
function base32Decode(text) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of text.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    bits += v.toString(2).padStart(5, '0');
  }
  const bytes = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

/** RFC 6238 (SHA-1, six digits, 30 s): what an authenticator app shows at `seconds`. */
function totp(key, seconds) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(seconds / 30)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}

const { context, page } = await watchedPage(base);

async function signIn(on = page, email = EMAIL, password = PASSWORD) {
  await on.goto('/login');
  await on.getByLabel('E-mail').fill(email);
  await on.getByLabel('Password').fill(password);
  await on.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** Turns on a code app from the profile's section; returns the key and the codes. */
async function turnOn(section, seconds) {
  await section.getByRole('button', { name: 'Turn on a code app' }).click();
  await section.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  const key = base32Decode((await section.locator('code.totp-secret').textContent()).trim());
  await section.getByLabel('Code from the app').fill(totp(key, seconds));
  await section.getByRole('button', { name: 'Turn on', exact: true }).click();
  await section.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
  const codes = await section.locator('ol.codes li').allTextContents();
  await section.getByRole('button', { name: 'I have kept them' }).click();
  return { key, codes };
}

try {
  step('a patient registers and opens their profile');
  await page.goto('/register');
  await page.getByLabel('Full name').fill('Otto Totp');
  await page.getByLabel('E-mail').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('I am a').selectOption('PATIENT');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: 'My records' }).waitFor();
  await page.goto('/profile');
  const security = page.locator('section.card', { has: page.getByRole('heading', { name: 'Sign-in security' }) });

  step('turns on a code app: scans (reads) the key, types the code the app shows');
  await security.getByRole('button', { name: 'Turn on a code app' }).click();
  await security.getByRole('img', { name: 'QR code for your authenticator app' }).waitFor();
  const key = base32Decode((await security.locator('code.totp-secret').textContent()).trim());
  await security.getByLabel('Code from the app').fill('000000');
  await security.getByRole('button', { name: 'Turn on', exact: true }).click();
  await security.getByRole('alert').waitFor();
  await security.getByLabel('Code from the app').fill(totp(key, serverTime - 30));
  await security.getByRole('button', { name: 'Turn on', exact: true }).click();
  await security.getByRole('heading', { name: 'Your recovery codes' }).waitFor();
  const codes = await security.locator('ol.codes li').allTextContents();
  if (codes.length !== 10) problems.push(`ten recovery codes were expected: ${codes}`);
  await page.screenshot({ path: join(shots, 'security-recovery-codes.png'), fullPage: true });
  await security.getByRole('button', { name: 'I have kept them' }).click();
  await security.getByText('A code app is on. Recovery codes left: 10.').waitFor();

  step('signs out; the sign-in page asks for the code, and takes it');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Register' }).first().waitFor();
  await signIn();
  await page.getByLabel('Code', { exact: true }).waitFor();
  await page.getByLabel('Code', { exact: true }).fill(totp(key, serverTime));
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'My records' }).waitFor();

  step('the sessions say how each signed in');
  await page.goto('/profile');
  await page.getByRole('cell', { name: 'Password and code' }).waitFor();

  step('turns the code app off with a recovery code; the password alone signs in again');
  await security.getByLabel('Code').last().fill(codes[4]);
  await security.getByRole('button', { name: 'Turn off' }).click();
  await security.getByRole('button', { name: 'Turn on a code app' }).waitFor();
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Register' }).first().waitFor();
  await signIn();
  await page.getByRole('heading', { name: 'My records' }).waitFor();

  step('turns it on again (the step after the last code used)');
  await page.goto('/profile');
  await turnOn(security, serverTime + 30);
  await security.getByText('A code app is on. Recovery codes left: 10.').waitFor();

  step('an administrator without a second factor is sent to set one up, and does');
  const adminContext = await browser.newContext({ baseURL: base });
  const admin = await adminContext.newPage();
  admin.setDefaultTimeout(15000);
  admin.on('pageerror', (e) => problems.push(`admin page error: ${e.message}`));
  await signIn(admin, process.env.ADMIN_EMAIL, process.env.ADMIN_PASSWORD);
  await admin.getByRole('heading', { name: 'Set up a second factor' }).waitFor();
  const adminSecurity = admin.locator('section.card', { has: admin.getByRole('heading', { name: 'Sign-in security' }) });
  await turnOn(adminSecurity, serverTime);
  await admin.getByRole('link', { name: 'go on to MedChain' }).click();
  await admin.getByRole('heading', { name: 'Dashboard' }).waitFor();

  step('the administrator resets the patient\'s code app; the patient signs in with the password alone');
  await admin.goto('/admin/users');
  await admin.getByRole('button', { name: 'Reset the second factor of Otto Totp' }).click();
  await admin.getByLabel('Why is it reset (how did you check it is them)?').fill('lost the phone; identity checked in person');
  await admin.getByRole('button', { name: 'Reset…' }).click();
  await admin.getByRole('button', { name: 'Reset', exact: true }).click();
  await admin.getByText('The second factor is reset.').first().waitFor({ state: 'attached' });
  await page.goto('/records');
  await page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await signIn();
  await page.getByRole('heading', { name: 'My records' }).waitFor();
  await adminContext.close();
} catch (error) {
  problems.push(`a step failed: ${error.stack ?? error}`);
  await page.screenshot({ path: join(shots, 'security-failed.png'), fullPage: true }).catch(() => {});
}

await finish('security flows passed');
