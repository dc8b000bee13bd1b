// The page a share link leads to, for someone with no account: the passcode the patient
// gave apart, then the records the link shares, each to download, for 15 minutes. Each
// opening and each download is on the ledger and the patient is told.

import { openLink, linkContent } from '../api.js';
import { h, fill, field, form, table, bytes, when, errorBox, announce } from '../ui.js';

function save(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export async function page({ params }) {
  const id = params.id;
  const shown = h('div');
  const passcode = field('Passcode', { name: 'passcode', required: true, autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false' },
    'Ten letters and digits, like ABCDE-FGHJK, given to you by the patient.');
  const opened = (answer) => {
    const rows = answer.records.map((r) => [
      r.title,
      r.fileName,
      bytes(r.size),
      h('button', {
        type: 'button', 'aria-label': `Download ${r.title}`,
        onclick: async (event) => {
          const button = event.currentTarget;
          button.disabled = true;
          try {
            save(await linkContent(id, r.id, answer.token), r.fileName);
            announce(`Downloaded ${r.fileName}.`);
          } catch (error) {
            button.replaceWith(errorBox(error));
          } finally {
            button.disabled = false;
          }
        },
      }, 'Download'),
    ]);
    fill(shown,
      h('p', { role: 'status' }, `Open until ${when(answer.expiresAt)}. After that, enter the passcode again.`),
      table('Shared with you', ['Title', 'File', 'Size', ''], rows));
  };
  return h('section', {},
    h('h1', {}, 'Records shared with you'),
    h('p', {}, 'A patient shared medical records with you through MedChain. Enter the passcode they gave you. '
      + 'The patient sees every opening and every download.'),
    form({
      fields: [passcode],
      submitLabel: 'Open',
      submit: async () => {
        const code = passcode.input.value.trim();
        if (!code) throw new Error('enter the passcode');
        opened(await openLink(id, code));
      },
    }),
    shown);
}
