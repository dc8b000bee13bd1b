// "Apps that read your records", on the profile page: read tokens for the FHIR API
// (DESIGN.md §12). A token lets an app read through GET /fhir/R4/… only, never share or
// erase; its secret is shown once, when it is made. Making one asks for a recent sign-in.

import { gql } from '../api.js';
import { h, fill, field, form, table, when, errorBox, announce, confirmDialog } from '../ui.js';
import { stepUp } from './step_up.js';

const TOKENS = '{ readTokens { id name createdAt expiresAt lastUsedAt revokedAt } }';
const CREATE = `mutation($n: String!, $e: DateTime!) {
  createReadToken(name: $n, expiresAt: $e) { secret token { id name expiresAt } } }`;
const REVOKE = 'mutation($id: UUID!) { revokeReadToken(id: $id) { id revokedAt } }';

const DAY = 24 * 3600 * 1000;

function state(t) {
  if (t.revokedAt) return `Revoked ${when(t.revokedAt)}`;
  if (new Date(t.expiresAt) <= new Date()) return 'Expired';
  return 'Active';
}

export function appsSection(initial) {
  const slot = h('div');
  const area = h('div');
  const section = h('section', { class: 'card', 'aria-labelledby': 'apps-heading' },
    h('h2', { id: 'apps-heading' }, 'Apps that read your records'),
    h('p', {}, 'A read token lets a health app read your records in the standard FHIR format. It can only read: it cannot share, erase or sign in. Revoke it when you stop using the app.'),
    slot, area);
  const show = (tokens) => {
    const rows = tokens.map((t) => [
      t.name,
      when(t.createdAt),
      when(t.expiresAt),
      t.lastUsedAt ? when(t.lastUsedAt) : 'Never',
      state(t),
      t.revokedAt ? '' : h('button', {
        type: 'button', class: 'secondary small', 'aria-label': `Revoke the read token ${t.name}`,
        onclick: async (event) => {
          const button = event.currentTarget;
          if (!await confirmDialog(`Revoke the read token “${t.name}”? The app stops reading at once.`, 'Revoke')) return;
          button.disabled = true;
          try {
            await gql(REVOKE, { id: t.id });
            announce('The read token is revoked.');
            await refresh();
          } catch (error) {
            fill(area, errorBox(error));
          } finally {
            button.disabled = false;
          }
        },
      }, 'Revoke'),
    ]);
    fill(slot, table('Your read tokens', ['App', 'Made', 'Expires', 'Last used', 'State', ''], rows));
  };
  const refresh = async () => show((await gql(TOKENS)).readTokens);
  const name = field('App name', { name: 'token-name', required: true, maxlength: 64, placeholder: 'Health app on my phone' });
  const days = field('Good for (days)', { name: 'token-days', type: 'number', min: 1, max: 365, value: 90, required: true },
    'At most a year.');
  const made = h('div');
  section.append(form({
    fields: [name, days],
    submitLabel: 'Make a read token',
    submit: async () => {
      const vars = {
        n: name.input.value.trim(),
        e: new Date(Date.now() + Number(days.input.value) * DAY).toISOString(),
      };
      const done = (await stepUp(area, () => gql(CREATE, vars))) ?? await gql(CREATE, vars);
      const secret = h('code', { class: 'totp-secret', 'data-testid': 'read-token-secret' }, done.createReadToken.secret);
      fill(made,
        h('div', { class: 'ok', role: 'status' },
          h('p', {}, `Give this token to “${done.createReadToken.token.name}”. It is shown only now:`),
          h('p', {}, secret),
          h('p', { class: 'hint' }, 'The app sends it as “Authorization: Bearer …” to /fhir/R4.')));
      name.input.value = '';
      await refresh();
    },
  }), made);
  show(initial);
  return section;
}
