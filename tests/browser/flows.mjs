// The web app's flows in headless Chromium, against the real server that
// tests/e2e/web_app.rs started: a patient registers and uploads a PDF, a doctor registers and
// an administrator approves them in the admin pages, the patient shares the record, the
// doctor opens it, the patient's bell counts the read live and the access log shows it,
// revoking removes it from the doctor's list, and the administrator verifies the ledger.
// Every page is watched for console errors; screenshots go to $SCREENSHOTS. Before any
// of it, the web app's modules are checked for import cycles (import-cycles.mjs).
//
// Then: a forgotten password reset from the mailed link, and a record erased after
// confirming.
//
// Environment: MEDCHAIN_URL, ADMIN_EMAIL, ADMIN_PASSWORD, SCREENSHOTS, CHROMIUM, OUTBOX
// (the directory the server writes its mail to).

import { chromium } from 'playwright-core';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkImportCycles } from './import-cycles.mjs';

checkImportCycles();

const base = process.env.MEDCHAIN_URL;
const shots = process.env.SCREENSHOTS;
const PASSWORD = 'Tq9#vLm2!pXz7wRb';
mkdirSync(shots, { recursive: true });

const problems = [];
let expectRefusal = false;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});

/** A person with their own browser context (cookies), watched for console errors. */
async function person(who) {
  const context = await browser.newContext({ baseURL: base });
  const page = await context.newPage();
  const watch = (p) => {
    p.on('console', (m) => {
      // The refused upload's 415 is the one error the browser itself logs on purpose.
      if (m.type() === 'error' && !(expectRefusal && /status of 415/.test(m.text()))) {
        problems.push(`${who} ${p.url()}: console error: ${m.text()}`);
      }
    });
    p.on('pageerror', (e) => problems.push(`${who} ${p.url()}: ${e.message}`));
  };
  watch(page);
  context.on('page', watch);
  page.setDefaultTimeout(15000);
  return { context, page };
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

function step(text) {
  console.log(`- ${text}`);
}

async function register(page, { name, email, role }) {
  await page.goto('/register');
  await page.getByLabel('Full name').fill(name);
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('I am a').selectOption(role);
  await page.getByRole('button', { name: 'Register' }).click();
}

async function signIn(page, email, password = PASSWORD) {
  await page.goto('/login');
  await page.getByLabel('E-mail').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

/** The token of the newest reset link in the outbox (quoted-printable undone). */
function resetToken() {
  const mails = readdirSync(process.env.OUTBOX)
    .map((f) => readFileSync(join(process.env.OUTBOX, f), 'utf8').replace(/=\r?\n/g, '').replace(/=3D/g, '='))
    .filter((m) => m.includes('/reset?token='));
  const m = mails.at(-1)?.match(/\/reset\?token=([A-Za-z0-9_-]+)/);
  return m ? m[1] : null;
}

function pdf(marker) {
  return Buffer.from(`%PDF-1.7\n%\u00e2\u00e3\u00cf\u00d3\n1 0 obj <<>> endobj\n% ${marker}\n%%EOF\n`, 'latin1');
}

try {
  const patient = await person('patient');
  const doctor = await person('doctor');
  const admin = await person('admin');

  step('a patient registers and lands on their records');
  await register(patient.page, { name: 'Pat Lee', email: 'pat@example.org', role: 'PATIENT' });
  await patient.page.getByRole('heading', { name: 'My records' }).waitFor();

  step('a file that is not allowed is refused in words');
  expectRefusal = true;
  await patient.page.getByLabel('Title').fill('Not a scan');
  await patient.page.getByLabel('File').setInputFiles({ name: 'tool.pdf', mimeType: 'application/pdf', buffer: Buffer.from('MZ\u0090\u0000\u0003 this is a program', 'latin1') });
  await patient.page.getByRole('button', { name: 'Upload' }).click();
  await patient.page.getByRole('alert').waitFor();
  const refusal = await patient.page.getByRole('alert').textContent();
  if (refusal.includes('{')) problems.push(`the refusal is not in words: ${refusal}`);
  expectRefusal = false;

  step('the patient uploads a PDF with a progress bar');
  await patient.page.getByLabel('Title').fill('Knee MRI report');
  await patient.page.getByLabel('File').setInputFiles({ name: 'knee.pdf', mimeType: 'application/pdf', buffer: pdf('knee') });
  await patient.page.getByRole('button', { name: 'Upload' }).click();
  await patient.page.getByText('Uploaded knee.pdf.', { exact: true }).first().waitFor();
  await patient.page.getByRole('link', { name: 'Knee MRI report' }).waitFor();
  await shot(patient.page, 'patient-records');

  step('a doctor registers and waits for approval');
  await register(doctor.page, { name: 'Dana Doc', email: 'dana@example.org', role: 'DOCTOR' });
  await doctor.page.getByRole('heading', { name: 'Waiting for approval' }).waitFor();
  await shot(doctor.page, 'doctor-pending');

  step('the administrator approves the doctor in the admin pages');
  await signIn(admin.page, process.env.ADMIN_EMAIL, process.env.ADMIN_PASSWORD);
  await admin.page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await admin.page.locator('svg[role=img]').first().waitFor();
  // The server watches one witness that has never cosigned: the dashboard says so.
  await admin.page.getByRole('alert').getByText(/Witness st-gallen has not cosigned any head yet/).waitFor();
  await shot(admin.page, 'admin-dashboard');
  await admin.page.getByRole('link', { name: 'Approvals' }).click();
  await admin.page.getByText('Dana Doc').first().waitFor();
  await shot(admin.page, 'admin-approvals');
  await admin.page.getByRole('button', { name: /^Approve/ }).first().click();
  await admin.page.getByText('Dana Doc').first().waitFor({ state: 'detached' });

  step('the patient shares the record with the doctor');
  await patient.page.getByRole('link', { name: 'Knee MRI report' }).click();
  await patient.page.getByRole('heading', { name: 'Knee MRI report' }).waitFor();
  await patient.page.getByText('Share with a doctor').click();
  const doctorChoice = patient.page.getByLabel('Doctor', { exact: true });
  await doctorChoice.locator('option', { hasText: 'Dana Doc' }).waitFor({ state: 'attached' });
  await doctorChoice.selectOption({ label: 'Dana Doc' });
  await patient.page.getByRole('button', { name: 'Share', exact: true }).click();
  await patient.page.getByRole('cell', { name: 'Live' }).waitFor();
  await shot(patient.page, 'patient-record');

  step('the doctor signs in, sees the record and opens it');
  await signIn(doctor.page, 'dana@example.org');
  await doctor.page.getByRole('heading', { name: 'Shared with me' }).waitFor();
  await doctor.page.getByRole('cell', { name: 'Knee MRI report', exact: true }).waitFor();
  await shot(doctor.page, 'doctor-shared');
  const unreadBefore = Number(await patient.page.locator('#bell').getAttribute('data-unread'));
  const opened = doctor.context.waitForEvent('response', (r) => r.url().includes('/content'));
  await doctor.page.getByRole('link', { name: 'Open Knee MRI report' }).click();
  const response = await opened;
  if (response.status() !== 200) problems.push(`opening the record answered ${response.status()}`);

  step("the patient's bell counts the read without a reload");
  await patient.page.locator(`#bell[data-unread="${unreadBefore + 1}"]`).waitFor();

  step('the access log shows the read');
  await patient.page.getByRole('link', { name: 'My records', exact: true }).click();
  await patient.page.getByRole('link', { name: 'Knee MRI report' }).click();
  const log = patient.page.getByRole('table', { name: /Who did what/ });
  await log.getByRole('cell', { name: 'Viewed' }).waitFor();
  await log.getByRole('cell', { name: /Dana Doc/ }).first().waitFor();

  step('revoking the share removes it from the doctor\'s list');
  await patient.page.getByRole('button', { name: 'Revoke the share with Dana Doc' }).click();
  await patient.page.getByRole('cell', { name: /^Revoked / }).first().waitFor();
  await doctor.page.reload();
  await doctor.page.getByRole('heading', { name: 'Shared with me' }).waitFor();
  await doctor.page.getByText('Nothing here yet.').waitFor();

  step('notifications and profile pages show without errors');
  await patient.page.getByRole('link', { name: /Notifications/ }).click();
  await patient.page.getByRole('heading', { name: 'Notifications' }).waitFor();
  await shot(patient.page, 'patient-notifications');
  await patient.page.getByRole('link', { name: 'Pat Lee' }).click();
  await patient.page.getByRole('heading', { level: 1 }).waitFor();
  await shot(patient.page, 'patient-profile');

  step('the administrator browses the ledger and verifies it');
  await admin.page.getByRole('link', { name: 'Ledger' }).click();
  await admin.page.getByRole('heading', { name: 'Ledger' }).waitFor();
  await admin.page.getByRole('cell', { name: 'RecordAccessed' }).first().waitFor();
  await admin.page.getByRole('button', { name: 'Verify the ledger' }).click();
  await admin.page.locator('#verify-result', { hasText: 'OK' }).waitFor();
  await shot(admin.page, 'admin-ledger');
  for (const [name, path] of [['admin-users', '/admin/users'], ['admin-compliance', '/admin/compliance']]) {
    await admin.page.goto(path);
    await admin.page.getByRole('heading', { level: 1 }).waitFor();
    await shot(admin.page, name);
  }

  step('a signed head proves the doctor\'s read, checked in the patient\'s browser');
  await admin.page.goto('/admin/ledger');
  await admin.page.getByRole('button', { name: 'Sign a checkpoint now' }).click();
  await admin.page.getByText(/Checkpoint signed at seq/).first().waitFor();
  await admin.page.reload();
  await admin.page.getByRole('heading', { name: 'Transparency log' }).waitFor();
  await admin.page.getByText('Newest signed tree head').waitFor();
  await admin.page.getByRole('table', { name: 'Witnesses' }).getByRole('cell', { name: 'Silent' }).waitFor();
  await patient.page.goto('/records');
  await patient.page.getByRole('link', { name: 'Knee MRI report' }).click();
  const proven = patient.page.getByRole('table', { name: /Who did what/ });
  await proven.getByText(/^Proven: checked in this browser/).first().waitFor();
  await patient.page.getByText('Ledger key:').waitFor();
  await shot(patient.page, 'patient-record-proven');
  if (process.env.RECEIPT) {
    const viewed = proven.getByRole('row', { name: /Viewed/ });
    const saving = patient.page.waitForEvent('download');
    await viewed.getByRole('button', { name: /Download the receipt/ }).click();
    await (await saving).saveAs(process.env.RECEIPT);
  }

  step('a tampered proof is caught in the browser');
  const tamper = async (route) => {
    // Requests still in flight when the route is removed are let go.
    try {
      if (route.request().method() !== 'POST') return await route.continue();
      const response = await route.fetch();
      const body = await response.json();
      const edges = body?.data?.record?.accessLog?.edges ?? [];
      const target = edges.find((e) => e.node.receipt && e.node.receipt.proof.path.length > 0);
      if (target) target.node.receipt.proof.path[0] = '00'.repeat(32);
      return await route.fulfill({ response, json: body });
    } catch {
      return undefined;
    }
  };
  await patient.page.route('**/graphql', tamper);
  await patient.page.reload();
  await patient.page.getByRole('table', { name: /Who did what/ })
    .getByText(/^Check failed: the proof does not lead/).first().waitFor();
  await patient.page.unroute('**/graphql', tamper);

  step('a forgotten password is reset from the mailed link');
  const stranger = await person('forgetful');
  await stranger.page.goto('/login');
  await stranger.page.getByRole('link', { name: 'Forgotten your password?' }).click();
  await stranger.page.getByLabel('E-mail').fill('pat@example.org');
  await stranger.page.getByRole('button', { name: 'Send the link' }).click();
  await stranger.page.getByText('a link is on its way', { exact: false }).waitFor();
  let token = null;
  for (let i = 0; i < 50 && !token; i += 1) {
    token = resetToken();
    if (!token) await new Promise((r) => setTimeout(r, 100));
  }
  if (!token) throw new Error('no reset mail in the outbox');
  const NEW_PASSWORD = 'gW4$kN8@rYc3%hUe';
  await stranger.page.goto(`/reset?token=${token}`);
  await stranger.page.getByLabel('New password').fill(NEW_PASSWORD);
  await stranger.page.getByRole('button', { name: 'Set the password' }).click();
  await stranger.page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await signIn(stranger.page, 'pat@example.org', NEW_PASSWORD);
  await stranger.page.getByRole('heading', { name: 'My records' }).waitFor();

  step('the patient erases the record after confirming');
  await stranger.page.getByRole('link', { name: 'Knee MRI report' }).click();
  await stranger.page.getByText('Erase this record').click();
  await stranger.page.getByLabel('Kind of reason').selectOption('DUPLICATE');
  await stranger.page.getByLabel('Why erase it?').fill('uploaded twice');
  await stranger.page.getByRole('button', { name: 'Erase…' }).click();
  await stranger.page.getByRole('dialog').getByRole('button', { name: 'Erase' }).click();
  await stranger.page.getByRole('heading', { name: 'My records' }).waitFor();
  await stranger.page.getByRole('cell', { name: 'Erased', exact: true }).waitFor();
  // The ledger shows the basis in clear and the reason sealed.
  const ledger = await admin.page.evaluate(async () => {
    const res = await fetch('/graphql', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ ledger(type: "RecordErased", first: 5) { edges { node { payload } } } }' }),
    });
    return res.json();
  });
  const erasedPayload = JSON.stringify(ledger);
  if (!erasedPayload.includes('DUPLICATE') || erasedPayload.includes('uploaded twice')) {
    problems.push(`the erasure's ledger event: ${erasedPayload}`);
  }

  step('the reset ended the old session; a phone-sized screen');
  await patient.page.goto('/records');
  await patient.page.getByRole('heading', { name: 'Sign in' }).waitFor();
  await stranger.page.setViewportSize({ width: 390, height: 844 });
  await stranger.page.goto('/records');
  await stranger.page.getByRole('heading', { name: 'My records' }).waitFor();
  await shot(stranger.page, 'patient-records-phone');
} catch (error) {
  problems.push(`a step failed: ${error.stack ?? error}`);
} finally {
  await browser.close();
}

if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`all flows passed; screenshots in ${shots}`);
