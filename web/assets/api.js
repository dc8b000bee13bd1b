// The public API, and nothing else: GraphQL over fetch, uploads with progress, and the
// graphql-transport-ws subscription socket. The session is the HttpOnly cookie that
// `login` sets, so no token is ever held here.

export class ApiError extends Error {
  constructor(code, message, reason) {
    super(message);
    this.code = code;
    // What the person must do first (extensions.reason): MFA_REQUIRED, REAUTH_REQUIRED.
    this.reason = reason ?? null;
  }
}

const UNREADABLE = 'The server answered in a way this page does not understand. Try again.';
const OFFLINE = 'The server cannot be reached. Check the connection and try again.';

/** Runs one GraphQL operation; resolves to `data`, or throws an ApiError. */
export async function gql(query, variables = {}) {
  let res;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
  } catch {
    throw new ApiError('OFFLINE', OFFLINE);
  }
  let body;
  try {
    body = await res.json();
  } catch {
    throw new ApiError('INTERNAL', UNREADABLE);
  }
  if (body.errors && body.errors.length) {
    const first = body.errors[0];
    throw new ApiError(first.extensions?.code ?? 'INTERNAL', first.message || UNREADABLE, first.extensions?.reason);
  }
  return body.data;
}

/** The file routes' JSON errors, `{"error":{"code","message"}}`, as an ApiError. */
function routeError(status, text) {
  try {
    const e = JSON.parse(text).error;
    if (e && e.message) return new ApiError(e.code, e.message);
  } catch {
    // not JSON: say it plainly below
  }
  if (status === 413) return new ApiError('BAD_USER_INPUT', 'The file is too large.');
  return new ApiError('INTERNAL', UNREADABLE);
}

/**
 * Uploads a record (multipart: title, description, a doctor's `patient`, then file);
 * `onProgress(fraction)` as the bytes go. Resolves to `{id, sha256, seq}`.
 */
export function uploadRecord({ title, description, patient, file }, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    form.append('title', title);
    if (description) form.append('description', description);
    if (patient) form.append('patient', patient);
    form.append('file', file, file.name);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/records');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status === 201) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError('INTERNAL', UNREADABLE));
        }
      } else {
        reject(routeError(xhr.status, xhr.responseText));
      }
    };
    xhr.onerror = () => reject(new ApiError('OFFLINE', OFFLINE));
    xhr.send(form);
  });
}

/**
 * Opens a share link with its passcode (no account): resolves to
 * `{token, expiresAt, records}`, or throws an ApiError (wrong passcode FORBIDDEN, locked
 * RATE_LIMITED, ended NOT_FOUND).
 */
export async function openLink(id, passcode) {
  let res;
  try {
    res = await fetch(`/api/links/${encodeURIComponent(id)}/open`, {
      method: 'POST',
      credentials: 'omit',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ passcode }),
    });
  } catch {
    throw new ApiError('OFFLINE', OFFLINE);
  }
  const text = await res.text();
  if (!res.ok) throw routeError(res.status, text);
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError('INTERNAL', UNREADABLE);
  }
}

/** A record read through a share link's token, as a Blob (the read is on the ledger). */
export async function linkContent(id, record, token) {
  let res;
  try {
    res = await fetch(`/api/links/${encodeURIComponent(id)}/records/${encodeURIComponent(record)}/content`, {
      credentials: 'omit',
      headers: { authorization: `Bearer ${token}` },
    });
  } catch {
    throw new ApiError('OFFLINE', OFFLINE);
  }
  if (!res.ok) throw routeError(res.status, await res.text());
  return res.blob();
}

/**
 * A patient's export (`GET /api/me/export`, with `patient` for a proxy): read as it
 * streams, `onProgress(bytesSoFar)` as it comes; resolves to the zip as a Blob and the
 * name the server gave it. The parts are held until the end: the page has no other way
 * to hand the browser a file it watched arrive.
 */
export async function exportData(patient, onProgress) {
  const url = patient ? `/api/me/export?patient=${encodeURIComponent(patient)}` : '/api/me/export';
  let res;
  try {
    res = await fetch(url, { credentials: 'same-origin' });
  } catch {
    throw new ApiError('OFFLINE', OFFLINE);
  }
  if (!res.ok) throw routeError(res.status, await res.text());
  const reader = res.body.getReader();
  const parts = [];
  let received = 0;
  for (;;) {
    let step;
    try {
      step = await reader.read();
    } catch {
      throw new ApiError('OFFLINE', 'The download was cut off. Try again.');
    }
    if (step.done) break;
    parts.push(step.value);
    received += step.value.length;
    onProgress(received);
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'medchain-export.zip';
  return { blob: new Blob(parts, { type: 'application/zip' }), name };
}

/** Replaces the signed-in user's photo (PNG or JPEG). */
export async function putPhoto(file) {
  let res;
  try {
    res = await fetch('/api/me/photo', {
      method: 'PUT',
      credentials: 'same-origin',
      headers: { 'content-type': file.type || 'application/octet-stream' },
      body: file,
    });
  } catch {
    throw new ApiError('OFFLINE', OFFLINE);
  }
  if (!res.ok) throw routeError(res.status, await res.text());
}

/**
 * A subscription that survives lost connections: `variables()` is asked on every
 * (re)connect, so a caller can resume after what it has seen (e.g. `afterSeq`).
 * `onData(data)` gets each result; `onError(ApiError)` a refusal (then it stops).
 * Returns `stop()`.
 */
export function subscribe(query, variables, onData, onError = () => {}) {
  let socket = null;
  let stopped = false;
  let delay = 500;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql/ws`;

  const connect = () => {
    if (stopped) return;
    socket = new WebSocket(url, 'graphql-transport-ws');
    socket.onopen = () => socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    socket.onmessage = (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === 'connection_ack') {
        delay = 500;
        socket.send(JSON.stringify({
          id: '1', type: 'subscribe', payload: { query, variables: variables() },
        }));
      } else if (message.type === 'ping') {
        socket.send(JSON.stringify({ type: 'pong' }));
      } else if (message.type === 'next') {
        const errors = message.payload?.errors;
        if (errors && errors.length) {
          stopped = true;
          onError(new ApiError(errors[0].extensions?.code ?? 'INTERNAL', errors[0].message));
          socket.close();
        } else {
          onData(message.payload.data);
        }
      } else if (message.type === 'error') {
        stopped = true;
        const e = Array.isArray(message.payload) ? message.payload[0] : message.payload;
        onError(new ApiError(e?.extensions?.code ?? 'INTERNAL', e?.message ?? UNREADABLE));
        socket.close();
      }
    };
    socket.onclose = (event) => {
      // 4401/4403: the session ended or is refused; anything else: try again, slower.
      if (event.code === 4401 || event.code === 4403) {
        stopped = true;
        onError(new ApiError('UNAUTHENTICATED', 'Your session has ended. Sign in again.'));
        return;
      }
      if (!stopped) {
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 15000);
      }
    };
  };
  connect();
  return () => {
    stopped = true;
    if (socket) socket.close();
  };
}
