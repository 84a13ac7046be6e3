// The dashboard's only way to drec's JSON API (README, "HTTP API").
//
// Credentials: the value of the Authorization header is kept in sessionStorage, so it
// survives a reload but not the closing of the tab, and is never a cookie (drec sets
// none): other sites cannot make the browser send it, so there is nothing to forge.

const STORAGE_KEY = 'drec.authorization';

export class Unauthorized extends Error {
  constructor() {
    super('missing or wrong credentials');
  }
}

export class ApiError extends Error {
  constructor(status, message) {
    super(`${message} (HTTP ${status})`);
    this.status = status;
  }
}

export function storedAuthorization() {
  return sessionStorage.getItem(STORAGE_KEY);
}

export function rememberAuthorization(value) {
  sessionStorage.setItem(STORAGE_KEY, value);
}

export function forgetAuthorization() {
  sessionStorage.removeItem(STORAGE_KEY);
}

export function bearerAuthorization(token) {
  return `Bearer ${token.trim()}`;
}

// btoa() takes Latin-1 only; user names and passwords may be any UTF-8.
export function basicAuthorization(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

// Path of a repository resource. Names contain '/', which drec accepts as is; each
// segment is still encoded so that '?', '#' or '%' in a name cannot change the URL.
export function repositoryPath(name, sub = '') {
  const encoded = name.split('/').map(encodeURIComponent).join('/');
  return `/api/v1/repositories/${encoded}${sub ? `/-/${sub}` : ''}`;
}

// GET a JSON resource. `params` values that are null/undefined/'' are left out.
// credentials: 'omit' keeps the browser from showing its own basic-auth dialog on a 401
// (drec's challenge offers Basic): the dashboard's sign-in form handles that instead.
export async function getJson(path, params = {}, authorization = storedAuthorization()) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(key, value);
  }
  const headers = { Accept: 'application/json' };
  if (authorization) headers.Authorization = authorization;
  const res = await fetch(url, { headers, credentials: 'omit', cache: 'no-store' });
  if (res.status === 401) throw new Unauthorized();
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body?.error ?? res.statusText);
  return body;
}
