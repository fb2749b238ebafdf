// Small helpers: DOM building, paths, bytes and formats. No dependencies.

// h builds an element: h("button", {class: "x", onclick: f}, "text", child...).
export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);

// Paths.
export const parentOf = (p) => (p === "/" ? null : p.slice(0, p.lastIndexOf("/")) || "/");
export const baseName = (p) => (p === "/" ? "/" : p.slice(p.lastIndexOf("/") + 1));
export const join = (parent, name) => (parent === "/" ? "/" + name : parent + "/" + name);
export const within = (p, root) => root === "/" || p === root || p.startsWith(root + "/");
// encPath percent-encodes each segment for a /v1/... URL ("/" stays "/").
export const encPath = (p) => (p === "/" ? "/" : p.split("/").map(encodeURIComponent).join("/"));
// hashPath / fromHash: the selected path in the URL (#/app/config).
export const hashPath = (p) => "#" + p.split("/").map((s) => encodeURIComponent(s).replace(/%40/g, "@").replace(/%3A/g, ":")).join("/");
export function fromHash(hash) {
  let s = hash.replace(/^#/, "");
  if (!s.startsWith("/")) return "/";
  try { s = s.split("/").map(decodeURIComponent).join("/"); } catch { /* keep it raw */ }
  return s.length > 1 ? s.replace(/\/+$/, "") : "/";
}

// normalizePath turns what a person typed into a path, or null.
export function normalizePath(s) {
  s = s.trim();
  if (!s) return null;
  if (!s.startsWith("/")) s = "/" + s;
  s = s.replace(/\/+/g, "/");
  if (s.length > 1 && s.endsWith("/")) s = s.slice(0, -1);
  return s;
}

// before returns a string that sorts just before every name starting with
// prefix (names sort bytewise; no valid name holds U+FFFF, whose UTF-8 sorts
// after every valid character's). Used as ?after= for a prefix filter.
export function before(prefix) {
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last - 1) + "\uffff";
}

// Bytes and encodings.
const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });
export const utf8Bytes = (s) => enc.encode(s);
export function utf8Text(bytes) {
  try { return dec.decode(bytes); } catch { return null; }
}
export function b64ToBytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
export function bytesToB64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

// hexdump: offset, 16 bytes in hex, and their printable ASCII.
export function hexdump(bytes, max = 65536) {
  const n = Math.min(bytes.length, max);
  const lines = [];
  for (let off = 0; off < n; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, n));
    let hex = "", asc = "";
    for (let i = 0; i < 16; i++) {
      hex += (i < row.length ? row[i].toString(16).padStart(2, "0") : "  ") + (i === 7 ? "  " : " ");
      if (i < row.length) asc += row[i] >= 32 && row[i] < 127 ? String.fromCharCode(row[i]) : ".";
    }
    lines.push(off.toString(16).padStart(8, "0") + "  " + hex + " |" + asc + "|");
  }
  if (bytes.length > n) lines.push(`… ${fmtInt(bytes.length - n)} more bytes`);
  return lines.join("\n");
}

// Numbers and times.
export const fmtInt = (n) => Number(n).toLocaleString("en-US");
export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1048576) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1048576).toFixed(2)} MiB`;
}
export function fmtTime(ms) {
  if (!ms) return "—";
  const d = new Date(ms);
  const pad = (x, w = 2) => String(x).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
export function fmtAgo(ms, now = Date.now()) {
  if (!ms) return "";
  let s = Math.round((now - ms) / 1000);
  const future = s < 0;
  s = Math.abs(s);
  const t = s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : s < 86400 ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min` : `${Math.floor(s / 86400)} days`;
  return future ? `in ${t}` : `${t} ago`;
}
export function fmtDuration(ms) {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

// highlightJSON renders pretty-printed JSON text as spans by token kind.
export function highlightJSON(text) {
  const frag = document.createDocumentFragment();
  const re = /("(?:[^"\\]|\\.)*")(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([{}[\],])/g;
  let last = 0, m;
  while ((m = re.exec(text))) {
    if (m.index > last) frag.append(text.slice(last, m.index));
    const kind = m[1] ? (m[2] ? "k" : "s") : m[3] ? "b" : m[4] ? "n" : "p";
    frag.append(h("span", { class: "j" + kind }, m[1] || m[0]));
    if (m[2]) frag.append(m[2]);
    last = re.lastIndex;
  }
  frag.append(text.slice(last));
  return frag;
}

