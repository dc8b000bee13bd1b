// The profile page, the same for every signed-in user: the photo (shown and replaced),
// name, e-mail and phone with a change request an administrator decides, the password
// change, sign-in security (a code app and its recovery codes), the sessions signed in
// elsewhere (revoke, and how each signed in), and which notices arrive in the app and by
// e-mail.

import { gql, putPhoto } from '../api.js';
import { h, fill, field, form, table, when, errorBox, announce, confirmDialog, link } from '../ui.js';
import { ROLES, HOME, PASSWORD_MIN, PASSWORD_HINT } from '../constants.js';
import { appsSection } from './apps.js';
import { dataSection } from './my_data.js';
import { stepUp } from './step_up.js';

const ME = `{ me { id role name email phone photoUrl createdAt
    pendingProfileChange { id name phone status requestedAt } } }`;
const SESSIONS = '{ mySessions { id createdAt lastSeenAt expiresAt current userAgent method } }';
const MFA = '{ myMfa { totp recoveryCodesLeft passkeys { id name createdAt lastUsedAt } } }';
const PREFERENCES = '{ notificationPreferences { kind inApp email } }';

export async function page({ app }) {
  // A role that must have a second factor, without one: this session may only enrol,
  // so the page is that section alone until it is done.
  const { myMfa: mfa } = await gql('{ myMfa { totp recoveryCodesLeft required passkeys { id name createdAt lastUsedAt } } }');
  if (mfa.required && !mfa.totp && mfa.passkeys.length === 0) {
    return h('section', {},
      h('h1', {}, 'Set up a second factor'),
      h('p', { role: 'status' }, 'Your role must sign in with a second factor. Set up a code app here; then MedChain opens to you.'),
      securitySection(mfa, async () => {}),
      h('p', {}, 'Once it is on and your recovery codes are kept: ', link(HOME[app.me?.role] ?? '/', 'go on to MedChain'), '.'));
  }
  // One round trip each, in parallel: the page is shown whole or not at all.
  const [{ me }, { mySessions }, { notificationPreferences }, { myMfa }, { readTokens }] =
    await Promise.all([gql(ME), gql(SESSIONS), gql(PREFERENCES), gql(MFA), gql('{ readTokens { id name createdAt expiresAt lastUsedAt revokedAt } }')]);
  const sessions = sessionsSection(mySessions);
  return h('section', {},
    h('h1', {}, 'Your profile'),
    photoSection(me),
    detailsSection(me),
    // A password change signs the other sessions out: the table is read again after it.
    passwordSection(() => sessions.refresh()),
    securitySection(myMfa, () => sessions.refresh()),
    sessions,
    appsSection(readTokens),
    me.role === 'PATIENT' ? dataSection({ expected: await filesSize() }) : null,
    preferencesSection(notificationPreferences, app.me?.role ?? me.role));
}

/** The bytes of the patient's files, for the export's progress bar. */
async function filesSize() {
  const { myRecords } = await gql('{ myRecords(first: 100) { edges { node { size status } } } }');
  return myRecords.edges.reduce((sum, { node }) => sum + (node.status === 'ERASED' ? 0 : Number(node.size)), 0);
}

// ---------------------------------------------------------------------------------------
// Photo

const PHOTO_TYPES = ['image/png', 'image/jpeg'];
const PHOTO_MAX = 2 * 1024 * 1024;

function photoSection(me) {
  const frame = h('div', { class: 'photo-frame' });
  const show = (url) => fill(frame, url
    ? h('img', { class: 'photo', src: url, alt: `Photo of ${me.name ?? 'you'}`, width: 128, height: 128 })
    : h('p', { class: 'muted' }, 'No photo yet.'));
  show(me.photoUrl);
  const file = field('New photo', { type: 'file', name: 'photo', accept: 'image/png,image/jpeg', required: true },
    'PNG or JPEG, at most 2 MiB.');
  return h('section', { class: 'card', 'aria-labelledby': 'photo-heading' },
    h('h2', { id: 'photo-heading' }, 'Photo'),
    frame,
    form({
      fields: [file],
      submitLabel: 'Upload photo',
      submit: async (el) => {
        const chosen = file.input.files[0];
        if (!chosen) throw new Error('choose a picture to upload');
        // Said here in words before the bytes go; the server checks the same again.
        if (!PHOTO_TYPES.includes(chosen.type)) throw new Error('the photo must be a PNG or JPEG picture');
        if (chosen.size > PHOTO_MAX) throw new Error('the photo is larger than 2 MiB');
        await putPhoto(chosen);
        const { me: fresh } = await gql('{ me { photoUrl } }');
        const url = fresh.photoUrl ?? `/api/users/${me.id}/photo`;
        // Same URL as before: a new query string makes the browser fetch the new picture.
        show(`${url}?v=${Date.now()}`);
        el.reset();
        announce('Your photo is updated.');
      },
    }));
}

