// A node's ACL (DESIGN §9): the panel of the node view that shows it and
// saves changes with the aversion it was read at, and the row editor it
// shares with the create dialog.
import { api } from "./api.js";
import { h } from "./util.js";

export const SCHEMES = ["world", "auth", "digest", "ip", "x509"];
const PERMS = [["c", "create"], ["d", "delete"], ["r", "read"], ["w", "write"], ["a", "admin"]];
const ID_HINT = {
  world: "anyone",
  auth: "(empty: whoever is logged in when it is set)",
  digest: "user:base64(sha1(user:password))",
  ip: "10.0.0.0/8 or 127.0.0.1",
  x509: "CN=client,O=Example",
};
let seq = 0;

// aclText is zkCli's form of an entry, scheme:id:perms.
export const aclText = (a) => `${a.scheme}:${a.id}:${a.perms}`;

// AclEditor is one row per entry: scheme, id and a checkbox per permission.
export class AclEditor {
  constructor(entries, { label = "ACL" } = {}) {
    this.label = label;
    this.rows = [];
    this.body = h("tbody");
    this.addBtn = h("button", { type: "button", class: "small", "data-act": "acl-add", onclick: () => this.add({ scheme: "world", id: "anyone", perms: "r" }, true) }, "Add entry");
    this.el = h("div", { class: "acledit" },
      h("table", { class: "grid aclgrid", "aria-label": label },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Scheme"), h("th", { scope: "col" }, "Id"),
          ...PERMS.map(([l, name]) => h("th", { scope: "col", class: "perm", title: name }, l)), h("th", { scope: "col" }, h("span", { class: "sr" }, "Remove")))),
        this.body),
      this.addBtn);
    for (const e of entries) this.add(e);
  }

  add(e, focus) {
    const n = ++seq;
    const scheme = h("select", { "aria-label": `Scheme of entry ${n}`, "data-field": "scheme" },
      ...[...new Set([...SCHEMES, e.scheme])].map((s) => h("option", { value: s, selected: s === e.scheme }, s)));
    const id = h("input", { value: e.id, spellcheck: "false", autocomplete: "off", "aria-label": `Id of entry ${n}`, "data-field": "id", class: "mono" });
    const boxes = PERMS.map(([l, name]) => h("input", { type: "checkbox", "data-perm": l, checked: e.perms.includes(l), "aria-label": `${name} (${l}) for entry ${n}`, title: name }));
    const hint = () => { id.placeholder = ID_HINT[scheme.value] || ""; };
    scheme.addEventListener("change", () => {
      if (scheme.value === "world") id.value = "anyone";
      else if (id.value === "anyone") id.value = "";
      hint();
    });
    hint();
    const tr = h("tr", { "data-entry": String(n) },
      h("td", {}, scheme), h("td", {}, id), ...boxes.map((b) => h("td", { class: "perm" }, b)),
      h("td", {}, h("button", { type: "button", class: "small danger", "data-act": "acl-remove", "aria-label": `Remove entry ${n}`, onclick: () => this.remove(r) }, "Remove")));
    const r = { tr, scheme, id, boxes };
    this.rows.push(r);
    this.body.append(tr);
    if (focus) scheme.focus();
  }

  remove(r) {
    this.rows = this.rows.filter((x) => x !== r);
    r.tr.remove();
    this.addBtn.focus();
  }

  // value is the entries as the REST API takes them.
  value() {
    return this.rows.map((r) => ({
      scheme: r.scheme.value,
      id: r.id.value.trim(),
      perms: r.boxes.filter((b) => b.checked).map((b) => b.dataset.perm).join(""),
    }));
  }

  // problem names what the server would refuse, before asking it.
  problem() {
    const v = this.value();
    if (!v.length) return "An ACL needs at least one entry.";
    const i = v.findIndex((e) => !e.perms);
    if (i >= 0) return `Entry ${i + 1} (${e2s(v[i])}) has no permission checked.`;
    const j = v.findIndex((e) => e.scheme !== "auth" && !e.id);
    if (j >= 0) return `Entry ${j + 1} needs an id for the ${v[j].scheme} scheme (${ID_HINT[v[j].scheme] || "scheme-specific"}).`;
    return "";
  }
}
const e2s = (e) => `${e.scheme}:${e.id}`;

// AclPanel shows the selected node's ACL, read-only until Edit; Save sends
// the aversion it was read at, so a change made elsewhere meanwhile is
// shown as a conflict instead of being overwritten.
export class AclPanel {
  constructor(el, app) {
    Object.assign(this, { el, app, path: null, res: null, editor: null, seq: 0 });
    this.meta = h("span", { class: "muted small", "data-acl": "aversion" });
    this.editBtn = h("button", { type: "button", class: "small", "data-act": "acl-edit", onclick: () => this.edit() }, "Edit");
    this.body = h("div", { class: "aclbody" });
    this.msg = h("div", { class: "aclmsg", role: "status" });
    el.append(h("div", { class: "sechead" }, h("h3", { id: "acl-h" }, "ACL"), this.meta, this.editBtn), this.msg, this.body);
  }

  async open(path) {
    this.path = path;
    this.res = null;
    this.editor = null;
    this.body.replaceChildren();
    this.say("");
    this.meta.textContent = "";
    this.editBtn.hidden = true;
    await this.load();
  }

  // refresh reads the ACL again unless it is being edited.
  refresh() {
    if (this.path && !this.editor) this.load();
  }

