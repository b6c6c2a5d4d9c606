// The fetch wrapper: the session cookie authenticates, writes carry the
// CSRF token, and every error body `{error:{code,message}}` becomes an ApiError.

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    // `duplicate` names the stored leads a new one may duplicate.
    this.candidates = details.candidates || [];
  }
}

let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token || null;
}

function csrfFromCookie() {
  const m = document.cookie.match(/(?:^|;\s*)ea_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : null;
}

function csrf() {
  return csrfToken || csrfFromCookie();
}

async function errorOf(res) {
  let code = 'http_' + res.status;
  let message = res.statusText || 'request failed';
  let details = {};
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
      details = body.error;
    }
  } catch (_) {
    /* not JSON: keep the status text */
  }
  if (res.status === 401) window.dispatchEvent(new CustomEvent('ea:unauthorized'));
  if (code === 'maintenance') window.dispatchEvent(new CustomEvent('ea:maintenance', { detail: message }));
  // The role came to require a second factor this user has not set up.
  if (code === 'second_factor_setup_required') window.dispatchEvent(new CustomEvent('ea:second-factor-setup'));
  return new ApiError(res.status, code, message, details);
}

/** Calls `/api/v1{path}`; a plain object body is sent as JSON. */
export async function api(method, path, body, opts = {}) {
  const headers = { ...(opts.headers || {}) };
  if (method !== 'GET') {
    const t = csrf();
    if (t) headers['X-CSRF-Token'] = t;
  }
  let payload;
  if (body instanceof Blob || typeof body === 'string' || body instanceof FormData) {
    payload = body;
    if (opts.contentType) headers['Content-Type'] = opts.contentType;
  } else if (body !== undefined && body !== null) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch('/api/v1' + path, {
    method,
    headers,
    body: payload,
    credentials: 'same-origin',
  });
  if (!res.ok) throw await errorOf(res);
  if (opts.raw) return res;
  if (res.status === 204) return null;
  const ct = res.headers.get('content-type') || '';
  return ct.includes('json') ? res.json() : res.text();
}

export const get = (p) => api('GET', p);
export const post = (p, b) => api('POST', p, b === undefined ? {} : b);
export const patch = (p, b) => api('PATCH', p, b);
export const put = (p, b) => api('PUT', p, b);
export const del = (p) => api('DELETE', p);

/** GET with the record's version: `{ body, etag }`. */
export async function getTagged(p) {
  const res = await api('GET', p, undefined, { raw: true });
  return { body: await res.json(), etag: res.headers.get('ETag') };
}

/** PATCH only if the record is still at `etag` (412 `precondition_failed`
 *  otherwise); resolves to `{ body, etag }` with the new version. */
export async function patchIfMatch(p, b, etag) {
  const res = await api('PATCH', p, b, { raw: true, headers: etag ? { 'If-Match': etag } : {} });
  return { body: await res.json(), etag: res.headers.get('ETag') };
}

/** Uploads with progress (fetch has no upload progress); resolves to JSON. */
export function upload(path, body, contentType, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/api/v1' + path);
    const t = csrf();
    if (t) xhr.setRequestHeader('X-CSRF-Token', t);
    if (contentType) xhr.setRequestHeader('Content-Type', contentType);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let parsed = null;
      try {
        parsed = JSON.parse(xhr.responseText);
      } catch (_) {
        /* empty or not JSON */
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(parsed);
      else {
        const e = (parsed && parsed.error) || {};
        reject(new ApiError(xhr.status, e.code || 'http_' + xhr.status, e.message || 'upload failed'));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'network error'));
    xhr.send(body);
  });
}
