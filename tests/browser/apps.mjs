// Read tokens in headless Chromium, against the real server that tests/e2e/web_app.rs
// started with a patient who has a record: on the profile page the patient makes a read
// token for an app and sees its secret once; the app (this script, over HTTP) reads the
// patient through FHIR with it; the page shows when it was last used; the patient
// revokes it and the app is refused at once.
//
// Environment: MEDCHAIN_URL, CHROMIUM, SCREENSHOTS, PASSWORD, PATIENT_EMAIL, PATIENT_ID.

import { finish, signedIn, step } from './harness.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.MEDCHAIN_URL;
const shots = process.env.SCREENSHOTS;
const patientId = process.env.PATIENT_ID;
mkdirSync(shots, { recursive: true });

/** What an app gets from GET /fhir/R4/Patient/{id} with `token`. */
async function asApp(token) {
  const response = await fetch(`${base}/fhir/R4/Patient/${patientId}`, {
    headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' },
  });
  return { status: response.status, body: await response.json() };
}

step('the patient makes a read token for an app on their profile');
const page = await signedIn(base, process.env.PATIENT_EMAIL, process.env.PASSWORD);
await page.goto('/profile');
const apps = page.getByRole('region', { name: 'Apps that read your records' });
await apps.getByLabel('App name').fill('Health app');
await apps.getByLabel('Good for (days)').fill('30');
await apps.getByRole('button', { name: 'Make a read token' }).click();
const secret = (await apps.getByTestId('read-token-secret').textContent()).trim();
if (!secret.startsWith('mcr_')) throw new Error(`not a read token: ${secret}`);
await apps.getByRole('cell', { name: 'Active', exact: true }).waitFor();
await page.screenshot({ path: join(shots, 'read-token.png'), fullPage: true });

step('the app reads the patient through FHIR with it');
const read = await asApp(secret);
if (read.status !== 200 || read.body.resourceType !== 'Patient') {
  throw new Error(`the app could not read: ${read.status} ${JSON.stringify(read.body)}`);
}
await page.reload();
const row = apps.getByRole('row', { name: /Health app/ });
await row.waitFor();
if (await row.getByRole('cell', { name: 'Never', exact: true }).count()) {
  throw new Error('the page does not show that the app used the token');
}

step('the patient revokes it; the app is refused at once');
await apps.getByRole('button', { name: 'Revoke the read token Health app' }).click();
await page.getByRole('button', { name: 'Revoke', exact: true }).click();
await apps.getByRole('cell', { name: /^Revoked/ }).waitFor();
const refused = await asApp(secret);
if (refused.status !== 401 || refused.body.resourceType !== 'OperationOutcome') {
  throw new Error(`a revoked token still reads: ${refused.status}`);
}

await finish('read token flows passed');
