// What more than one admin page uses: numbers and hashes for people, rows added to a
// table, a decision run from a button, and the card that asks why before a deed.

import { h, fill, field, form, errorBox, confirmDialog } from '../../ui.js';

/** A number for people: Long values arrive as JSON numbers. */
export function num(n) {
  return Number(n).toLocaleString();
}

/** The start of a hex hash or id, enough to tell rows apart; the whole value on hover. */
export function short(value, length = 12) {
  if (!value) return '—';
  return h('span', { class: 'mono nowrap', title: value }, value.length > length ? `${value.slice(0, length)}…` : value);
}

/** Adds rows to a table made by `table()` (for "Show more"), dropping its empty row. */
export function appendRows(wrap, rows) {
  const body = wrap.querySelector('tbody');
  if (rows.length) body.querySelector('td.muted')?.parentElement.remove();
  for (const cells of rows) body.append(h('tr', {}, cells.map((c) => h('td', {}, c))));
}

/** Runs a decision from a button: disabled meanwhile, the error in words beside it. */
export async function decide(button, deed) {
  const place = button.parentElement;
  place.querySelector(':scope > .error')?.remove();
  button.disabled = true;
  try {
    await deed();
  } catch (error) {
    place.append(errorBox(error));
  } finally {
    // Usually the button is gone by now (the list is drawn anew); if not, it works again.
    button.disabled = false;
  }
}

/**
 * A small card asking why, in `slot`: `run(reason)` does the deed once the reason is
 * given (and, with `confirmText`, confirmed). Cancel puts the focus back on `opener`.
 */
export function askReason(slot, opener, { title, intro, label, submitLabel, confirmText, confirmLabel, run }) {
  const reason = field(label, { type: 'textarea', name: 'reason', rows: 2, required: true, maxlength: 500 });
  const close = () => {
    fill(slot);
    if (opener?.isConnected) opener.focus();
  };
  const asked = form({
    fields: [reason],
    submitLabel,
    submit: async () => {
      const why = reason.input.value.trim();
      if (!why) throw new Error('give a reason');
      if (confirmText && !await confirmDialog(confirmText, confirmLabel ?? submitLabel)) return;
      await run(why);
      fill(slot);
    },
  });
  // Cancel sits beside the form's own button.
  asked.querySelector('.actions').append(h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel'));
  fill(slot, h('section', { class: 'card', 'aria-label': title },
    h('h2', {}, title),
    intro ? h('p', {}, intro) : null,
    asked));
  reason.input.focus();
}