// ---------------------------------------------------------------------------------------
// Name, e-mail, phone and the change request

function detailsSection(me) {
  const request = h('div');
  const showRequest = (pending) => fill(request, pending && pending.status === 'PENDING'
    ? pendingNote(pending)
    : changeForm(me, showRequest));
  showRequest(me.pendingProfileChange);
  return h('section', { class: 'card', 'aria-labelledby': 'details-heading' },
    h('h2', { id: 'details-heading' }, 'Your details'),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Name'), h('dd', {}, me.name ?? '—'),
      h('dt', {}, 'E-mail'), h('dd', {}, me.email ?? '—'),
      h('dt', {}, 'Phone'), h('dd', {}, me.phone || '—'),
      h('dt', {}, 'Account'), h('dd', {}, ROLES[me.role] ?? me.role),
      h('dt', {}, 'Member since'), h('dd', {}, when(me.createdAt))),
    request);
}

function pendingNote(change) {
  const asked = [
    change.name ? `name "${change.name}"` : null,
    change.phone ? `phone "${change.phone}"` : null,
  ].filter(Boolean).join(' and ');
  return h('p', { class: 'ok', role: 'status' },
    `You asked on ${when(change.requestedAt)} to change your ${asked || 'details'}. `,
    'The change waits for an administrator to approve it.');
}

function changeForm(me, showRequest) {
  const name = field('New name', { name: 'name', autocomplete: 'name', maxlength: 200, value: me.name ?? '' });
  const phone = field('New phone', { type: 'tel', name: 'phone', autocomplete: 'tel', value: me.phone ?? '' },
    'Change what should change and leave the rest. An administrator approves the change before it shows. The e-mail address cannot be changed here.');
  return h('details', { class: 'card' },
    h('summary', {}, 'Ask to change your name or phone'),
    form({
      fields: [name, phone],
      submitLabel: 'Send the request',
      submit: async () => {
        // Only what differs is sent: an empty or unchanged field means "keep it".
        const newName = name.input.value.trim();
        const newPhone = phone.input.value.trim();
        const input = {
          name: newName && newName !== me.name ? newName : null,
          phone: newPhone && newPhone !== (me.phone ?? '') ? newPhone : null,
        };
        if (!input.name && !input.phone) throw new Error('change the name or the phone first');
        const { requestProfileChange: change } = await gql(
          'mutation($i: ProfileInput!) { requestProfileChange(input: $i) { id name phone status requestedAt } }',
          { i: input });
        announce('Your request is sent to an administrator.');
        showRequest(change);
      },
    }));
}

// ---------------------------------------------------------------------------------------
// Password

function passwordSection(changed) {
  const current = field('Current password', { type: 'password', name: 'current', autocomplete: 'current-password', required: true });
  const fresh = field('New password', { type: 'password', name: 'new', autocomplete: 'new-password', required: true, minlength: PASSWORD_MIN },
    PASSWORD_HINT);
  const again = field('New password again', { type: 'password', name: 'again', autocomplete: 'new-password', required: true, minlength: PASSWORD_MIN });
  const done = h('div', { role: 'status' });
  return h('section', { class: 'card', 'aria-labelledby': 'password-heading' },
    h('h2', { id: 'password-heading' }, 'Password'),
    form({
      fields: [current, fresh, again],
      submitLabel: 'Change password',
      submit: async (el) => {
        fill(done);
        if (fresh.input.value !== again.input.value) throw new Error('the two new passwords differ');
        await gql('mutation($c: String!, $n: String!) { changePassword(current: $c, new: $n) }',
          { c: current.input.value, n: fresh.input.value });
        el.reset();
        const text = 'Your password is changed. Your other sessions were signed out; this one stays signed in.';
        fill(done, h('p', { class: 'ok' }, text));
        announce('Password changed.');
        await changed();
      },
    }),
    done);
}

