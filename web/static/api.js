// The REST API (DESIGN §4) and its errors in words a person understands.
import { encPath, utf8Bytes, bytesToB64 } from "./util.js";

export class ApiError extends Error {
  constructor(code, message, { status = 0, path = "", index, oldest } = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.path = path;
    this.index = index;
    this.oldest = oldest;
  }
}

// human explains an error; what the server said follows as detail.
export function human(err) {
  if (!(err instanceof ApiError)) return String((err && err.message) || err);
  const p = err.path ? err.path : "the node";
  const said = err.message ? ` (server: ${err.message})` : "";
  switch (err.code) {
    case "Network": return `Cannot reach the Canopy server at ${location.host}: ${err.message}. Check that the node is running.`;
    case "NoNode": return `There is no node at ${p}: it does not exist, or was deleted by another client.`;
    case "NodeExists": return `A node already exists at ${p}.`;
    case "NotEmpty": return `${p} has children: delete it recursively to remove them too.`;
    case "NoChildrenForEphemerals": return `${p} is under an ephemeral node, and ephemeral nodes cannot have children.`;
    case "BadVersion": return `${p} was changed by someone else since you loaded it (its version no longer matches).`;
    case "BadArguments": return `The server refused the request as invalid: ${err.message}`;
    case "TooLarge": return `Too large for the server: ${err.message}`;
    case "SessionExpired": return `The session has expired or was closed; ephemeral nodes need a live session${said}.`;
    case "Unavailable": return `The cluster cannot serve this right now: it has no leader or no quorum. Try again in a moment${said}.`;
    case "OperationTimeout": return `The server did not answer in time. The change may or may not have been made; it is shown as it is once it reloads${said}.`;
    case "Throttled": return `Too many requests: the server asked this browser to slow down${said}.`;
    case "NoAuth": return `You have no permission to do that on ${p}: its ACL does not allow ${whoText()}${said}.`;
    case "AuthFailed": return `This server needs you to log in${said}.`;
    case "InvalidACL": return `The ACL is not valid: ${err.message}`;
    case "Compacted": return `The server no longer holds the events since this page last saw the tree; it was reloaded instead${said}.`;
    case "NotFound": return `This server does not know that route: ${err.message}. It may be an older Canopy.`;
    case "RuntimeInconsistency": return `Not applied, because an earlier operation of the same batch failed.`;
    default: return `The server failed (${err.code}${err.status ? ", HTTP " + err.status : ""}): ${err.message}`;
  }
}

function fromBody(body, status) {
  const e = body && body.error;
  if (e && e.code) return new ApiError(e.code, e.message || "", { status, path: e.path, index: e.index, oldest: e.oldest_zxid });
  return new ApiError("HTTP" + status, `HTTP ${status}`, { status });
}

// whoText names the caller in messages: "alice", or "anonymous callers".
let who = null;
export const setWho = (w) => { who = w; };
const whoText = () => (who && who.user ? who.user : "anonymous callers");

// onAuthFailed is called when any request answers 401 AuthFailed: the
// server requires a login (or the login cookie is no longer valid).
let authFailed = () => {};
export const onAuthFailed = (fn) => { authFailed = fn; };

const RETRY_TRIES = 5;

// retryAfterMs is a Retry-After in seconds, jittered up by a quarter so
// that a page's requests refused together do not return together; at most
// 10 s, 1 s when absent (a WebSocket frame carries none).
export function retryAfterMs(header) {
  const s = Math.min(Math.max(Number(header) || 1, 0), 10);
  return s * 1000 * (1 + Math.random() / 4);
}

