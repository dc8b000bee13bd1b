// Passkeys in headless Chromium with DevTools' virtual authenticator (CTAP2, a resident
// key, user verification: the face or fingerprint a phone would ask for), against the
// real server that tests/e2e/web_app.rs started, browsed as http://localhost:<port>
// (browsers refuse WebAuthn on an IP address): a patient adds a passkey from the profile,
// signs out, signs in with it alone, sees the session say so, and removes it.
//
// Environment: MEDCHAIN_URL (http://localhost:<port>), CHROMIUM, SCREENSHOTS.

import { finish, problems, step, watchedPage } from './harness.mjs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const base = process.env.MEDCHAIN_URL;
const shots = process.env.SCREENSHOTS;
const PASSWORD = 'Tq9#vLm2!pXz7wRb';
const EMAIL = 'pia.passkey@example.org';
mkdirSync(shots, { recursive: true });

const { context, page } = await watchedPage(base);

try {
  step('a patient registers; the page gets a virtual authenticator with user verification');
  await page.goto('/register');
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', ctap2Version: 'ctap2_1', transport: 'internal',
      hasResidentKey: true, hasUserVerification: true, isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  await page.getByLabel('Full name').fill('Pia Passkey');
  await page.getByLabel('E-mail').fill(EMAIL);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByLabel('I am a').selectOption('PATIENT');
  await page.getByRole('button', { name: 'Register' }).click();
  await page.getByRole('heading', { name: 'My records' }).waitFor();

  step('adds a passkey from the profile');
  await page.goto('/profile');
  const security = page.locator('section.card', { has: page.getByRole('heading', { name: 'Sign-in security' }) });
  await security.getByLabel('Name of the new passkey').fill('Test laptop');
  await security.getByRole('button', { name: 'Add a passkey' }).click();
  await security.getByRole('cell', { name: 'Test laptop', exact: true }).waitFor();
  const { credentials } = await cdp.send('WebAuthn.getCredentials', { authenticatorId });
  if (credentials.length !== 1 || !credentials[0].isResidentCredential) {
    problems.push(`one discoverable credential was expected: ${JSON.stringify(credentials)}`);
  }
  await page.screenshot({ path: join(shots, 'security-passkey.png'), fullPage: true });

  step('signs out, and in with the passkey alone');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Register' }).first().waitFor();
  await page.goto('/login');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.getByRole('heading', { name: 'My records' }).waitFor();

  step('a credential replayed, or made for another origin, is refused');
  const refusals = await page.evaluate(async () => {
    const post = async (query, variables = {}) => (await fetch('/graphql', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    })).json();
    const begin = 'mutation { passkeyLoginBegin { challengeId options } }';
    const finish = 'mutation($c: UUID!, $k: JSON!) { passkeyLoginFinish(challengeId: $c, credential: $k) { expiresAt } }';
    const ceremony = async () => {
      const { data } = await post(begin);
      const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(data.passkeyLoginBegin.options.publicKey);
      const credential = (await navigator.credentials.get({ publicKey })).toJSON();
      return { id: data.passkeyLoginBegin.challengeId, credential };
    };
    const code = (answer) => answer.errors?.[0]?.extensions?.code ?? 'OK';
    const fromB64 = (s) => atob(s.replace(/-/g, '+').replace(/_/g, '/'));
    const toB64 = (s) => btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    // The browser's signature over client data that names another origin.
    const a = await ceremony();
    const client = JSON.parse(fromB64(a.credential.response.clientDataJSON));
    client.origin = 'https://medchain.example.net';
    a.credential.response.clientDataJSON = toB64(JSON.stringify(client));
    const otherOrigin = code(await post(finish, { c: a.id, k: a.credential }));
    // A genuine one signs in once; the same again is refused, on its challenge or another.
    const b = await ceremony();
    const first = code(await post(finish, { c: b.id, k: b.credential }));
    const sameChallenge = code(await post(finish, { c: b.id, k: b.credential }));
    const c = await post(begin);
    const otherChallenge = code(await post(finish, { c: c.data.passkeyLoginBegin.challengeId, k: b.credential }));
    return { otherOrigin, first, sameChallenge, otherChallenge };
  });
  const expected = { otherOrigin: 'UNAUTHENTICATED', first: 'OK', sameChallenge: 'BAD_USER_INPUT', otherChallenge: 'UNAUTHENTICATED' };
  if (JSON.stringify(refusals) !== JSON.stringify(expected)) {
    problems.push(`replays and other origins: ${JSON.stringify(refusals)}, expected ${JSON.stringify(expected)}`);
  }

  step('the session says it was a passkey; the passkey is removed');
  await page.goto('/profile');
  await page.getByRole('cell', { name: 'Passkey', exact: true }).first().waitFor();
  await security.getByRole('button', { name: 'Remove the passkey Test laptop' }).click();
  await page.getByRole('button', { name: 'Remove', exact: true }).click();
  await security.getByText('No passkeys yet.').waitFor();

  step('signing in with it again is refused');
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('link', { name: 'Register' }).first().waitFor();
  await page.goto('/login');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.getByText('This passkey is not registered here.').waitFor();
} catch (error) {
  problems.push(`a step failed: ${error.stack ?? error}`);
  await page.screenshot({ path: join(shots, 'passkeys-failed.png'), fullPage: true }).catch(() => {});
}

await finish('passkey flows passed');
