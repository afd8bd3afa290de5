// Same-origin JSON calls to the Madoguchi server. Every POST carries the CSRF double-submit header.

export function readCookie(name, cookie = globalThis.document ? document.cookie : '') {
  for (const part of cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

export class ApiError extends Error {
  constructor(status, problem) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
}

let sessionToken = '';
export function setCsrf(token) { sessionToken = token || ''; }
export function csrf() { return readCookie('madoguchi_csrf') || sessionToken; }

export async function api(path, { method = 'GET', body, headers = {} } = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (method !== 'GET') h['X-CSRF-Token'] = csrf();
  if (body !== undefined && !(body instanceof Blob)) h['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, credentials: 'same-origin', headers: h, body: body === undefined || body instanceof Blob ? body : JSON.stringify(body) });
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, data);
  return data;
}
