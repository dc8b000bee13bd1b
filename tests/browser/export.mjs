// "Download all my data" in headless Chromium, against the real server that
// tests/e2e/web_app.rs started with a patient who has a record: on the profile page the
// patient downloads their export, watching its progress; the file is the zip with the
// record, the FHIR Bundle, the ledger part and the signed manifest, which the Rust test
// then checks with `medchain export verify`.
//
// Environment: MEDCHAIN_URL, CHROMIUM, SCREENSHOTS, PASSWORD, PATIENT_EMAIL, EXPORT_TO.

import { finish, signedIn, step } from './harness.mjs';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.MEDCHAIN_URL;
const shots = process.env.SCREENSHOTS;
mkdirSync(shots, { recursive: true });

step('the patient downloads all their data from their profile');
const page = await signedIn(base, process.env.PATIENT_EMAIL, process.env.PASSWORD);
await page.goto('/profile');
const section = page.getByRole('region', { name: 'Your data' });
const [download] = await Promise.all([
  page.waitForEvent('download'),
  section.getByRole('button', { name: 'Download all my data' }).click(),
]);
await section.getByRole('status').filter({ hasText: /^Done: medchain-export-.*\.zip/ }).waitFor();
const progress = section.getByRole('progressbar', { name: 'Export progress' });
if ((await progress.getAttribute('value')) !== (await progress.getAttribute('max'))) {
  throw new Error('the progress bar did not reach its end');
}
await page.screenshot({ path: join(shots, 'export.png'), fullPage: true });

step('the file is the export: a zip with its manifest');
const path = await download.path();
const bytes = readFileSync(path);
if (bytes.subarray(0, 2).toString('latin1') !== 'PK') throw new Error('not a zip');
for (const member of ['manifest.json', 'manifest.sig', 'fhir/bundle.json', 'ledger/events.jsonl']) {
  if (!bytes.includes(Buffer.from(member))) throw new Error(`no ${member} in the export`);
}
copyFileSync(path, process.env.EXPORT_TO);

await finish('export flows passed');
