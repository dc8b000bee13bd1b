// A read-only server in headless Chromium, against the real server that
// tests/e2e/web_app.rs started and then froze (as `medchain restore` freezes a ledger
// restored short of its newest signed head): every page says so above everything else,
// with the server's reason; a patient whose session was live sees their records, and an
// upload is refused in words; a sign-in is refused in words too.
//
// Environment: MEDCHAIN_URL, CHROMIUM, SCREENSHOTS, PATIENT_TOKEN, PATIENT_EMAIL, PASSWORD.

import { finish, step, watchedPage } from './harness.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.MEDCHAIN_URL;
const shots = process.env.SCREENSHOTS;
mkdirSync(shots, { recursive: true });
// The refusals' 403s are the errors the browser logs on purpose.
const refused = /status of 403/;

step('a patient whose session was live sees the banner and their records');
const { context, page } = await watchedPage(base, { allow: refused });
await context.addCookies([{ name: 'medchain_session', value: process.env.PATIENT_TOKEN, url: base }]);
await page.goto('/records');
const banner = page.getByTestId('read-only');
await banner.getByText('This server is read-only.').waitFor();
await banner.getByText('The server\'s reason').click();
await banner.getByText(/does not reach the newest signed head/).waitFor();
await page.getByRole('link', { name: 'Lab results' }).waitFor();
await page.screenshot({ path: join(shots, 'read-only-records.png'), fullPage: true });

step('an upload is refused in words');
await page.getByLabel('Title').fill('Refused');
await page.getByLabel('File').setInputFiles({ name: 'r.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4\n%%EOF\n') });
await page.getByRole('button', { name: 'Upload' }).click();
await page.locator('.error').getByText(/read-only/).waitFor();
await context.close();

step('a sign-in is refused in words');
const { context: other, page: visitor } = await watchedPage(base, { allow: refused });
await visitor.goto('/login');
await visitor.getByTestId('read-only').waitFor();
await visitor.getByLabel('E-mail').fill(process.env.PATIENT_EMAIL);
await visitor.getByLabel('Password').fill(process.env.PASSWORD);
await visitor.getByRole('button', { name: 'Sign in', exact: true }).click();
await visitor.getByRole('alert').filter({ hasText: /ledger is read-only/i }).waitFor();
await visitor.screenshot({ path: join(shots, 'read-only-sign-in.png'), fullPage: true });
await other.close();

await finish('read-only flows passed');
