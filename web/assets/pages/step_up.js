// Confirming it is you before a change that needs a recent sign-in (REAUTH_REQUIRED):
// the password and, with a second factor, a code; shared by the profile's security
// section and its read tokens.

import { gql } from '../api.js';
import { h, fill, field, form } from '../ui.js';

const REAUTH = 'mutation($p: String!, $o: String) { reauthenticate(password: $p, otp: $o) }';

/** Asks for the password (and a code) in `slot`; resolves once the server has them. */
function confirmItIsYou(slot) {
  return new Promise((resolve) => {
    const password = field('Your password', { type: 'password', name: 'reauth-password', autocomplete: 'current-password', required: true });
    const code = field('Code', { name: 'reauth-code', autocomplete: 'one-time-code' },
      'From your authenticator app, or a recovery code; leave empty if you have none.');
    fill(slot,
      h('p', { role: 'status' }, 'For your safety, confirm it is you first.'),
      form({
        fields: [password, code],
        submitLabel: 'Confirm',
        submit: async () => {
          await gql(REAUTH, { p: password.input.value, o: code.input.value.trim() || null });
          fill(slot);
          resolve();
        },
      }));
  });
}

/** A step that may need a recent sign-in: asks for it in `slot` and says what to do next. */
export async function stepUp(slot, action) {
  try {
    return await action();
  } catch (error) {
    if (error.reason !== 'REAUTH_REQUIRED') throw error;
    await confirmItIsYou(slot);
    fill(slot, h('p', { class: 'ok', role: 'status' }, 'Confirmed. Now do it again, with a new code if one is asked for.'));
    return null;
  }
}