export const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// request sends one REST call. query: object of name → value (true = bare
// flag, an array = the name repeated). body: string, Uint8Array or an object (sent as JSON). Answers
// {status, body, zxid, headers}; non-2xx throws ApiError.
export async function request(method, url, { query, body, headers = {} } = {}) {
  let qs = "";
  if (query) {
    const parts = [];
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === false) continue;
      if (Array.isArray(v)) for (const x of v) parts.push(`${k}=${encodeURIComponent(x)}`);
      else parts.push(v === true ? k : `${k}=${encodeURIComponent(v)}`);
    }
    if (parts.length) qs = "?" + parts.join("&");
  }
  const init = { method, headers: { ...headers } };
  if (body !== undefined) {
    if (typeof body === "string" || body instanceof Uint8Array || body instanceof Blob) init.body = body;
    else { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  }
  let res;
  for (let attempt = 1; ; attempt++) {
    try {
      res = await fetch(url + qs, init);
    } catch (e) {
      throw new ApiError("Network", e.message || "the request failed");
    }
    // Sent again once Retry-After has passed: a 429, refused before it was
    // looked at (the server's limits on this client), and a read answered
    // 503 (no leader yet, as while a node restarts), as the Go client does.
    // A write answered 503 may have happened: the caller decides.
    const again = res.status === 429 || (res.status === 503 && (method === "GET" || method === "HEAD"));
    if (!again || attempt === RETRY_TRIES) break;
    await pause(retryAfterMs(res.headers.get("Retry-After")));
  }
  const zxid = Number(res.headers.get("Canopy-Zxid") || 0);
  let parsed = null;
  if (res.status !== 204 && method !== "HEAD") {
    const text = await res.text();
    if (text) {
      try { parsed = JSON.parse(text); } catch {
        if (!res.ok) throw new ApiError("HTTP" + res.status, text.trim().slice(0, 200) || res.statusText, { status: res.status });
        parsed = text;
      }
    }
  }
  if (!res.ok) {
    const err = fromBody(parsed, res.status);
    err.body = parsed;
    err.zxid = zxid;
    if (res.status === 401 && !init.headers.Authorization) authFailed(err);
    throw err;
  }
  return { status: res.status, body: parsed, zxid, headers: res.headers };
}

const node = (route, path) => `/v1/${route}${encPath(path)}`;

export const api = {
  get: (path) => request("GET", node("nodes", path)),
  stat: (path) => request("GET", node("stat", path)),
  children: (path, { limit, after, stat = true } = {}) => request("GET", node("children", path), { query: { stat, limit, after } }),
  tree: (path, depth, limit) => request("GET", node("tree", path), { query: { depth, limit } }),
  create: (path, data, flags = {}, session) =>
    request("POST", node("nodes", path), { query: flags, body: data, headers: session ? { "Canopy-Session": session } : {} }),
  set: (path, data, version) => request("PUT", node("nodes", path), { query: { version }, body: data }),
  del: (path, { recursive, version } = {}) => request("DELETE", node("nodes", path), { query: { recursive, version } }),
  multi: (ops, session) => request("POST", "/v1/multi", { body: { ops }, headers: session ? { "Canopy-Session": session } : {} }),
  sessions: () => request("GET", "/v1/sessions"),
  newSession: (timeoutMs) => request("POST", "/v1/sessions", { body: { timeout_ms: timeoutMs } }),
  closeSession: (id) => request("DELETE", "/v1/sessions/" + encodeURIComponent(id)),
  cluster: () => request("GET", "/v1/cluster"),
  status: () => request("GET", "/v1/status"),
  rawURL: (path) => node("nodes", path) + "?raw",
  acl: (path) => request("GET", node("acl", path)),
  setACL: (path, acl, aversion) => request("PUT", node("acl", path), { query: { aversion }, body: { acl } }),
  whoami: () => request("GET", "/v1/whoami"),
  // login sends the password once, in the Basic header; the server answers
  // with an HttpOnly cookie that authenticates the page's later requests,
  // its WebSocket included. The page keeps no copy of the password.
  login: (user, password) => request("POST", "/v1/login", { headers: { Authorization: "Basic " + bytesToB64(utf8Bytes(`${user}:${password}`)) } }),
  logout: () => request("POST", "/v1/logout"),
};