// toYAML renders a parsed JSON value as block YAML (read-only display).
export function toYAML(v, indent = "") {
  const scalar = (x) => {
    if (x === null) return "null";
    if (typeof x === "string") {
      if (x === "" || /^[\s-?:,[\]{}#&*!|>'"%@`]|[:#]\s|\s$|\n/.test(x) || /^(true|false|null|yes|no|on|off|~|[-+.\d][\d._eE+-]*)$/i.test(x)) return JSON.stringify(x);
      return x;
    }
    return String(x);
  };
  const isObj = (x) => x !== null && typeof x === "object";
  if (!isObj(v)) return indent + scalar(v);
  const lines = [];
  if (Array.isArray(v)) {
    if (!v.length) return indent + "[]";
    for (const x of v) {
      if (isObj(x) && Object.keys(x).length) {
        const sub = toYAML(x, indent + "  ").split("\n");
        lines.push(indent + "- " + sub[0].trimStart(), ...sub.slice(1));
      } else lines.push(indent + "- " + (isObj(x) ? (Array.isArray(x) ? "[]" : "{}") : scalar(x)));
    }
  } else {
    const keys = Object.keys(v);
    if (!keys.length) return indent + "{}";
    for (const k of keys) {
      const x = v[k], key = scalar(k);
      if (isObj(x) && Object.keys(x).length) lines.push(indent + key + ":", toYAML(x, indent + "  "));
      else lines.push(indent + key + ": " + (isObj(x) ? (Array.isArray(x) ? "[]" : "{}") : scalar(x)));
    }
  }
  return lines.join("\n");
}

// lineDiff marks the lines of a and b that the other lacks (LCS on lines,
// bounded so a huge value cannot freeze the page).
export function lineDiff(a, b) {
  const A = a.split("\n"), B = b.split("\n");
  if (A.length * B.length > 4e6) return { a: A.map((t) => ({ t, d: true })), b: B.map((t) => ({ t, d: true })) };
  const n = A.length, m = B.length;
  const L = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) L[i][j] = A[i] === B[j] ? L[i + 1][j + 1] + 1 : Math.max(L[i + 1][j], L[i][j + 1]);
  const ra = [], rb = [];
  let i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && A[i] === B[j]) { ra.push({ t: A[i++], d: false }); rb.push({ t: B[j++], d: false }); }
    else if (j < m && (i >= n || L[i][j + 1] >= L[i + 1][j])) rb.push({ t: B[j++], d: true });
    else ra.push({ t: A[i++], d: true });
  }
  return { a: ra, b: rb };
}

// copyText copies to the clipboard, also where the async API is missing
// (a page served over plain http from another host is not a secure context).
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); return; } catch { /* fall back */ }
  }
  const ta = h("textarea", { "aria-hidden": "true", style: "position:fixed;top:-1000px" });
  ta.value = text;
  document.body.append(ta);
  ta.select();
  const ok = document.execCommand("copy");
  ta.remove();
  if (!ok) throw new Error("the browser did not allow copying to the clipboard");
}

// download saves a Blob under a file name.
export function download(name, blob) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export const debounce = (fn, ms) => {
  let t;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
};

// fresh decides whether an event is news for a thing whose state was read
// at o.zx (o.full: that read reflects every event of zxid o.zx) and records
// it. One zxid may carry several events for a path (a multi), so events at
// the same zxid are told apart by their content.
export function fresh(o, ev) {
  const key = `${ev.type}|${ev.child || ""}|${ev.change || ""}|${ev.stat ? ev.stat.version + ":" + ev.stat.cversion : ""}`;
  if (ev.zxid < o.zx) return false;
  if (ev.zxid === o.zx) {
    if (o.full || (o.seen && o.seen.has(key))) return false;
    (o.seen ||= new Set()).add(key);
    return true;
  }
  o.zx = ev.zxid;
  o.full = false;
  o.seen = new Set([key]);
  return true;
}

// readAt records that o's state was read at zxid (a REST answer's Canopy-Zxid).
export function readAt(o, zxid) {
  if (zxid < o.zx) return false;
  o.zx = zxid;
  o.full = true;
  o.seen = null;
  return true;
}
