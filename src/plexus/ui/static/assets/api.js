// The admin API client: the admin key from sessionStorage as a Bearer header on every call;
// a 401 forgets the key and sends the app back to its login page.

const STORAGE_KEY = "plexus.adminKey";
export const ADMIN = "/v0/admin";
export const UNAUTHORIZED = "plexus:unauthorized";

export const session = {
  get key() {
    return sessionStorage.getItem(STORAGE_KEY);
  },
  start(key) {
    sessionStorage.setItem(STORAGE_KEY, key);
  },
  end() {
    sessionStorage.removeItem(STORAGE_KEY);
  },
};

/** An error answer of the admin API: status, type, message and any `problems` by path. */
export class ApiError extends Error {
  constructor(status, error = {}) {
    super(error.message || `The admin API answered ${status}.`);
    this.status = status;
    this.type = error.type || "error";
    this.problems = Array.isArray(error.problems) ? error.problems : [];
    this.reason = error.reason || null;
  }
}

/**
 * Call the admin API. `path` is under /v0/admin; options: method, json (a body to send as
 * JSON), headers, query (an object; empty values left out), key (instead of the session's),
 * signal. Resolves to {data, response}; rejects with an ApiError for any non-2xx answer.
 */
export async function request(path, options = {}) {
  const response = await send(path, options);
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  return { data, response };
}

/** Like `request`, but resolves to the raw Response (for streams and downloads). */
export async function send(path, { method = "GET", json, headers = {}, query, key, signal } = {}) {
  const token = key ?? session.key;
  const init = { method, signal, headers: { ...headers }, cache: "no-store" };
  if (token) init.headers.authorization = `Bearer ${token}`;
  if (json !== undefined) {
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  const response = await fetch(ADMIN + path + queryString(query), init);
  if (response.ok) return response;
  const body = await response.json().catch(() => ({}));
  const detail = body.error || {};
  const error = new ApiError(response.status, { ...detail, reason: detail.reason ?? body.reason });
  if (response.status === 401 && key === undefined) {
    session.end();
    window.dispatchEvent(new CustomEvent(UNAUTHORIZED));
  }
  throw error;
}

/** `?a=1&b=2` of the non-empty entries of `query`, or "". */
export function queryString(query) {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** GET a JSON document. */
export async function get(path, query, signal) {
  return (await request(path, { query, signal })).data;
}