// ---------------------------------------------------------------------------------------
// Sign-in security: a code app (TOTP) and its recovery codes. Changing them needs a
// recent sign-in: when the server asks for one (REAUTH_REQUIRED), the password (and a
// code) are asked for here first.

const TOTP_BEGIN = 'mutation { totpEnrollBegin { secret otpauthUri qrSvg } }';
const TOTP_FINISH = 'mutation($c: String!) { totpEnrollFinish(code: $c) }';
const TOTP_DISABLE = 'mutation($c: String!) { disableTotp(code: $c) }';
const NEW_CODES = 'mutation($c: String!) { regenerateRecoveryCodes(code: $c) }';
const REAUTH = 'mutation($p: String!, $o: String) { reauthenticate(password: $p, otp: $o) }';

function securitySection(initial, sessionsChanged) {
  const slot = h('div');
  const section = h('section', { class: 'card', 'aria-labelledby': 'security-heading' },
    h('h2', { id: 'security-heading' }, 'Sign-in security'),
    slot);
  const show = async (status) => {
    const mfa = status ?? (await gql(MFA)).myMfa;
    fill(slot,
      mfa.totp ? totpOn(mfa, show, sessionsChanged) : totpOff(show),
      passkeysPart(mfa.passkeys, show, sessionsChanged));
  };
  show(initial);
  return section;
}

function totpOff(show) {
  const area = h('div');
  const start = h('button', {
    type: 'button',
    onclick: async () => {
      start.disabled = true;
      try {
        let begun = await stepUp(area, () => gql(TOTP_BEGIN));
        // The step-up asked for no code here, so the secret can be made at once.
        begun ??= await gql(TOTP_BEGIN);
        fill(area, totpEnrol(begun.totpEnrollBegin, show));
      } catch (error) {
        fill(area, errorBox(error));
      } finally {
        start.disabled = false;
      }
    },
  }, 'Turn on a code app');
  return [
    h('p', {}, 'A code app (an authenticator on your phone) adds a second step to signing in: after your password, the six digits it shows.'),
    start,
    area,
  ];
}

function totpEnrol(begun, show) {
  const codes = h('div');
  const code = field('Code from the app', { name: 'totp-code', autocomplete: 'one-time-code', inputmode: 'numeric', required: true });
  return h('div', { class: 'stack' },
    h('p', {}, 'Scan this with your authenticator app, or type the key into it; then enter the code it shows.'),
    // An image, never parsed into the page: the SVG comes from the server.
    h('img', { class: 'qr', src: `data:image/svg+xml;base64,${btoa(begun.qrSvg)}`, alt: 'QR code for your authenticator app', width: 200, height: 200 }),
    h('p', {}, 'Key: ', h('code', { class: 'totp-secret' }, begun.secret)),
    form({
      fields: [code],
      submitLabel: 'Turn on',
      submit: async () => {
        const { totpEnrollFinish } = await gql(TOTP_FINISH, { c: code.input.value.trim() });
        announce('The code app is on.');
        fill(codes, recoveryCodes(totpEnrollFinish, show));
      },
    }),
    codes);
}

/** The codes, shown once, to print or write down. */
function recoveryCodes(list, show) {
  return h('div', { class: 'recovery-codes' },
    h('h3', {}, 'Your recovery codes'),
    h('p', {}, 'Each signs you in once if you lose your phone. Keep them somewhere safe: they are shown only now.'),
    h('ol', { class: 'codes' }, list.map((c) => h('li', {}, h('code', {}, c)))),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'secondary', onclick: () => window.print() }, 'Print'),
      h('button', { type: 'button', onclick: () => show() }, 'I have kept them')));
}

function totpOn(mfa, show, sessionsChanged) {
  const area = h('div');
  const newCode = field('Code', { name: 'new-codes-code', autocomplete: 'one-time-code', required: true });
  const offCode = field('Code', { name: 'disable-code', autocomplete: 'one-time-code', required: true });
  return [
    h('p', {}, `A code app is on. Recovery codes left: ${mfa.recoveryCodesLeft}.`),
    area,
    h('h3', {}, 'New recovery codes'),
    form({
      fields: [newCode],
      submitLabel: 'Make new recovery codes',
      submit: async () => {
        const made = await stepUp(area, () => gql(NEW_CODES, { c: newCode.input.value.trim() }));
        if (made) fill(area, recoveryCodes(made.regenerateRecoveryCodes, show));
      },
    }),
    h('h3', {}, 'Turn the code app off'),
    form({
      fields: [offCode],
      submitLabel: 'Turn off',
      submit: async () => {
        const done = await stepUp(area, () => gql(TOTP_DISABLE, { c: offCode.input.value.trim() }));
        if (!done) return;
        announce('The code app is off. Your other sessions were signed out.');
        await sessionsChanged();
        await show();
      },
    }),
  ];
}

