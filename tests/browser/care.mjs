// Care between doctors in headless Chromium, against the real server that
// tests/e2e/web_app.rs started with a patient who shares an ECG with a doctor, a second
// doctor, and a third doctor who has opened emergency access to the patient (signed in
// with a second factor; the script is handed that session): the doctor adds a report to
// the patient's file and the patient sees it arrive without a reload; the doctor refers
// the ECG and the patient approves it; the second doctor then has it; a password-only
// doctor is told in words why emergency access is refused; the emergency doctor sees
// the countdown and the patient's records; the patient sees the emergency, and an
// administrator reviews it, which the patient then reads. Access logs and the ledger
// name people.
//
// Environment: MEDCHAIN_URL, CHROMIUM, SCREENSHOTS, PASSWORD, ADMIN_EMAIL, PATIENT_EMAIL,
// PATIENT_ID, DOCTOR_EMAIL, SPECIALIST_EMAIL, EMERGENCY_SESSION, ECG_RECORD.

import { finish, signedIn as signedInAs, step, watchedPage } from './harness.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.MEDCHAIN_URL;
const shots = process.env.SCREENSHOTS;
const password = process.env.PASSWORD;
const patientId = process.env.PATIENT_ID;
const ecg = process.env.ECG_RECORD;
mkdirSync(shots, { recursive: true });

const signedIn = (email) => signedInAs(base, email, password);

function pdf(marker) {
  return Buffer.from(`%PDF-1.7\n%\u00e2\u00e3\u00cf\u00d3\n${marker}\n${'x'.repeat(2000)}\n%%EOF\n`, 'latin1');
}

step('the patient is on their records when a doctor adds a report to their file');
const patient = await signedIn(process.env.PATIENT_EMAIL);
await patient.getByRole('heading', { name: 'My records' }).waitFor();
await patient.getByRole('link', { name: 'ECG' }).waitFor();

const doctor = await signedIn(process.env.DOCTOR_EMAIL);
await doctor.getByRole('link', { name: 'Pat Lee' }).first().click();
await doctor.getByRole('heading', { name: 'Pat Lee' }).waitFor();
await doctor.getByText('Add a record').click();
await doctor.getByLabel('Title').fill('Discharge report');
await doctor.getByLabel('File').setInputFiles({ name: 'discharge.pdf', mimeType: 'application/pdf', buffer: pdf('discharge') });
await doctor.getByRole('button', { name: 'Upload' }).click();
await doctor.locator('#main').getByText('Uploaded discharge.pdf.', { exact: true }).waitFor();

step('the report arrives on the patient\'s page without a reload, added by the doctor');
await patient.getByRole('link', { name: 'Discharge report' }).waitFor();
await patient.screenshot({ path: join(shots, 'patient-record-added.png'), fullPage: true });
await patient.getByRole('link', { name: 'Discharge report' }).click();
await patient.getByRole('definition').filter({ hasText: 'Dana Doc (doctor)' }).waitFor();

step('the doctor refers the ECG to a colleague with a note');
await doctor.goto(`/patients/${patientId}`);
await doctor.getByRole('button', { name: 'Refer ECG' }).click();
await doctor.getByLabel('Refer to').selectOption({ label: 'Sam Specialist' });
await doctor.getByLabel(/^Note for the patient/).fill('Cardiology opinion on the QT interval');
await doctor.getByRole('button', { name: 'Ask the patient' }).click();
await doctor.screenshot({ path: join(shots, 'doctor-patient-view.png'), fullPage: true });

step('the patient approves the referral');
await patient.getByRole('link', { name: 'Referrals and emergencies' }).click();
await patient.getByRole('cell', { name: 'Cardiology opinion on the QT interval' }).waitFor();
await patient.getByRole('button', { name: 'Approve the referral of ECG to Sam Specialist' }).click();
await patient.getByRole('cell', { name: 'Approved' }).waitFor();

step('the specialist now has the ECG');
const specialist = await signedIn(process.env.SPECIALIST_EMAIL);
await specialist.getByRole('cell', { name: 'ECG', exact: true }).waitFor();

