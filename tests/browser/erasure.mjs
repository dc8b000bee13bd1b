// Erasure and legal holds in headless Chromium, against the real server that
// tests/e2e/web_app.rs started with a patient and two records: an administrator places a
// legal hold on one record; the patient sees it stands and cannot erase that record,
// erases the other and is told its erasure is not complete until the next key rotation;
// another administrator lifts the hold and rotates the key epochs; the certificate then
// says the erasure is complete, and the patient sees so too.
//
// Environment: MEDCHAIN_URL, CHROMIUM, SCREENSHOTS, ADMIN_EMAIL, OTHER_ADMIN_EMAIL,
// PATIENT_EMAIL, PASSWORD, HELD_RECORD, ERASED_RECORD.

import { finish, signedIn as signedInAs, step } from './harness.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.MEDCHAIN_URL;
const shots = process.env.SCREENSHOTS;
const password = process.env.PASSWORD;
const held = process.env.HELD_RECORD;
const erased = process.env.ERASED_RECORD;
mkdirSync(shots, { recursive: true });

const signedIn = (email) => signedInAs(base, email, password);

step('an administrator sees the key epochs and places a legal hold on a record');
const admin = await signedIn(process.env.ADMIN_EMAIL);
await admin.getByRole('link', { name: 'Erasure' }).click();
await admin.getByRole('heading', { name: 'Key epochs' }).waitFor();
await admin.getByRole('cell', { name: 'Current' }).waitFor();
await admin.getByLabel('Person or record', { exact: true }).fill(`record-${held}`);
await admin.getByLabel('Reason', { exact: true }).fill('litigation 2026-114');
await admin.getByRole('button', { name: 'Place hold' }).click();
await admin.getByRole('cell', { name: 'Stands' }).waitFor();
await admin.getByText('Another administrator lifts it', { exact: true }).waitFor();
await admin.screenshot({ path: join(shots, 'admin-erasure.png'), fullPage: true });

step('the patient sees the hold and no way to erase that record');
const patient = await signedIn(process.env.PATIENT_EMAIL);
await patient.goto(`/records/${held}`);
await patient.getByRole('heading', { name: 'Legal hold' }).waitFor();
if (await patient.getByText('Erase this record').count()) throw new Error('a held record offers erasure');

step('the patient erases the other record and learns when the erasure completes');
await patient.goto(`/records/${erased}`);
await patient.getByText('Erase this record').click();
await patient.getByLabel('Why erase it?').fill('uploaded twice');
await patient.getByRole('button', { name: 'Erase…' }).click();
await patient.getByRole('dialog').getByRole('button', { name: 'Erase' }).click();
await patient.getByRole('heading', { name: 'My records' }).waitFor();
await patient.goto(`/records/${erased}`);
await patient.getByText(/at the next key rotation/).waitFor();
await patient.screenshot({ path: join(shots, 'patient-erasure-pending.png'), fullPage: true });

step('another administrator lifts the hold and rotates the key epochs');
const other = await signedIn(process.env.OTHER_ADMIN_EMAIL);
await other.goto('/admin/erasure');
await other.getByRole('button', { name: `Lift the hold on record-${held}` }).click();
await other.getByText(/^Lifted /).waitFor();
await other.getByRole('button', { name: 'Rotate now' }).click();
await other.getByRole('dialog').getByRole('button', { name: 'Rotate' }).click();
await other.getByRole('cell', { name: /^Retired / }).waitFor();

step('the certificate says the erasure is complete, and downloads signed');
await other.getByLabel('Erased person or record').fill(`record-${erased}`);
await other.getByRole('button', { name: 'Show certificate' }).click();
await other.getByText(/^Yes, since /).waitFor();
const [download] = await Promise.all([
  other.waitForEvent('download'),
  other.getByRole('button', { name: 'Download the signed certificate' }).click(),
]);
const saved = join(shots, 'certificate.json');
await download.saveAs(saved);
const certificate = JSON.parse((await import('node:fs')).readFileSync(saved, 'utf8'));
if (certificate.certificate?.complete !== true || !certificate.sig) {
  throw new Error(`the downloaded certificate: ${JSON.stringify(certificate)}`);
}

step('the patient sees the erasure complete, and may now erase the other record');
await patient.goto(`/records/${erased}`);
await patient.getByText(/^Complete since /).waitFor();
await patient.goto(`/records/${held}`);
await patient.getByText('Erase this record').waitFor();
await patient.screenshot({ path: join(shots, 'patient-erasure-complete.png'), fullPage: true });

await finish('erasure flows passed');
