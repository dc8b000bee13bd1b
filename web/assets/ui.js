// Building the page without innerHTML (nothing from the server is ever parsed as HTML),
// forms with labels, and errors said in words.

/** `h('p', {class: 'x', onclick: f}, 'text', child)`: an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let fieldCount = 0;

/** A labelled input; returns the wrapper, the input is `.input`. */
export function field(label, attrs = {}, hint) {
  const id = attrs.id ?? `f${++fieldCount}`;
  const tag = attrs.type === 'textarea' ? 'textarea' : attrs.type === 'select' ? 'select' : 'input';
  const { options, type, ...rest } = attrs;
  const input = h(tag, { id, ...(tag === 'input' ? { type: type ?? 'text' } : {}), ...rest });
  if (tag === 'select') {
    for (const [value, text] of options ?? []) input.append(h('option', { value }, text));
  }
  const hintId = hint ? `${id}-hint` : null;
  if (hintId) input.setAttribute('aria-describedby', hintId);
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
  wrap.input = input;
  return wrap;
}

const WORDS = {
  OFFLINE: null,
  UNAUTHENTICATED: null,
  RATE_LIMITED: null,
  INTERNAL: 'Something went wrong on the server. Try again in a moment.',
};

/** A person-readable sentence for an error (never raw JSON). */
export function describe(error) {
  if (error && error.code && WORDS[error.code]) return WORDS[error.code];
  const text = (error && error.message) || 'Something went wrong. Try again.';
  return text.charAt(0).toUpperCase() + text.slice(1).replace(/([^.!?])$/, '$1.');
}

/** An alert box for an error. */
export function errorBox(error) {
  return h('p', { class: 'error', role: 'alert' }, describe(error));
}

/**
 * Announces a short message to screen readers and shows it briefly. Toasts stack in one
 * column, so a new one never lies over an older one (whose first letters used to show
 * beside it, like a broken icon).
 */
export function announce(text) {
  const status = document.getElementById('status');
  if (status) fill(status, text);
  let stack = document.getElementById('toasts');
  if (!stack) {
    stack = h('div', { id: 'toasts', class: 'toasts', 'aria-hidden': 'true' });
    document.body.append(stack);
  }
  const toast = h('p', { class: 'toast' },
    h('img', { src: '/assets/bell.svg', alt: '', width: 16, height: 16, class: 'toast-icon' }),
    h('span', {}, text));
  stack.append(toast);
  setTimeout(() => toast.remove(), 3000);
}

/**
 * A form that runs `submit(values)` and shows the error in words when it fails;
 * the button is disabled meanwhile.
 */
export function form({ fields, submitLabel, submit, className }) {
  const errorSlot = h('div', { class: 'form-error' });
  const button = h('button', { type: 'submit' }, submitLabel);
  const el = h('form', { class: className ?? 'stack', novalidate: false }, errorSlot, ...fields, h('div', { class: 'actions' }, button));
  el.addEventListener('submit', async (event) => {
    event.preventDefault();
    fill(errorSlot);
    button.disabled = true;
    try {
      await submit(el);
    } catch (error) {
      fill(errorSlot, errorBox(error));
      errorSlot.querySelector('[role=alert]')?.focus?.();
    } finally {
      button.disabled = false;
    }
  });
  return el;
}

/** `2026-11-24T10:15:30.123456Z` as a local date and time. */
export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

/** A byte count for people. */
export function bytes(n) {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return i === 0 ? `${v} bytes` : `${v.toFixed(1)} ${units[i]}`;
}

/** Asks before something that cannot be undone. */
export function confirmDialog(message, confirmLabel) {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-text' },
      h('p', { id: 'confirm-text' }, message),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'secondary', onclick: () => done(false) }, 'Cancel'),
        h('button', { type: 'button', class: 'danger', onclick: () => done(true) }, confirmLabel)));
    const done = (answer) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    dialog.addEventListener('cancel', () => done(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A table with a caption and header row; `rows` are arrays of cells. */
export function table(caption, headers, rows) {
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, rows.length
        ? rows.map((cells) => h('tr', {}, cells.map((c) => h('td', {}, c))))
        : h('tr', {}, h('td', { colspan: headers.length, class: 'muted' }, 'Nothing here yet.')))));
}

/**
 * "Show more" below a list while its page has a next one (else null): a click runs
 * `next(endCursor, event)`.
 */
export function moreButton(pageInfo, next) {
  return pageInfo.hasNextPage
    ? h('button', { type: 'button', class: 'secondary', onclick: (event) => next(pageInfo.endCursor, event) }, 'Show more')
    : null;
}

/** A local link the router handles. */
export function link(href, text, attrs = {}) {
  return h('a', { href, 'data-link': true, ...attrs }, text);
}

/** Offers `value` as a JSON file named `name` (a receipt, a certificate). */
export function downloadJson(name, value) {
  const blob = new Blob([JSON.stringify(value, null, 2)], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
