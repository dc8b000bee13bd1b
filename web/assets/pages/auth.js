// Signing in and out of the way: register, log in, the waiting page for doctors, and
// the forgotten-password flow (request, then reset from the mailed link).

import { gql } from '../api.js';
import { h, fill, field, form, link, announce, errorBox } from '../ui.js';
import { PATHS, HOME, ROLES, PASSWORD_MIN, PASSWORD_HINT } from '../constants.js';

const LOGIN = 'mutation($e: String!, $p: String!, $o: String) { login(email: $e, password: $p, otp: $o) { expiresAt } }';

const PASSKEY_BEGIN = 'mutation { passkeyLoginBegin { challengeId options } }';
const PASSKEY_FINISH = 'mutation($c: UUID!, $k: JSON!) { passkeyLoginFinish(challengeId: $c, credential: $k) { expiresAt } }';

/** After a sign-in: where the person goes (setting up a factor first if they must). */
async function signedIn(app, query) {
  const me = await app.refreshMe();
  const { myMfa } = await gql('{ myMfa { required totp passkeys { id } } }');
  if (myMfa.required && !myMfa.totp && myMfa.passkeys.length === 0) {
    app.navigate(PATHS.profile);
    return;
  }
  app.startBell();
  const next = query.get('next');
  app.navigate(next && next.startsWith('/') && !next.startsWith('//') ? next : HOME[me.role]);
}

/** A passkey on this device (the face or fingerprint stays on it): a session. */
function passkeyButton(app, query) {
  const slot = h('div', { class: 'form-error' });
  const button = h('button', {
    type: 'button', class: 'secondary',
    onclick: async () => {
      fill(slot);
      button.disabled = true;
      try {
        const { passkeyLoginBegin: begun } = await gql(PASSKEY_BEGIN);
        const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(begun.options.publicKey);
        const credential = await navigator.credentials.get({ publicKey });
        await gql(PASSKEY_FINISH, { c: begun.challengeId, k: credential.toJSON() });
        await signedIn(app, query);
      } catch (error) {
        fill(slot, errorBox(error.name === 'NotAllowedError'
          ? new Error('no passkey was used (cancelled, or none for this site on this device)')
          : error));
      } finally {
        button.disabled = false;
      }
    },
  }, 'Sign in with a passkey');
  return h('div', { class: 'stack' }, slot, button);
}

export async function login({ query, app }) {
  const email = field('E-mail', { type: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = field('Password', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  // Shown once the server says this account has a second factor.
  const code = field('Code', { name: 'otp', autocomplete: 'one-time-code', inputmode: 'text', spellcheck: 'false' },
    'The six digits your authenticator app shows now, or one of your recovery codes.');
  code.hidden = true;
  return h('section', { class: 'narrow' },
    h('h1', {}, 'Sign in'),
    form({
      fields: [email, password, code],
      submitLabel: 'Sign in',
      submit: async () => {
        const otp = code.hidden ? null : code.input.value.trim() || null;
        try {
          await gql(LOGIN, { e: email.input.value, p: password.input.value, o: otp });
        } catch (error) {
          if (error.code === 'FORBIDDEN' && /\bPENDING\b/.test(error.message)) {
            app.navigate(PATHS.pending);
            return;
          }
          if (error.reason === 'MFA_REQUIRED') {
            code.hidden = false;
            code.input.required = true;
            code.input.focus();
            announce('Enter the code from your authenticator app.');
            return;
          }
          throw error;
        }
        await signedIn(app, query);
      },
    }),
    window.PublicKeyCredential ? passkeyButton(app, query) : null,
    h('p', {}, link(PATHS.forgot, 'Forgotten your password?')),
    h('p', {}, 'New here? ', link(PATHS.register, 'Register')));
}

export async function register({ app }) {
  const name = field('Full name', { name: 'name', autocomplete: 'name', required: true });
  const email = field('E-mail', { type: 'email', name: 'email', autocomplete: 'email', required: true });
  const phone = field('Phone (optional)', { type: 'tel', name: 'phone', autocomplete: 'tel' });
  const password = field('Password', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: PASSWORD_MIN },
    PASSWORD_HINT);
  const role = field('I am a', { type: 'select', name: 'role', options: [['PATIENT', ROLES.PATIENT], ['DOCTOR', ROLES.DOCTOR]] });
  return h('section', { class: 'narrow' },
    h('h1', {}, 'Register'),
    form({
      fields: [name, email, phone, password, role],
      submitLabel: 'Register',
      submit: async () => {
        const input = {
          name: name.input.value, email: email.input.value, password: password.input.value,
          role: role.input.value, phone: phone.input.value.trim() || null,
        };
        const { register: user } = await gql('mutation($i: RegisterInput!) { register(input: $i) { id status } }', { i: input });
        if (user.status === 'PENDING') {
          app.navigate(PATHS.pending);
          return;
        }
        await gql(LOGIN, { e: input.email, p: input.password });
        const me = await app.refreshMe();
        app.startBell();
        announce('Welcome to MedChain.');
        app.navigate(HOME[me.role]);
      },
    }),
    h('p', {}, 'Already registered? ', link(PATHS.login, 'Sign in')));
}

export async function pending() {
  return h('section', { class: 'narrow' },
    h('h1', {}, 'Waiting for approval'),
    h('p', {}, 'Your doctor account is waiting for an administrator to approve it. You will get an e-mail once they have decided; then sign in here.'),
    h('p', {}, link(PATHS.login, 'Back to sign in')));
}

export async function forgot() {
  const email = field('E-mail', { type: 'email', name: 'email', autocomplete: 'email', required: true });
  const done = h('div');
  const section = h('section', { class: 'narrow' },
    h('h1', {}, 'Forgotten password'),
    h('p', {}, 'We will e-mail you a link to choose a new password.'),
    form({
      fields: [email],
      submitLabel: 'Send the link',
      submit: async () => {
        await gql('mutation($e: String!) { requestPasswordReset(email: $e) }', { e: email.input.value });
        done.replaceChildren(h('p', { class: 'ok', role: 'status' }, 'If that address has an account, a link is on its way. It works once, for a short time.'));
      },
    }),
    done,
    h('p', {}, link(PATHS.login, 'Back to sign in')));
  return section;
}

export async function reset({ query, app }) {
  const token = query.get('token') ?? '';
  const password = field('New password', { type: 'password', name: 'password', autocomplete: 'new-password', required: true, minlength: PASSWORD_MIN },
    PASSWORD_HINT);
  return h('section', { class: 'narrow' },
    h('h1', {}, 'Choose a new password'),
    token ? form({
      fields: [password],
      submitLabel: 'Set the password',
      submit: async () => {
        await gql('mutation($t: String!, $p: String!) { resetPassword(token: $t, newPassword: $p) }',
          { t: token, p: password.input.value });
        announce('Your password was changed. Sign in with it.');
        app.navigate(PATHS.login);
      },
    }) : h('p', { class: 'error', role: 'alert' }, 'This link has no token. Ask for a new one.'),
    h('p', {}, link(PATHS.forgot, 'Ask for a new link')));
}
