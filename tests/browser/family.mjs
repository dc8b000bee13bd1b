// Family and caregivers in headless Chromium, against the real server that
// tests/e2e/web_app.rs started with a patient who has a record and a relative who has an
// account: the patient invites the relative's address; the relative, signed in, opens
// the mailed link and accepts; they see the patient among the people they look after
// and download the record; the patient sees them as their caregiver, sees what they did,
// and revokes it.
//
// Environment: MEDCHAIN_URL, CHROMIUM, SCREENSHOTS, PASSWORD, PATIENT_EMAIL, KIN_EMAIL,
// OUTBOX (the directory the server writes its mail to).

import { finish, signedIn, step } from './harness.mjs';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.MEDCHAIN_URL;
const shots = process.env.SCREENSHOTS;
const password = process.env.PASSWORD;
const kinEmail = process.env.KIN_EMAIL;
mkdirSync(shots, { recursive: true });

/** The token of the invitation mailed to the relative (quoted-printable undone). */
function invitationToken() {
  const mail = readdirSync(process.env.OUTBOX)
    .map((f) => readFileSync(join(process.env.OUTBOX, f), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '='))
    .find((m) => m.includes(`To: ${kinEmail}`) && m.includes('/proxy/accept?token='));
  if (!mail) throw new Error('no invitation was mailed');
  return mail.match(/\/proxy\/accept\?token=([A-Za-z0-9_-]+)/)[1];
}

step('the patient invites a relative on the Family and caregivers page');
const patient = await signedIn(base, process.env.PATIENT_EMAIL, password);
await patient.getByRole('link', { name: 'Family and caregivers' }).click();
await patient.getByLabel('Their e-mail address').fill(kinEmail);
await patient.getByRole('button', { name: 'Send the invitation' }).click();
await patient.getByRole('cell', { name: 'Waiting for acceptance' }).waitFor();

step('the relative, signed in, accepts from the mailed link and sees the patient\'s records');
const kin = await signedIn(base, kinEmail, password);
await kin.goto(`/proxy/accept?token=${invitationToken()}`);
await kin.getByRole('button', { name: 'Accept the invitation' }).click();
await kin.getByRole('heading', { name: 'Pat Lee' }).waitFor();
await kin.getByRole('cell', { name: 'Lab results', exact: true }).waitFor();
const [download] = await Promise.all([
  kin.waitForEvent('download'),
  kin.getByRole('link', { name: 'Download Lab results' }).click(),
]);
const bytes = readFileSync(await download.path(), 'latin1');
if (!bytes.startsWith('%PDF')) throw new Error('the download is not the record');
await kin.getByRole('link', { name: 'People I look after', exact: true }).click();
await kin.getByRole('link', { name: 'Pat Lee' }).waitFor();
await kin.screenshot({ path: join(shots, 'caregiver.png'), fullPage: true });

step('the patient sees their caregiver and what they did, and revokes it');
await patient.reload();
await patient.getByRole('cell', { name: `Kim Kin (${kinEmail})` }).waitFor();
await patient.getByRole('table', { name: 'What my caregivers did' }).getByRole('cell', { name: 'Kim Kin' }).waitFor();
await patient.screenshot({ path: join(shots, 'patient-family.png'), fullPage: true });
await patient.getByRole('button', { name: `Revoke ${kinEmail}` }).click();
await patient.getByRole('cell', { name: /^Revoked/ }).waitFor();

await finish('family flows passed');