/** Passkeys: a face or fingerprint on the person's own device; nothing of it reaches us. */
function passkeysPart(passkeys, show, sessionsChanged) {
  const area = h('div');
  const name = field('Name of the new passkey', { name: 'passkey-name', required: true, maxlength: 64, placeholder: 'My phone' });
  const rows = passkeys.map((p) => [
    p.name,
    when(p.createdAt),
    p.lastUsedAt ? when(p.lastUsedAt) : 'Never',
    h('button', {
      type: 'button', class: 'secondary small', 'aria-label': `Remove the passkey ${p.name}`,
      onclick: async (event) => {
        const button = event.currentTarget;
        if (!await confirmDialog(`Remove the passkey “${p.name}”? Your other sessions are signed out.`, 'Remove')) return;
        button.disabled = true;
        try {
          const done = await stepUp(area, () => gql('mutation($id: UUID!) { removePasskey(id: $id) }', { id: p.id }));
          if (!done) return;
          announce('The passkey is removed. Your other sessions were signed out.');
          await sessionsChanged();
          await show();
        } catch (error) {
          fill(area, errorBox(error));
        } finally {
          button.disabled = false;
        }
      },
    }, 'Remove'),
  ]);
  return [
    h('h3', {}, 'Passkeys'),
    h('p', {}, 'A passkey signs you in with your face, fingerprint or device PIN on this device. Nothing of it is sent to MedChain but a signature.'),
    passkeys.length ? table('Your passkeys', ['Name', 'Added', 'Last used', ''], rows) : h('p', { class: 'muted' }, 'No passkeys yet.'),
    area,
    window.PublicKeyCredential ? form({
      fields: [name],
      submitLabel: 'Add a passkey',
      submit: async () => {
        const begin = () => gql('mutation($n: String!) { passkeyRegisterBegin(name: $n) { challengeId options } }', { n: name.input.value.trim() });
        const begun = (await stepUp(area, begin)) ?? await begin();
        const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(begun.passkeyRegisterBegin.options.publicKey);
        const credential = await navigator.credentials.create({ publicKey });
        await gql('mutation($c: UUID!, $k: JSON!) { passkeyRegisterFinish(challengeId: $c, credential: $k) { id } }',
          { c: begun.passkeyRegisterBegin.challengeId, k: credential.toJSON() });
        announce('The passkey is added.');
        await show();
      },
    }) : h('p', { class: 'muted' }, 'This browser cannot make passkeys.'),
  ];
}

// ---------------------------------------------------------------------------------------
// Sessions

function sessionsSection(initial) {
  const slot = h('div');
  const section = h('section', { class: 'card', 'aria-labelledby': 'sessions-heading' },
    h('h2', { id: 'sessions-heading' }, 'Where you are signed in'),
    slot);
  const refresh = async () => {
    const { mySessions } = await gql(SESSIONS);
    fill(slot, sessionTable(mySessions, refresh));
  };
  fill(slot, sessionTable(initial, refresh));
  section.refresh = refresh;
  return section;
}

function sessionTable(sessions, refresh) {
  const rows = sessions.map((s) => [
    when(s.createdAt),
    when(s.lastSeenAt),
    when(s.expiresAt),
    h('span', { class: 'small' }, s.userAgent || 'Unknown browser'),
    METHODS[s.method] ?? s.method,
    s.current ? h('strong', {}, 'This session') : h('button', {
      type: 'button', class: 'secondary small',
      'aria-label': `Revoke the session signed in ${when(s.createdAt)}`,
      onclick: async (event) => {
        const button = event.currentTarget;
        if (!await confirmDialog('Sign this session out? Whoever uses it will have to sign in again.', 'Revoke')) return;
        button.disabled = true;
        try {
          await gql('mutation($id: UUID!) { revokeSession(id: $id) }', { id: s.id });
          announce('The session is signed out.');
          await refresh();
        } catch (error) {
          button.replaceWith(errorBox(error));
        }
      },
    }, 'Revoke'),
  ]);
  return table('Your sessions', ['Signed in', 'Last seen', 'Expires', 'Browser', 'How', ''], rows);
}

