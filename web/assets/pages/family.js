// Family and caregivers. The patient invites someone to look after their records (READ:
// see and download; MANAGE: also upload, share, revoke and decide referrals), for all
// records or chosen ones, with an optional end; the invitation is mailed and takes effect
// when that person, signed in, accepts it. The patient sees each grant, revokes it, and
// what each caregiver read. The caregiver's side: accepting, the people they look after,
// and each person's records.

import { gql } from '../api.js';
import { h, fill, field, form, link, table, when, bytes, announce, errorBox } from '../ui.js';
import { PATHS, ERASED_NAME } from '../constants.js';
import { uploadForm } from './upload_form.js';
import { dataSection } from './my_data.js';

const GRANTS = `{ proxyGrants { id email scope active grantedAt expiresAt revokedAt
    patient { id } proxy { id name } records { id title } } }`;
const ACTIONS = `{ proxyGrants { id patient { id } proxy { id name }
    actions(first: 50) { edges { node { at action recordId record { title } } } } } }`;
const DID = { UPLOADED: 'Uploaded', VIEWED: 'Viewed', DOWNLOADED: 'Downloaded', SHARED: 'Shared', REVOKED: 'Revoked a share', REFERRED: 'Approved a referral' };
const SCOPES = [['READ', 'See and download'], ['MANAGE', 'Also upload, share and decide referrals']];

export async function family({ app }) {
  const list = h('div');
  const did = h('div');
  const show = async () => {
    const grants = (await gql(GRANTS)).proxyGrants.filter((g) => g.patient.id === app.me.id);
    fill(list, table('People who look after my records', ['Who', 'May', 'Records', 'Until', 'State', ''],
      grants.map((g) => [
        g.proxy ? `${g.proxy.name ?? ERASED_NAME} (${g.email})` : `${g.email} (invited)`,
        g.scope === 'MANAGE' ? 'See, download, upload, share' : 'See and download',
        g.records ? g.records.map((r) => r.title ?? ERASED_NAME).join(', ') : 'All, also future ones',
        g.expiresAt ? when(g.expiresAt) : 'Until revoked',
        g.active ? 'Active' : g.revokedAt ? `Revoked ${when(g.revokedAt)}` : g.proxy ? 'Ended' : 'Waiting for acceptance',
        g.revokedAt ? '' : h('button', {
          type: 'button', class: 'secondary', 'aria-label': `Revoke ${g.email}`,
          onclick: async (event) => {
            event.target.disabled = true;
            try {
              await gql('mutation($id: UUID!) { revokeProxy(id: $id) { id } }', { id: g.id });
              announce('Revoked.');
              await show();
            } catch (error) {
              event.target.replaceWith(errorBox(error));
            }
          },
        }, 'Revoke'),
      ])));
    // What each caregiver did with my records, newest first.
    const acted = (await gql(ACTIONS)).proxyGrants
      .filter((g) => g.patient.id === app.me.id && g.proxy)
      .flatMap((g) => (g.actions?.edges ?? []).map(({ node }) => ({ ...node, who: g.proxy.name })))
      .sort((a, b) => (a.at < b.at ? 1 : -1));
    fill(did, table('What my caregivers did', ['When', 'Who', 'What', 'Record'], acted.map((d) => [
      when(d.at), d.who ?? ERASED_NAME, DID[d.action] ?? d.action, d.record?.title ?? '—',
    ])));
  };
  await show();
  const records = (await gql('{ myRecords(first: 100) { edges { node { id title status } } } }'))
    .myRecords.edges.map(({ node }) => node).filter((r) => r.status === 'ACTIVE');
  const email = field('Their e-mail address', { type: 'email', name: 'email', required: true, autocomplete: 'off' },
    'The invitation goes there; it takes effect when they accept it, signed in.');
  const scope = field('They may', { type: 'select', name: 'scope', options: SCOPES });
  const which = field('Records', { type: 'select', name: 'records', multiple: true, size: Math.min(6, records.length + 1),
    options: [['ALL', 'All my records, also future ones'], ...records.map((r) => [r.id, r.title])] },
  'Choose "All" or the records they may see.');
  which.input.options[0].selected = true;
  const until = field('Until (optional)', { type: 'datetime-local', name: 'expires' }, 'Leave empty: until you revoke it.');
  return h('section', {},
    h('h1', {}, 'Family and caregivers'),
    h('p', {}, 'Let someone you trust look after your records: a parent, a child, a partner. '
      + 'They act in their own name, and you see everything they do. They can never erase your account or '
      + 'records, invite others, or see your sign-in settings.'),
    h('details', { class: 'card', open: true },
      h('summary', {}, 'Invite someone'),
      form({
        fields: [email, scope, which, until],
        submitLabel: 'Send the invitation',
        submit: async (el) => {
          const chosen = [...which.input.selectedOptions].map((o) => o.value);
          const all = chosen.length === 0 || chosen.includes('ALL');
          await gql(`mutation($e: String!, $s: ProxyScope!, $r: [UUID!], $x: DateTime) {
              grantProxy(email: $e, scope: $s, recordIds: $r, expiresAt: $x) { id } }`, {
            e: email.input.value.trim(),
            s: scope.input.value,
            r: all ? null : chosen,
            x: until.input.value ? new Date(until.input.value).toISOString() : null,
          });
          announce('Invitation sent.');
          el.reset();
          which.input.options[0].selected = true;
          await show();
        },
      })),
    list,
    did);
}

