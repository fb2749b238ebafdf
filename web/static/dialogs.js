// Dialogs that change the tree: create a child (with an ACL or the
// server's default), delete (recursively, with the count from /v1/tree),
// import a subtree; the subtree export; and the login.
import { api, human } from "./api.js";
import { AclEditor, aclText } from "./acl.js";
import { h, parentOf, baseName, fmtInt, download, b64ToBytes, bytesToB64, utf8Bytes } from "./util.js";

const TREE_MAX = 100000; // /v1/tree's largest limit
const MULTI_MAX = 1000; // ops per /v1/multi (DESIGN §8)
let seq = 0;

// dialog opens a modal <dialog>; it is removed from the page when closed.
function dialog(title, ...body) {
  const id = "dlg" + ++seq;
  const err = h("div", { class: "dlgerr", role: "alert" });
  const dlg = h("dialog", { "aria-labelledby": id }, h("h2", { id }, title), ...body, err);
  dlg.err = (e) => { err.textContent = e ? human(e) : ""; };
  dlg.addEventListener("close", () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
  return dlg;
}

// confirmDialog asks a yes/no question; it answers true for yes.
export function confirmDialog(title, text, yes) {
  return new Promise((resolve) => {
    const done = (answer) => { resolve(answer); dlg.close(); };
    const ok = h("button", { type: "button", class: "danger", "data-act": "confirm", onclick: () => done(true) }, yes);
    const dlg = dialog(title, h("p", {}, text), h("div", { class: "actions" }, ok, h("button", { type: "button", onclick: () => done(false) }, "Cancel")));
    dlg.addEventListener("close", () => resolve(false)); // Escape
    ok.focus();
  });
}

const field = (label, input, hint) => h("label", { class: "field" }, h("span", {}, label), input, hint ? h("small", { class: "muted" }, hint) : "");

// countSubtree counts path and its descendants: exact unless the subtree
// exceeds what one /v1/tree answer may hold.
export async function countSubtree(path) {
  const res = await api.tree(path, 1000, TREE_MAX);
  let n = 0, more = false, eph = 0;
  const walk = (t) => { n++; if (t.truncated) more = true; if (t.stat.ephemeralOwner !== "0x0") eph++; t.children.forEach(walk); };
  walk(res.body);
  return { n, more, eph, tree: res.body, zxid: res.zxid };
}

export function createDialog(app, parent, name = "") {
  const nameIn = h("input", { name: "name", required: true, value: name, spellcheck: "false", autocomplete: "off" });
  const data = h("textarea", { name: "data", rows: "5", spellcheck: "false" });
  const kinds = [["persistent", "Persistent"], ["ephemeral", "Ephemeral (this tab's session)"], ["container", "Container"], ["ttl", "TTL"]];
  const radios = kinds.map(([v, l], i) => h("label", { class: "radio" }, h("input", { type: "radio", name: "kind", value: v, checked: i === 0 }), l));
  const seqBox = h("input", { type: "checkbox", name: "sequential" });
  const parentsBox = h("input", { type: "checkbox", name: "parents" });
  const ttl = h("input", { type: "number", name: "ttl", min: "1", value: "60000", disabled: true });
  const submit = h("button", { type: "submit", class: "primary" }, "Create");
  const ttlField = field("TTL (ms)", ttl, "A TTL node is deleted once it has no children and has not changed for this long.");
  ttlField.hidden = true;
  const aclModes = [["default", "The server's default"], ["custom", "This ACL:"]];
  const aclRadios = aclModes.map(([v, l], i) => h("label", { class: "radio" }, h("input", { type: "radio", name: "aclmode", value: v, checked: i === 0 }), l));
  const aclEditor = new AclEditor([{ scheme: "world", id: "anyone", perms: "cdrwa" }], { label: "ACL of the new node" });
  aclEditor.el.hidden = true;
  const aclSet = h("fieldset", { class: "aclset" }, h("legend", {}, "ACL"), ...aclRadios,
    h("small", { class: "muted" }, "The default is world:anyone:cdrwa, or on a server that requires a login, all permissions to the identities you are logged in with."),
    aclEditor.el);
  const form = h("form", { method: "dialog" },
    field("Name", nameIn, "With Sequential, a 10-digit counter is appended (the name may be empty). A name with “/” creates a deeper path."),
    field("Data", data),
    h("fieldset", {}, h("legend", {}, "Kind"), ...radios),
    ttlField,
    h("label", { class: "radio" }, seqBox, "Sequential"),
    h("label", { class: "radio" }, parentsBox, "Create missing parents"),
    aclSet,
    h("div", { class: "actions" }, submit, h("button", { type: "button", onclick: () => dlg.close() }, "Cancel")));
  form.addEventListener("change", () => {
    ttl.disabled = ttlField.hidden = form.kind.value !== "ttl";
    aclEditor.el.hidden = form.aclmode.value !== "custom";
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const kind = form.kind.value;
    const flags = { sequential: seqBox.checked, parents: parentsBox.checked, ephemeral: kind === "ephemeral", container: kind === "container" };
    if (kind === "ttl") flags.ttl_ms = ttl.value;
    const nm = nameIn.value;
    if (!nm && !flags.sequential) { dlg.err(new Error("A name is needed (only a sequential node may have an empty one).")); nameIn.focus(); return; }
    if (form.aclmode.value === "custom") {
      const bad = aclEditor.problem();
      if (bad) { dlg.err(new Error(bad)); return; }
      flags.acl = aclEditor.value().map(aclText);
    }
    submit.disabled = true;
    dlg.err(null);
    try {
      const session = kind === "ephemeral" ? await app.ensureSession() : undefined;
      const res = await api.create(parent === "/" ? "/" + nm : parent + "/" + nm, data.value, flags, session);
      dlg.close();
      app.toast(`Created ${res.body.path}`);
      app.go(res.body.path);
    } catch (err) {
      dlg.err(err);
      submit.disabled = false;
    }
  });
  const dlg = dialog(`New child of ${parent}`, form);
  nameIn.focus();
}

export async function deleteDialog(app, path) {
  const msg = h("p", { role: "status" }, "Counting the nodes…");
  const ok = h("button", { type: "button", class: "danger", disabled: true, "data-act": "confirm-delete" }, "Delete");
  const dlg = dialog(`Delete ${path}?`, msg, h("div", { class: "actions" }, ok, h("button", { type: "button", onclick: () => dlg.close() }, "Cancel")));
  let count;
  try { count = await countSubtree(path); } catch (err) { msg.textContent = ""; dlg.err(err); return; }
  const { n, more, eph } = count;
  const total = (more ? "at least " : "") + fmtInt(n);
  msg.textContent = n === 1
    ? `${path} has no children. Deleting it cannot be undone.`
    : `This deletes ${path} and everything below it: ${total} nodes in all (${path} and ${more ? "at least " : ""}${fmtInt(n - 1)} descendants${eph ? `, ${fmtInt(eph)} of them ephemeral` : ""}). It cannot be undone.`;
  msg.dataset.count = String(n);
  ok.textContent = n === 1 ? "Delete 1 node" : `Delete ${total} nodes`;
  ok.disabled = false;
  ok.focus();
  ok.addEventListener("click", async () => {
    ok.disabled = true;
    try {
      await api.del(path, { recursive: n > 1 });
      dlg.close();
      app.toast(n === 1 ? `Deleted ${path}` : `Deleted ${path} and its ${fmtInt(n - 1)}${more ? "+" : ""} descendants`);
      app.go(parentOf(path) || "/");
    } catch (err) {
      dlg.err(err);
      ok.disabled = false;
    }
  });
}

// exportSubtree saves path's subtree, data included, as one JSON file.
export async function exportSubtree(app, path) {
  const note = app.toast(`Exporting ${path}…`, 0);
  try {
    const { tree, more, zxid } = await countSubtree(path);
    const list = [];
    // The /zookeeper system subtree is not data (and cannot be written).
    const walk = (t) => { if (t.path !== "/zookeeper") { list.push(t); t.children.forEach(walk); } };
    walk(tree);
    const rel = (p) => (path === "/" ? (p === "/" ? "" : p) : p.slice(path.length));
    const out = new Array(list.length);
    let done = 0, next = 0;
    const get = (p) => (app.live.state === "online" ? app.live.send({ op: "getData", path: p, encoding: "base64" }) : api.get(p).then((r) => r.body));
    const worker = async () => {
      while (next < list.length) {
        const i = next++;
        const t = list[i];
        const entry = { path: rel(t.path) };
        try {
          const d = await get(t.path);
          const bytes = d.encoding === "base64" ? b64ToBytes(d.data) : utf8Bytes(d.data);
          const text = new TextDecoder("utf-8", { fatal: true });
          try { entry.data = text.decode(bytes); } catch { entry.data = bytesToB64(bytes); entry.encoding = "base64"; }
        } catch (err) {
          if (err.code !== "NoNode") throw err;
          entry.gone = true; // deleted while exporting
        }
        if (t.stat.ephemeralOwner !== "0x0") entry.ephemeral = true;
        out[i] = entry;
        if (++done % 200 === 0) note.textContent = `Exporting ${path}: ${fmtInt(done)} of ${fmtInt(list.length)} nodes…`;
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const doc = { format: "canopy-export/1", root: path, zxid, exported_at: new Date().toISOString(), nodes: out.filter((e) => !e.gone) };
    download(`canopy-${path === "/" ? "root" : baseName(path)}.json`, new Blob([JSON.stringify(doc, null, 1)], { type: "application/json" }));
    note.remove();
    app.toast(`Exported ${fmtInt(doc.nodes.length)} nodes of ${path}${more ? " — the subtree is larger than 100,000 nodes; only the first 100,000 were exported" : ""}.`);
  } catch (err) {
    note.remove();
    app.showError(err, `Exporting ${path}`);
  }
}

export function importDialog(app, target) {
  const file = h("input", { type: "file", accept: ".json,application/json", required: true });
  const dest = h("input", { value: target, spellcheck: "false" });
  const modes = [["skip", "Leave existing nodes as they are"], ["overwrite", "Overwrite their data"], ["stop", "Stop before changing anything"]];
  const radios = modes.map(([v, l], i) => h("label", { class: "radio" }, h("input", { type: "radio", name: "existing", value: v, checked: i === 0 }), l));
  const progress = h("p", { role: "status", class: "muted" });
  const submit = h("button", { type: "submit", class: "primary" }, "Import");
  const form = h("form", { method: "dialog" },
    field("Export file (JSON from Export…)", file),
    field("Import into", dest, "The exported root becomes this path; missing parents are created."),
    h("fieldset", {}, h("legend", {}, "Nodes that already exist"), ...radios),
    progress,
    h("div", { class: "actions" }, submit, h("button", { type: "button", onclick: () => dlg.close() }, "Close")));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    dlg.err(null);
    submit.disabled = true;
    try {
      const f = file.files[0];
      if (!f) throw new Error("Choose a file exported by Canopy first.");
      let doc;
      try { doc = JSON.parse(await f.text()); } catch (err) { throw new Error(`${f.name} is not JSON: ${err.message}`); }
      if (!doc || doc.format !== "canopy-export/1" || !Array.isArray(doc.nodes)) throw new Error(`${f.name} is not a Canopy export (no "format": "canopy-export/1").`);
      const to = dest.value.trim().replace(/\/+$/, "") || "/";
      const summary = await runImport(doc, to, form.existing.value, (t) => { progress.textContent = t; });
      progress.textContent = summary;
      app.toast(summary);
      app.go(to);
    } catch (err) {
      dlg.err(err);
    } finally {
      submit.disabled = false;
    }
  });
  const dlg = dialog("Import a subtree", form);
}

async function runImport(doc, to, existing, say) {
  const abs = (rel) => (rel === "" ? to : to === "/" ? rel : to + rel);
  const nodes = doc.nodes.filter((n) => !n.ephemeral);
  const skippedEph = doc.nodes.length - nodes.length;
  nodes.sort((a, b) => a.path.split("/").length - b.path.split("/").length);
  say("Reading what exists already…");
  const have = new Set();
  try {
    const { tree, more } = await countSubtree(to);
    if (more) throw new Error(`${to} already holds more than 100,000 nodes; import into an empty path instead.`);
    const walk = (t) => { have.add(t.path); t.children.forEach(walk); };
    walk(tree);
  } catch (err) {
    if (err.code !== "NoNode") throw err;
  }
  const ops = [];
  let skipped = 0, overwritten = 0;
  for (const n of nodes) {
    const p = abs(n.path);
    if (p === "/zookeeper" || p.startsWith("/zookeeper/")) { skipped++; continue; }
    const op = { path: p, data: n.data || "" };
    if (n.encoding === "base64") op.encoding = "base64";
    if (have.has(p)) {
      if (existing === "stop") throw new Error(`${p} already exists; nothing was imported. Choose another target, or skip or overwrite existing nodes.`);
      if (existing === "skip" || p === "/") { skipped++; continue; }
      overwritten++;
      ops.push({ op: "set", ...op });
    } else ops.push({ op: "create", ...op });
  }
  // The target's missing ancestors first (multi has no "parents" flag).
  if (!have.has(to) && to !== "/" && ops.length && ops[0].path === to && ops[0].op === "create") {
    const first = ops.shift();
    const body = first.encoding === "base64" ? b64ToBytes(first.data) : first.data;
    await api.create(to, body, { parents: true });
  }
  let done = to !== "/" && !have.has(to) ? 1 : 0;
  for (let i = 0; i < ops.length; i += MULTI_MAX) {
    const chunk = ops.slice(i, i + MULTI_MAX);
    try {
      await api.multi(chunk);
    } catch (err) {
      const at = err.index !== undefined && chunk[err.index] ? chunk[err.index].path : "?";
      const e = new Error(`Import stopped at ${at}: ${human(err)} ${fmtInt(done)} nodes were written before it; nothing of the failing batch of ${fmtInt(chunk.length)} was applied.`);
      throw e;
    }
    done += chunk.length;
    say(`Imported ${fmtInt(done)} of ${fmtInt(ops.length)}…`);
  }
  const extra = [skipped && `${fmtInt(skipped)} existing left alone`, overwritten && `${fmtInt(overwritten)} overwritten`, skippedEph && `${fmtInt(skippedEph)} ephemeral skipped`].filter(Boolean);
  return `Imported ${fmtInt(done)} nodes into ${to}${extra.length ? " (" + extra.join(", ") + ")" : ""}.`;
}



// loginDialog asks for a user and password and logs in with them: the
// server answers with a cookie (HttpOnly: this page never sees it) that
// authenticates every later request. It answers the new /v1/whoami, or
// null when cancelled. The password is sent once and kept nowhere.
export function loginDialog(app, { required } = {}) {
  return new Promise((resolve) => {
    const user = h("input", { name: "user", required: true, autocomplete: "username", spellcheck: "false", autocapitalize: "off" });
    const password = h("input", { name: "password", type: "password", autocomplete: "current-password" });
    const submit = h("button", { type: "submit", class: "primary", "data-act": "login" }, "Log in");
    let who = null;
    const form = h("form", { method: "dialog", class: "login" },
      h("p", { class: "muted" }, required
        ? "This server answers only callers who log in."
        : "Logging in adds your user to what the ACLs of the nodes can allow; without it you are anonymous, known by your address only."),
      field("User", user),
      field("Password", password, "There is no user list: a wrong password is not refused, it is a different identity, and the ACLs decide what it may do."),
      h("div", { class: "actions" }, submit, h("button", { type: "button", onclick: () => dlg.close() }, "Cancel")));
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!user.value) { user.focus(); return; }
      submit.disabled = true;
      dlg.err(null);
      try {
        const res = await api.login(user.value, password.value);
        password.value = "";
        who = res.body;
        dlg.close();
      } catch (err) {
        dlg.err(err);
        submit.disabled = false;
      }
    });
    const dlg = dialog(required ? "Log in to Canopy" : "Log in", form);
    dlg.classList.add("logindlg");
    dlg.addEventListener("close", () => { password.value = ""; resolve(who); });
    user.focus();
  });
}