const METHODS = {
  password: 'Password',
  'password+totp': 'Password and code',
  'password+recovery-code': 'Password and recovery code',
  passkey: 'Passkey',
};

// ---------------------------------------------------------------------------------------
// Notification preferences

const KINDS = {
  RECORD_SHARED: ['Record shared', 'A patient shares a record with you.'],
  SHARE_REVOKED: ['Share revoked', 'A share with you ends because the patient revoked it.'],
  SHARE_EXPIRING: ['Share about to expire', 'A share is close to its end date.'],
  RECORD_ACCESSED: ['Record opened', 'Someone opens or downloads one of your records.'],
  ACCOUNT_APPROVED: ['Account approved', 'An administrator approves your account.'],
  ACCOUNT_REJECTED: ['Account rejected', 'An administrator rejects your account.'],
  PROFILE_CHANGE_DECIDED: ['Profile change decided', 'An administrator decides on your profile change.'],
  PASSWORD_CHANGED: ['Password changed', 'Your password is changed.'],
  USER_AWAITING_APPROVAL: ['Account awaiting approval', 'Someone registers and waits for an administrator.'],
  PROFILE_CHANGE_REQUESTED: ['Profile change requested', 'Someone asks to change their profile.'],
  SECURITY_CHANGED: ['Sign-in security changed', 'A code app is turned on or off, new recovery codes are made, or wrong codes are typed.'],
  ERASURE_COMPLETED: ['Erasure complete', 'A record you erased can no longer be recovered from any copy of the database.'],
};

// Security notices: the server refuses to mute them in the app, so the box is fixed.
const ALWAYS_IN_APP = new Set(['PASSWORD_CHANGED', 'ACCOUNT_APPROVED', 'ACCOUNT_REJECTED', 'SECURITY_CHANGED']);
// And these by e-mail too.
const ALWAYS_BY_EMAIL = new Set(['SECURITY_CHANGED']);
// Only administrators are told about these; others would see boxes that do nothing.
const ADMIN_ONLY = new Set(['USER_AWAITING_APPROVAL', 'PROFILE_CHANGE_REQUESTED']);

function preferencesSection(preferences, role) {
  const shown = preferences.filter((p) => role === 'ADMIN' || !ADMIN_ONLY.has(p.kind));
  const hintId = 'always-in-app-hint';
  const boxes = shown.map((p) => {
    const [label] = KINDS[p.kind] ?? [p.kind];
    const locked = ALWAYS_IN_APP.has(p.kind);
    return {
      kind: p.kind,
      inApp: h('input', {
        type: 'checkbox', name: `inApp-${p.kind}`, 'aria-label': `In the app: ${label}`,
        checked: locked || p.inApp, disabled: locked, 'aria-describedby': locked ? hintId : null,
      }),
      email: h('input', {
        type: 'checkbox', name: `email-${p.kind}`, 'aria-label': `By e-mail: ${label}`,
        checked: ALWAYS_BY_EMAIL.has(p.kind) || p.email, disabled: ALWAYS_BY_EMAIL.has(p.kind),
        'aria-describedby': ALWAYS_BY_EMAIL.has(p.kind) ? hintId : null,
      }),
    };
  });
  const rows = boxes.map((b) => {
    const [label, description] = KINDS[b.kind] ?? [b.kind, ''];
    return [h('span', {}, label, h('br'), h('span', { class: 'muted small' }, description)), b.inApp, b.email];
  });
  return h('section', { class: 'card', 'aria-labelledby': 'prefs-heading' },
    h('h2', { id: 'prefs-heading' }, 'Notifications'),
    form({
      fields: [
        table('Which notices reach you, and how', ['Notice', 'In the app', 'By e-mail'], rows),
        h('p', { class: 'hint', id: hintId },
          'Password changes and decisions on your account always show in the app, for your safety; their e-mail can be switched off. Changes to your sign-in security always come both ways.'),
      ],
      submitLabel: 'Save preferences',
      submit: async () => {
        const input = boxes.map((b) => ({ kind: b.kind, inApp: b.inApp.checked, email: b.email.checked }));
        await gql('mutation($i: [NotificationPreferenceInput!]!) { setNotificationPreferences(input: $i) { kind } }',
          { i: input });
        announce('Your notification preferences are saved.');
      },
    }));
}
