// Canopy's tree explorer: wires the tree, the node view, the panels and the
// one live WebSocket together, and keeps the selected path in the URL hash.
import { api, human, ApiError, onAuthFailed, setWho } from "./api.js";
import { Live } from "./live.js";
import { Tree } from "./tree.js";
import { NodeView } from "./node.js";
import { EventLog, SessionsPanel, ClusterPanel } from "./panels.js";
import { createDialog, deleteDialog, importDialog, exportSubtree, confirmDialog, loginDialog } from "./dialogs.js";
import { h, $, hashPath, fromHash, normalizePath, parentOf, baseName, join, before, debounce } from "./util.js";

const SESSION_MS = 30000;
const alerts = $("#alerts");

const app = {
  href: hashPath,
  go(path) {
    const want = hashPath(path);
    if (location.hash !== want) location.hash = want;
    else select(path);
  },
  humanError: human,
  showError(err, doing) {
    console.error(doing, err);
    const text = (doing ? doing + " failed. " : "") + human(err);
    for (const old of alerts.querySelectorAll(".alert.err")) if (old.dataset.text === text) old.remove();
    const el = h("div", { class: "alert err", role: "alert", "data-text": text, "data-code": err && err.code },
      h("span", {}, text), h("button", { type: "button", class: "x", "aria-label": "Dismiss", onclick: () => el.remove() }, "×"));
    alerts.append(el);
    while (alerts.querySelectorAll(".alert.err").length > 4) alerts.querySelector(".alert.err").remove();
    return el;
  },
  // toast shows a short notice; ms=0 keeps it until removed.
  toast(text, ms = 4000) {
    const el = h("div", { class: "alert ok", role: "status" }, text);
    alerts.append(el);
    if (ms) setTimeout(() => el.remove(), ms);
    return el;
  },
  createDialog: (parent, name) => createDialog(app, parent, name),
  deleteDialog: (path) => deleteDialog(app, path),
  importDialog: (path) => importDialog(app, path),
  exportSubtree: (path) => exportSubtree(app, path),
  showSession(id) {
    showTab("sessions");
    sessions.show(id);
  },
  // ensureSession opens this tab's session (for ephemeral nodes) and binds
  // it to the live socket, which keeps it alive while the page is open.
  async ensureSession() {
    if (live.session) return live.session.id;
    if (live.state !== "online") throw new ApiError("Network", "the live connection is down, and it is what keeps an ephemeral node's session alive");
    const res = await api.newSession(SESSION_MS);
    const s = { id: res.body.id, timeout_ms: res.body.timeout_ms };
    await live.attach(s);
    sessionStorage.setItem("canopy.session", s.id);
    paintSession();
    return s.id;
  },
  sessionGone(id, err) {
    live.session = null;
    sessionStorage.removeItem("canopy.session");
    paintSession();
    if (err) app.showError(new ApiError("SessionExpired", `session ${id} of this tab is gone (${err.code}); its ephemeral nodes were deleted`), "");
  },
  // whoName names the caller in messages: "alice" or "anonymous callers".
  whoName: () => (me && me.user ? me.user : me && me.super ? "the super user" : "anonymous callers"),
  aclChanged: (path, stat) => node.aclChanged(path, stat),
  setNodeLabel(cl) {
    const lead = cl.leader && cl.leader.id === cl.self;
    $("#node-label").textContent = `${cl.self}${lead ? " · leader" : cl.leader ? " · follower" : " · no leader"}`;
  },
};

// --- the live connection ----------------------------------------------------

const conn = $("#conn");
const live = new Live({
  onEvent(ev) {
    tree.onEvent(ev);
    node.onEvent(ev);
    log.onEvent(ev);
  },
  onState(state, detail) {
    if (state === "online" && conn.dataset.state !== "online" && live.connects > 1) {
      // Back: what failed for want of the server is retried, and the
      // notices that it was unreachable are done.
      for (const a of alerts.querySelectorAll(".alert.err[data-code=Network]")) a.remove();
      tree.retry();
      if (node.failed) node.reload();
    }
    conn.dataset.state = state;
    const label = { connecting: "Connecting…", online: "Live", offline: "Offline" }[state];
    conn.querySelector(".lbl").textContent = label;
    conn.title = state === "online" ? "Changes made by other clients show up as they happen" : detail || label;
    conn.setAttribute("aria-label", `Live updates: ${label}${detail && state !== "online" ? ", " + detail : ""}`);
    conn.querySelector(".why").textContent = state === "offline" ? detail : "";
  },
  onResync() {
    app.showError(new ApiError("Compacted", ""), "");
    tree.resync();
    node.reload();
  },
  onSessionLost: (id, err) => app.sessionGone(id, err),
});
app.live = live;