/** The invitation's link: accept it, signed in. */
export async function accept({ query, app }) {
  const token = query.get('token') ?? '';
  const done = h('div');
  return h('section', {},
    h('h1', {}, 'Look after someone\'s records'),
    h('p', {}, `You are signed in as ${app.me.name ?? app.me.email}. Accepting lets you see the records the patient chose; `
      + 'everything you do is shown to them.'),
    form({
      fields: [done],
      submitLabel: 'Accept the invitation',
      submit: async () => {
        if (!token) throw new Error('this page needs the link from the invitation mail');
        const { acceptProxyInvitation: g } = await gql(
          'mutation($t: String!) { acceptProxyInvitation(token: $t) { id patient { id name } } }', { t: token });
        announce(`You now look after ${g.patient.name}'s records.`);
        app.navigate(`${PATHS.caring}/${g.patient.id}`);
      },
    }));
}

/** The people the caller looks after. */
export async function caring() {
  const { patientsIProxy: people } = await gql('{ patientsIProxy { id name } }');
  return h('section', {},
    h('h1', {}, 'People I look after'),
    people.length
      ? h('ul', {}, people.map((p) => h('li', {}, link(`${PATHS.caring}/${p.id}`, p.name ?? ERASED_NAME))))
      : h('p', { class: 'muted' }, 'Nobody yet. When someone invites you, open the link in their mail.'));
}

/** One person's records, as their caregiver sees them. */
export async function cared({ params }) {
  const id = params.id;
  const list = h('div');
  const grants = (await gql(GRANTS)).proxyGrants.filter((g) => g.patient.id === id && g.active);
  const manage = grants.some((g) => g.scope === 'MANAGE');
  const { patientsIProxy: people } = await gql('{ patientsIProxy { id name } }');
  const name = people.find((p) => p.id === id)?.name ?? 'Patient';
  const show = async () => {
    const data = await gql(`query($p: UUID!) { recordsOf(patientId: $p, first: 100) {
        totalCount edges { node { id title fileName size uploadedAt contentUrl } } } }`, { p: id });
    fill(list, table(`${name}'s records (${data.recordsOf.totalCount})`, ['Title', 'File', 'Size', 'Added', ''],
      data.recordsOf.edges.map(({ node: r }) => [r.title, r.fileName, bytes(r.size), when(r.uploadedAt),
        h('span', { class: 'actions' },
          h('a', { href: `${r.contentUrl}?inline=1`, target: '_blank', rel: 'noopener', 'aria-label': `Open ${r.title}` }, 'Open'),
          h('a', { href: r.contentUrl, download: r.fileName, 'aria-label': `Download ${r.title}` }, 'Download'))])));
  };
  await show();
  return h('section', {},
    h('p', {}, link(PATHS.caring, '← People I look after')),
    h('h1', {}, name),
    h('p', { class: 'muted' }, `You act for ${name}; they see everything you do.`),
    list,
    manage ? uploadForm({ heading: `Upload a record for ${name}`, patient: id }, show) : null,
    manage ? dataSection({ patient: id, name }) : null);
}