  // load reads the ACL; a newer open or load wins over an older answer.
  async load() {
    const path = this.path, n = ++this.seq;
    this.el.dataset.state = "loading";
    let res;
    try {
      res = await api.acl(path);
    } catch (err) {
      if (n !== this.seq) return;
      this.res = null;
      this.editor = null;
      this.body.replaceChildren();
      this.meta.textContent = "";
      this.editBtn.hidden = true;
      this.el.dataset.state = err.code;
      if (err.code === "NoAuth") this.say("You have no permission to read this ACL: reading it needs READ or ADMIN on the node.", "denied");
      else if (err.code === "NotFound") this.say("This server does not serve ACLs: it is an older Canopy.");
      else if (err.code === "NoNode") this.say("");
      else this.say(this.app.humanError(err), "err");
      return;
    }
    if (n !== this.seq) return;
    this.res = res.body;
    this.editor = null;
    this.el.dataset.state = "ok";
    this.say("");
    this.render();
  }

  say(text, cls = "") {
    this.msg.className = "aclmsg" + (cls ? " " + cls : "");
    this.msg.replaceChildren(...[text].flat());
  }

  render() {
    const r = this.res;
    this.meta.textContent = `aversion ${r.stat.aversion}`;
    this.editBtn.hidden = !!this.editor;
    if (this.editor) return;
    const masked = r.acl.some((a) => a.scheme === "digest" && /:x$/.test(a.id));
    this.body.replaceChildren(
      h("table", { class: "grid acltable", "aria-label": `ACL of ${r.path}` },
        h("thead", {}, h("tr", {}, ["Scheme", "Id", "Perms"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, r.acl.map((a) => h("tr", { "data-acl-entry": aclText(a) },
          h("td", {}, a.scheme), h("td", { class: "mono" }, a.id), h("td", { class: "mono perms" }, permsCell(a.perms)))))),
      masked ? h("p", { class: "muted small" }, "Digests are shown as user:x: reading them in full needs ADMIN on the node.") : "");
  }

  edit() {
    if (!this.res) return;
    this.editor = new AclEditor(this.res.acl, { label: `ACL of ${this.res.path}, editable` });
    this.editor.base = this.res.stat.aversion;
    const save = h("button", { type: "button", class: "primary", "data-act": "acl-save", onclick: () => this.save() }, "Save ACL");
    const cancel = h("button", { type: "button", "data-act": "acl-cancel", onclick: () => { this.editor = null; this.say(""); this.render(); } }, "Cancel");
    this.saveBtn = save;
    this.body.replaceChildren(this.editor.el,
      h("p", { class: "muted small" }, "Permissions: c create children, d delete children, r read data and children, w write data, a change this ACL. Digest ids are user:base64(sha1(user:password))."),
      h("div", { class: "editbar" }, save, cancel));
    this.editBtn.hidden = true;
    this.say("");
    this.editor.rows[0]?.scheme.focus();
  }

  async save(aversion = this.editor.base) {
    const ed = this.editor;
    if (!ed) return;
    const bad = ed.problem();
    if (bad) { this.say(bad, "err"); return; }
    const path = this.path;
    this.saveBtn.disabled = true;
    this.say("Saving…");
    let res;
    try {
      res = await api.setACL(path, ed.value(), aversion);
    } catch (err) {
      if (path !== this.path || ed !== this.editor) return;
      this.saveBtn.disabled = false;
      this.failed(err);
      return;
    }
    if (path !== this.path) return;
    this.res = res.body;
    this.editor = null;
    this.el.dataset.state = "ok";
    this.say("");
    this.render();
    this.app.aclChanged(path, res.body.stat);
    this.app.toast(`Saved the ACL of ${path} (aversion ${res.body.stat.aversion})`);
  }

  failed(err) {
    const ed = this.editor;
    this.el.dataset.error = err.code;
    if (err.code === "NoAuth") {
      this.say("You have no permission to change this ACL: that needs ADMIN on the node.", "err");
    } else if (err.code === "InvalidACL") {
      this.say(`The server refused this ACL as invalid: ${err.message}`, "err");
    } else if (err.code === "BadVersion") {
      this.conflict(ed);
    } else {
      this.say(this.app.humanError(err), "err");
    }
  }

  // conflict shows the ACL someone else saved meanwhile next to the edits.
  async conflict(ed) {
    let cur = null;
    try { cur = (await api.acl(this.path)).body; } catch { /* shown without theirs */ }
    if (ed !== this.editor) return;
    const theirs = cur ? h("ul", { class: "plain mono" }, cur.acl.map((a) => h("li", {}, aclText(a)))) : "";
    this.say([
      h("strong", {}, "Changed elsewhere. "),
      `Someone else changed the ACL of ${this.path} since you loaded it (you edited aversion ${ed.base}${cur ? `, it is now ${cur.stat.aversion}` : ""}). It is now:`,
      theirs,
      h("div", { class: "actions" },
        h("button", { type: "button", "data-act": "acl-reload", onclick: () => this.load() }, "Discard mine, reload theirs"),
        cur ? h("button", { type: "button", class: "danger", "data-act": "acl-overwrite", onclick: () => { ed.base = cur.stat.aversion; this.save(); } }, `Save mine over aversion ${cur.stat.aversion}`) : ""),
    ], "conflict");
    this.el.dataset.state = "conflict";
  }
}

const permsCell = (p) => PERMS.map(([l, name]) => h("span", { class: p.includes(l) ? "on" : "off", title: `${name}: ${p.includes(l) ? "yes" : "no"}` }, p.includes(l) ? l : "-"));