function paintSession() {
  const el = $("#session");
  const s = live.session;
  el.hidden = !s;
  if (!s) return;
  $("#session-id").textContent = s.id;
}
$("#session-show").addEventListener("click", () => live.session && app.showSession(live.session.id));
$("#session-end").addEventListener("click", async () => {
  const s = live.session;
  if (!s) return;
  const ok = await confirmDialog(`End session ${s.id}?`, "The ephemeral nodes this tab created in it will be deleted.", "End session");
  if (!ok) return;
  try {
    await api.closeSession(s.id);
    app.sessionGone(s.id, null);
    app.toast(`Closed session ${s.id}; its ephemeral nodes are deleted.`);
  } catch (err) {
    if (err.code === "SessionExpired") app.sessionGone(s.id, null);
    else app.showError(err, "Closing the session");
  }
});

// --- views ------------------------------------------------------------------

const tree = new Tree($("#tree"), { live, onSelect: (p) => app.go(p), onError: (e, d) => app.showError(e, d) });
const node = new NodeView($("#node"), app);
const log = new EventLog($("#panel-events"), app);
const sessions = new SessionsPanel($("#panel-sessions"), app);
const cluster = new ClusterPanel($("#panel-cluster"), app);
const panels = { node: null, events: log, sessions, cluster };

function showTab(name) {
  for (const t of document.querySelectorAll("#tabs [role=tab]")) {
    const on = t.dataset.tab === name;
    t.setAttribute("aria-selected", String(on));
    t.tabIndex = on ? 0 : -1;
    $("#" + t.getAttribute("aria-controls")).hidden = !on;
    if (panels[t.dataset.tab]) panels[t.dataset.tab].setActive(on);
  }
}
const tabs = [...document.querySelectorAll("#tabs [role=tab]")];
for (const t of tabs) t.addEventListener("click", () => showTab(t.dataset.tab));
$("#tabs").addEventListener("keydown", (e) => {
  const i = tabs.findIndex((t) => t.getAttribute("aria-selected") === "true");
  const j = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : null;
  if (j === null) return;
  const t = tabs[(j + tabs.length) % tabs.length];
  showTab(t.dataset.tab);
  t.focus();
});

$("#collapse").addEventListener("click", () => { for (const r of tree.childRows(tree.root)) tree.collapse(r); });

// --- selection and the URL --------------------------------------------------

async function select(path) {
  $("#pathin").value = path;
  document.title = `${path} — Canopy`;
  tree.setSelected(path);
  const tab = document.querySelector("#tabs [aria-selected=true]");
  if (tab && tab.dataset.tab !== "events") showTab("node");
  const opening = node.open(path);
  const revealing = tree.reveal(path);
  await opening;
  log.setRoot(path, node.zx);
  await revealing;
}
window.addEventListener("hashchange", () => select(fromHash(location.hash)));

// The path box: Enter opens; typing offers completions from the children
// of the parent typed so far (a prefix page, so huge parents stay fast).
const pathin = $("#pathin");
const opts = $("#pathopts");
const complete = debounce(async () => {
  const v = pathin.value;
  if (!v.startsWith("/")) return;
  const dir = v.endsWith("/") ? normalizePath(v) || "/" : parentOf(v) || "/";
  const prefix = v.endsWith("/") ? "" : baseName(v);
  try {
    const res = await api.children(dir, { limit: 50, after: prefix ? before(prefix) : undefined, stat: false });
    const names = res.body.children.filter((n) => n.startsWith(prefix));
    opts.replaceChildren(...names.map((n) => h("option", { value: join(dir, n) })));
  } catch (err) {
    opts.replaceChildren();
    if (!["NoNode", "BadArguments", "NoAuth", "AuthFailed"].includes(err.code)) app.showError(err, "Completing the path");
  }
}, 150);
pathin.addEventListener("input", complete);
$("#goto").addEventListener("submit", (e) => {
  e.preventDefault();
  const p = normalizePath(pathin.value);
  if (p) app.go(p);
});
document.addEventListener("keydown", (e) => {
  if (e.key === "/" && !e.target.closest("input, textarea, select, [contenteditable]")) { e.preventDefault(); pathin.focus(); pathin.select(); }
});

