// Share links in headless Chromium, against the real server that tests/e2e/web_app.rs
// started with a patient and a record: the patient makes a link on the record's page
// (link, passcode and QR code shown once); a recipient with no account opens the link's
// page, is refused a wrong passcode in words, enters the right one and downloads the
// record; the patient's page hears of the opening live; the record's access log says
// someone with the link opened and downloaded it.
//
// Environment: MEDCHAIN_URL, CHROMIUM, SCREENSHOTS, PASSWORD, PATIENT_EMAIL, RECORD.

import { finish, signedIn, step, watchedPage } from './harness.mjs';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.MEDCHAIN_URL;
const shots = process.env.SCREENSHOTS;
const record = process.env.RECORD;
mkdirSync(shots, { recursive: true });

step('the patient makes a link on the record\'s page and sees the passcode once');
const patient = await signedIn(base, process.env.PATIENT_EMAIL, process.env.PASSWORD);
await patient.goto(`/records/${record}`);
await patient.getByText('Share by link').click();
await patient.getByLabel('Most opens (optional)').fill('3');
await patient.getByRole('button', { name: 'Make a link' }).click();
const url = (await patient.getByTestId('link-url').innerText()).trim();
const passcode = (await patient.getByTestId('link-passcode').innerText()).trim();
await patient.getByRole('img', { name: /QR code of the link/ }).waitFor();
if (url.includes(passcode)) throw new Error('the passcode is in the link');
await patient.screenshot({ path: join(shots, 'patient-share-link.png'), fullPage: true });

step('a recipient with no account opens the link; a wrong passcode is refused in words');
// The wrong passcode's 403 is the one error the browser logs on purpose.
const { context, page: recipient } = await watchedPage(base, { allow: /status of 403/ });
await recipient.goto(new URL(url).pathname);
await recipient.getByRole('heading', { name: 'Records shared with you' }).waitFor();
await recipient.getByLabel('Passcode').fill('AAAAA-AAAAA');
await recipient.getByRole('button', { name: 'Open' }).click();
await recipient.getByRole('alert').getByText(/passcode is wrong/).waitFor();

step('the right passcode opens it, and the recipient downloads the record');
await recipient.getByLabel('Passcode').fill(passcode.toLowerCase());
await recipient.getByRole('button', { name: 'Open' }).click();
await recipient.getByRole('cell', { name: 'Lab results', exact: true }).waitFor();
const [download] = await Promise.all([
  recipient.waitForEvent('download'),
  recipient.getByRole('button', { name: 'Download Lab results' }).click(),
]);
const saved = await download.path();
const bytes = readFileSync(saved, 'latin1');
if (!bytes.startsWith('%PDF')) throw new Error(`the download is not the record: ${bytes.slice(0, 20)}`);
await recipient.screenshot({ path: join(shots, 'recipient-link.png'), fullPage: true });
await context.close();

step('the patient hears of the opening live, and the access log says who did what');
await patient.locator('#status').getByText(/share link was opened/).waitFor();
await patient.reload();
await patient.getByRole('cell', { name: 'Link opened' }).first().waitFor();
await patient.getByRole('cell', { name: 'Someone with your link' }).first().waitFor();
await patient.getByRole('cell', { name: 'Downloaded' }).first().waitFor();

await finish('link flows passed');