step('the ECG\'s access log names the doctors, not their ids');
await patient.goto(`/records/${ecg}`);
await patient.getByRole('cell', { name: 'Referred' }).waitFor();
const logText = await patient.getByRole('table', { name: /Who did what/ }).innerText();
if (/[0-9a-f]{8}-[0-9a-f]{4}-/.test(logText)) throw new Error(`the access log prints an id: ${logText}`);
if (!logText.includes('Sam Specialist')) throw new Error(`the access log does not name the specialist: ${logText}`);

step('a doctor signed in with a password alone is told why emergency access is refused');
await doctor.getByRole('link', { name: 'Emergency access' }).click();
await doctor.locator('summary', { hasText: 'Open emergency access' }).click();
await doctor.getByLabel('Patient ID').fill(patientId);
await doctor.getByLabel('Reason').fill('collapsed in the waiting room');
await doctor.getByRole('button', { name: 'Open emergency access' }).click();
await doctor.getByRole('alert').getByText(/second factor or a passkey/).waitFor();

step('the emergency doctor sees the countdown and every record of the patient');
const { context: eContext, page: emergency } = await watchedPage(base);
await eContext.addCookies([{ name: 'medchain_session', value: process.env.EMERGENCY_SESSION, url: base, httpOnly: true }]);
await emergency.goto('/emergency');
await emergency.getByRole('timer').first().waitFor();
await emergency.getByRole('link', { name: 'Pat Lee' }).click();
await emergency.getByRole('heading', { name: 'Emergency access is open' }).waitFor();
await emergency.getByRole('cell', { name: 'Discharge report', exact: true }).waitFor();
await emergency.getByRole('cell', { name: 'ECG', exact: true }).waitFor();
await emergency.screenshot({ path: join(shots, 'doctor-emergency.png'), fullPage: true });

step('the patient sees the emergency; an administrator reviews it; the patient reads the verdict');
await patient.goto('/care');
await patient.getByRole('cell', { name: 'Unconscious after a car accident' }).waitFor();
const admin = await signedIn(process.env.ADMIN_EMAIL);
await admin.getByRole('link', { name: 'Emergencies' }).click();
await admin.getByRole('cell', { name: 'Unconscious after a car accident' }).waitFor();
await admin.getByLabel('Verdict').selectOption('true');
await admin.getByLabel('Note for the patient (optional)').fill('Admission confirmed by the ER');
await admin.getByRole('button', { name: 'Review' }).click();
await admin.getByRole('cell', { name: 'Nothing here yet.' }).waitFor();
await admin.getByLabel('Waiting for review only').uncheck();
await admin.getByText(/Justified by Ada Admin/).waitFor();
await admin.screenshot({ path: join(shots, 'admin-emergency-review.png'), fullPage: true });
await patient.reload();
await patient.getByRole('cell', { name: /Justified: Admission confirmed by the ER/ }).waitFor();
await patient.screenshot({ path: join(shots, 'patient-care.png'), fullPage: true });

step('the ledger page names the people who acted');
await admin.getByRole('link', { name: 'Ledger' }).click();
await admin.getByRole('cell', { name: 'Pat Lee' }).first().waitFor();

step('toasts stack: a new one never lies over an older one, and each shows its icon');
const boxes = await patient.evaluate(async () => {
  const ui = await import('/assets/ui.js');
  ui.announce('Welcome back: a much longer message than the next one');
  ui.announce('Saved.');
  return [...document.querySelectorAll('.toast')].map((t) => {
    const r = t.getBoundingClientRect();
    const icon = t.querySelector('img.toast-icon');
    return { top: r.top, bottom: r.bottom, icon: Boolean(icon && icon.complete && icon.naturalWidth > 0), text: t.textContent };
  });
});
if (boxes.length < 2) throw new Error(`two toasts expected: ${JSON.stringify(boxes)}`);
for (let i = 1; i < boxes.length; i += 1) {
  if (boxes[i].top < boxes[i - 1].bottom) throw new Error(`toasts overlap: ${JSON.stringify(boxes)}`);
}
if (!boxes.every((b) => b.icon)) throw new Error(`a toast's icon did not render: ${JSON.stringify(boxes)}`);

await finish('care flows passed');