// --- who you are -------------------------------------------------------------

// me is GET /v1/whoami's answer; null until known, or on a server without it.
let me = null;
let started = false;
let asking = false; // the login dialog is open
let authRequired = false; // the server answered 401: nothing shows before a login

function paintWho() {
  const el = $("#who");
  el.hidden = !me && !authRequired;
  $("#who-super").hidden = !me || !me.super;
  if (!me) {
    $("#who-name").textContent = "not logged in";
    el.dataset.authenticated = "false";
    el.title = "This server answers only callers who log in";
    el.setAttribute("aria-label", "Not logged in");
    $("#login").textContent = "Log in";
    $("#logout").hidden = true;
    return;
  }
  const ip = (me.identities || []).find((i) => i.scheme === "ip");
  const x509 = (me.identities || []).find((i) => i.scheme === "x509");
  const name = me.user || (x509 && x509.id) || (me.super ? "super" : `anonymous${ip ? ` (${ip.id})` : ""}`);
  $("#who-name").textContent = name;
  el.dataset.authenticated = String(!!me.authenticated);
  el.title = "Identities of this browser's requests:\n" + (me.identities || []).map((i) => `${i.scheme}:${i.id}`).join("\n");
  el.setAttribute("aria-label", `Logged in as ${name}${me.super ? ", super user" : ""}`);
  $("#login").textContent = me.authenticated ? "Switch user" : "Log in";
  $("#logout").hidden = !me.authenticated;
}

// whoami answers true when the server serves this caller, false when it
// needs a login first.
async function whoami() {
  try {
    me = (await api.whoami()).body;
  } catch (err) {
    me = null;
    if (err.code === "AuthFailed") {
      authRequired = true;
      paintWho();
      live.setState("offline", "log in to connect");
      return false;
    }
    if (err.code !== "NotFound") app.showError(err, "Reading who you are");
  }
  setWho(me);
  paintWho();
  return true;
}

// login asks for a user and password. Every view, the live socket and the
// tab's session belong to the identity that opened them, so a page already
// running starts afresh as the new identity.
async function login(required) {
  if (asking) return;
  asking = true;
  try {
    if (started && node.dirty && !(await confirmDialog("Log in and reload?", "The page reloads as the new user, and your unsaved text in the editor is lost.", "Log in"))) return;
    const who = await loginDialog(app, { required });
    if (!who) return;
    await leaveSession();
    if (started) { location.reload(); return; }
    me = who;
    authRequired = false;
    setWho(me);
    paintWho();
    begin();
  } finally {
    asking = false;
  }
}

async function leaveSession() {
  const s = live.session;
  if (!s) return;
  try { await api.closeSession(s.id); } catch { /* it expires on its own */ }
  app.sessionGone(s.id, null);
}

$("#login").addEventListener("click", () => login(false));
$("#logout").addEventListener("click", async () => {
  if (node.dirty && !(await confirmDialog("Log out and reload?", "The page reloads as an anonymous caller, and your unsaved text in the editor is lost.", "Log out"))) return;
  await leaveSession();
  try { await api.logout(); } catch (err) { app.showError(err, "Logging out"); return; }
  location.reload();
});
// Any request refused for want of a login asks for one (once at a time).
onAuthFailed(() => { me = null; authRequired = true; paintWho(); login(true); });

// --- start ------------------------------------------------------------------

function begin() {
  if (started) return;
  started = true;
  const saved = sessionStorage.getItem("canopy.session");
  if (saved) { live.session = { id: saved }; paintSession(); }
  live.connect();
  tree.expand(tree.root);
  select(fromHash(location.hash));
  api.cluster().then((r) => app.setNodeLabel(r.body), (err) => app.showError(err, "Reading the cluster"));
}

showTab("node");
window.canopy = { app, live, tree, node };
whoami().then((ok) => { if (ok) begin(); else login(true); });
