// The node view: data in five renderings, the editor with version-checked
// saves and a conflict view, the full Stat, and the ACL panel.
import { api } from "./api.js";
import { AclPanel } from "./acl.js";
import {
  h, parentOf, baseName, b64ToBytes, bytesToB64, utf8Bytes, utf8Text, hexdump,
  fmtInt, fmtBytes, fmtTime, fmtAgo, highlightJSON, toYAML, lineDiff, copyText, fresh, readAt,
} from "./util.js";

const VIEWS = [["text", "Text"], ["json", "JSON"], ["yaml", "YAML"], ["hex", "Hex"], ["base64", "Base64"]];
const HIGHLIGHT_MAX = 256 * 1024;

export class NodeView {
  constructor(el, app) {
    this.el = el;
    this.app = app;
    this.live = app.live;
    this.path = null;
    this.view = "text";
    this.build();
    setInterval(() => { if (this.stat && !document.hidden) this.renderStat(); }, 15000);
  }

  build() {
    const btn = (label, onclick, attrs = {}) => h("button", { type: "button", onclick, ...attrs }, label);
    this.crumbs = h("h2", { class: "crumbs", id: "node-title" });
    this.badges = h("span", { class: "badges" });
    this.dl = h("a", { class: "button", role: "button", download: "" }, "Download");
    this.actions = {
      copy: btn("Copy path", () => this.copyPath(), { title: "Copy the path to the clipboard" }),
      create: btn("New child…", () => this.app.createDialog(this.path), { "data-act": "create" }),
      del: btn("Delete…", () => this.app.deleteDialog(this.path), { class: "danger", "data-act": "delete" }),
      exp: btn("Export…", () => this.app.exportSubtree(this.path), { title: "Save this subtree, data included, as a JSON file", "data-act": "export" }),
      imp: btn("Import…", () => this.app.importDialog(this.path), { title: "Create nodes here from an exported JSON file", "data-act": "import" }),
    };
    const toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": "Node actions" },
      this.actions.copy, this.dl, this.actions.create, this.actions.del, this.actions.exp, this.actions.imp);
    this.banners = h("div", { class: "banners" });
    this.conflictEl = h("section", { class: "conflict", hidden: true, "aria-labelledby": "conflict-h" });

    this.tabs = VIEWS.map(([v, label]) => h("button", { type: "button", role: "tab", "data-view": v, "aria-selected": "false", onclick: () => this.setView(v) }, label));
    const tablist = h("div", { role: "tablist", "aria-label": "Show the data as", class: "views" }, this.tabs);
    tablist.addEventListener("keydown", (e) => {
      const i = VIEWS.findIndex(([v]) => v === this.view);
      const j = e.key === "ArrowRight" ? i + 1 : e.key === "ArrowLeft" ? i - 1 : null;
      if (j === null) return;
      const v = VIEWS[(j + VIEWS.length) % VIEWS.length][0];
      this.setView(v);
      this.tabs.find((t) => t.dataset.view === v).focus();
    });
    this.size = h("span", { class: "muted size" });
    this.editor = h("textarea", { id: "editor", class: "editor", spellcheck: "false", "aria-label": "Node data", rows: "12" });
    this.editor.addEventListener("input", () => this.edited());
    this.editor.addEventListener("keydown", (e) => { if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); this.save(); } });
    this.editNote = h("p", { class: "muted small" });
    this.rendered = h("pre", { class: "rendered", tabindex: "0", "aria-label": "Node data, rendered" });
    this.saveBtn = h("button", { type: "button", class: "primary", onclick: () => this.save(), "data-act": "save" }, "Save");
    this.revertBtn = h("button", { type: "button", onclick: () => this.revert() }, "Revert");
    this.editStatus = h("span", { class: "muted", role: "status" });
    this.editbar = h("div", { class: "editbar" }, this.saveBtn, this.revertBtn, this.editStatus);
    this.dataSec = h("section", { class: "data", "aria-labelledby": "data-h" },
      h("div", { class: "sechead" }, h("h3", { id: "data-h" }, "Data"), tablist, this.size),
      h("div", { role: "tabpanel", "aria-labelledby": "data-h" }, this.editNote, this.editor, this.rendered, this.editbar));
    this.statTable = h("table", { class: "stat", "aria-labelledby": "stat-h" });
    const statSec = h("section", { "aria-labelledby": "stat-h" }, h("h3", { id: "stat-h" }, "Stat"), this.statTable);
    const aclSec = h("section", { "aria-labelledby": "acl-h", class: "acl" });
    this.acl = new AclPanel(aclSec, this.app);
    // Shown in place of the data when the ACL gives this caller no READ.
    this.deniedEl = h("p", { class: "denied", role: "status", hidden: true });
    this.dataSec.append(this.deniedEl);
    this.missing = h("div", { class: "missing", hidden: true });
    this.body = h("div", { class: "nodebody" }, this.dataSec, aclSec, statSec);
    this.el.append(h("div", { class: "nodehead" }, this.crumbs, this.badges), toolbar, this.banners, this.conflictEl, this.missing, this.body);
    this.setView("text", false);
  }

  // --- loading ------------------------------------------------------------

  async open(path) {
    if (path === this.path) return;
    if (this.watched) this.live.unwatch(this.watched, "persistent");
    this.watched = null;
    Object.assign(this, { path, stat: null, bytes: null, text: null, dirty: false, deleted: false, denied: false, theirs: null, exists: null, zx: 0, full: true, seen: null, saving: false, held: [] });
    this.conflictEl.hidden = true;
    this.editor.value = "";
    this.renderHead();
    this.banners.replaceChildren();
    this.editStatus.textContent = "Loading…";
    await Promise.all([this.load(), this.acl.open(path)]);
    // Watch from the state just read: nothing between read and watch is lost.
    if (this.path === path) {
      this.live.watch(path, "persistent", this.zx || undefined);
      this.watched = path;
    }
  }

  async load() {
    const path = this.path;
    let res;
    try {
      res = await api.get(path);
    } catch (err) {
      if (path !== this.path) return;
      if (err.code === "NoNode") { this.exists = false; this.stat = null; readAt(this, err.zxid || 0); this.render(); return; }
      if (err.code === "NoAuth") { await this.loadDenied(path, err); return; }
      this.editStatus.textContent = "";
      this.failed = true;
      this.app.showError(err, `Opening ${path}`);
      return;
    }
    if (path !== this.path) return;
    this.failed = false;
    readAt(this, res.zxid);
    this.exists = true;
    this.deleted = false;
    this.denied = false;
    this.stat = res.body.stat;
    this.bytes = res.body.encoding === "base64" ? b64ToBytes(res.body.data) : utf8Bytes(res.body.data);
    this.text = res.body.encoding === "utf8" ? res.body.data : utf8Text(this.bytes);
    this.loaded = this.stat.version;
    this.dirty = false;
    this.theirs = null;
    this.editor.value = this.editText();
    this.fitEditor();
    this.render();
  }

  // loadDenied shows a node whose data this caller may not read: its Stat
  // (exists checks no permission, as in ZooKeeper) and a note in place of
  // the data, not an error.
  async loadDenied(path, err) {
    this.failed = false;
    this.denied = true;
    this.bytes = this.text = null;
    this.dirty = false;
    this.editor.value = "";
    readAt(this, err.zxid || 0);
    try {
      const st = await api.stat(path);
      if (path !== this.path) return;
      this.stat = st.body.stat;
      this.exists = true;
    } catch (e) {
      if (path !== this.path) return;
      if (e.code === "NoNode") { this.exists = false; this.stat = null; }
    }
    this.render();
  }

  // fitEditor sizes the editor to its text, within bounds (CSS caps it).
  fitEditor() {
    const lines = this.editor.value.split("\n").length;
    this.editor.rows = Math.min(Math.max(lines + 1, 5), 30);
  }

  editText() {
    return this.text !== null ? this.text : bytesToB64(this.bytes);
  }

  // editorBytes is what Save writes: the text as UTF-8, or decoded base64
  // when the data is binary.
  editorBytes() {
    if (this.text !== null || !this.bytes) return utf8Bytes(this.editor.value);
    try { return b64ToBytes(this.editor.value.replace(/\s+/g, "")); } catch { throw new Error("The editor does not hold valid base64, so the binary data cannot be saved."); }
  }

  // --- rendering ----------------------------------------------------------

  render() {
    this.renderHead();
    this.missing.hidden = this.exists !== false;
    this.body.hidden = this.exists === false;
    if (this.exists === false) {
      this.missing.replaceChildren(
        h("p", { role: "status" }, `There is no node at ${this.path}. This view will show it if someone creates it.`),
        this.path !== "/" && parentOf(this.path) ? h("button", { type: "button", onclick: () => this.app.createDialog(parentOf(this.path), baseName(this.path)) }, "Create it…") : "");
      this.editStatus.textContent = "";
      return;
    }
    this.renderBanners();
    this.renderData();
    this.renderStat();
    this.renderEditbar();
  }

  renderHead() {
    const p = this.path || "/";
    const segs = p === "/" ? [] : p.slice(1).split("/");
    const parts = [h("a", { href: "#/", "aria-label": "root" }, "/")];
    let acc = "";
    segs.forEach((s, i) => {
      acc += "/" + s;
      if (i) parts.push(h("span", { class: "sep", "aria-hidden": "true" }, "/"));
      parts.push(i === segs.length - 1 ? h("span", { "aria-current": "page" }, s) : h("a", { href: this.app.href(acc) }, s));
    });
    this.crumbs.replaceChildren(...parts);
    const b = [];
    const eph = this.stat && this.stat.ephemeralOwner !== "0x0";
    if (eph) b.push(h("span", { class: "tag eph" }, "ephemeral"));
    if (this.deleted) b.push(h("span", { class: "tag del" }, "deleted"));
    if (this.dirty) b.push(h("span", { class: "tag dirty" }, "unsaved"));
    this.badges.replaceChildren(...b);
    this.dl.href = api.rawURL(p);
    this.dl.download = p === "/" ? "root" : baseName(p);
    this.dl.setAttribute("aria-label", `Download the data of ${p}`);
    const gone = this.exists === false || this.deleted;
    this.actions.del.disabled = p === "/" || p.startsWith("/zookeeper") || gone;
    this.actions.create.disabled = gone || eph || p.startsWith("/zookeeper");
    this.actions.exp.disabled = gone || this.denied;
    this.dl.toggleAttribute("aria-disabled", gone || this.denied);
    this.actions.imp.disabled = p.startsWith("/zookeeper");
  }

  renderBanners() {
    const items = [];
    if (this.deleted) {
      items.push(h("div", { class: "banner warn", role: "alert", "data-banner": "deleted" },
        h("strong", {}, "Deleted. "), `Another client deleted ${this.path}. `,
        this.dirty ? "Your unsaved text is kept in the editor; " : "Its last data is kept below; ",
        "Save re-creates the node with it. ",
        h("button", { type: "button", onclick: () => this.app.go(parentOf(this.path) || "/") }, "Go to parent")));
    } else if (this.theirs) {
      items.push(h("div", { class: "banner info", role: "status", "data-banner": "changed" },
        h("strong", {}, "Changed elsewhere. "),
        `Another client changed this node: it is now version ${this.theirs.version}, you are editing version ${this.loaded}. Saving will show both versions instead of overwriting. `,
        h("button", { type: "button", onclick: () => this.load() }, "Discard mine, load theirs")));
    }
    this.banners.replaceChildren(...items);
  }

  setView(v, render = true) {
    this.view = v;
    for (const t of this.tabs) {
      const on = t.dataset.view === v;
      t.setAttribute("aria-selected", String(on));
      t.tabIndex = on ? 0 : -1;
    }
    if (render) this.renderData();
  }

  renderData() {
    const v = this.view;
    const panel = this.editor.parentElement;
    panel.hidden = this.denied;
    this.deniedEl.hidden = !this.denied;
    if (this.denied) {
      this.size.textContent = this.stat ? fmtBytes(this.stat.dataLength) : "";
      this.deniedEl.textContent = `No permission to read the data of ${this.path}: its ACL does not give ${this.app.whoName()} READ. The Stat below is shown because it needs no permission.`;
      return;
    }
    const bytes = this.bytes || new Uint8Array();
    this.size.textContent = this.stat ? fmtBytes(this.stat.dataLength) + (this.text === null && this.bytes ? " · binary" : "") : "";
    this.editor.hidden = v !== "text";
    this.editbar.hidden = v !== "text";
    this.rendered.hidden = v === "text";
    this.editNote.hidden = true;
    if (v === "text") {
      if (this.text === null && this.bytes) {
        this.editNote.hidden = false;
        this.editNote.textContent = "The data is not valid UTF-8 text, so it is edited here as base64 (see Hex for the bytes).";
      }
      return;
    }
    const src = this.dirty ? this.editor.value : this.text;
    let out;
    if (v === "hex") out = hexdump(this.dirty ? this.editorBytesSafe() : bytes);
    else if (v === "base64") out = bytesToB64(this.dirty ? this.editorBytesSafe() : bytes).replace(/(.{76})/g, "$1\n");
    else if (src === null) out = "The data is binary (not UTF-8 text), so it cannot be read as JSON or YAML.";
    else if (src.trim() === "") out = "(empty)";
    else {
      let val;
      try { val = JSON.parse(src); } catch (e) { out = `Not valid JSON: ${e.message}`; }
      if (out === undefined) {
        if (v === "json") {
          const pretty = JSON.stringify(val, null, 2);
          if (pretty.length <= HIGHLIGHT_MAX) { this.rendered.replaceChildren(highlightJSON(pretty)); return; }
          out = pretty;
        } else out = toYAML(val);
      }
    }
    this.rendered.textContent = out;
  }

  editorBytesSafe() {
    try { return this.editorBytes(); } catch { return new Uint8Array(); }
  }

  renderStat() {
    const s = this.stat;
    if (!s) { this.statTable.replaceChildren(); return; }
    const row = (name, value, note) => h("tr", {}, h("th", { scope: "row" }, name), h("td", {}, value), h("td", { class: "muted" }, note || ""));
    const zx = (z) => (z ? "" : "before any change (initial tree)");
    const owner = s.ephemeralOwner !== "0x0"
      ? h("a", { href: "#", "data-session": s.ephemeralOwner, onclick: (e) => { e.preventDefault(); this.app.showSession(s.ephemeralOwner); } }, s.ephemeralOwner)
      : "0x0";
    this.statTable.replaceChildren(
      row("czxid", String(s.czxid), zx(s.czxid) || "transaction that created it"),
      row("mzxid", String(s.mzxid), zx(s.mzxid) || "transaction that last changed its data"),
      row("pzxid", String(s.pzxid), zx(s.pzxid) || "transaction that last added or removed a child"),
      row("ctime", fmtTime(s.ctime), s.ctime ? `created ${fmtAgo(s.ctime)}` : "part of the initial tree"),
      row("mtime", fmtTime(s.mtime), s.mtime ? `data changed ${fmtAgo(s.mtime)}` : ""),
      row("version", String(s.version), "changes to the data"),
      row("cversion", String(s.cversion), "changes to the children"),
      row("aversion", String(s.aversion), "changes to the ACL"),
      row("ephemeralOwner", owner, s.ephemeralOwner !== "0x0" ? "ephemeral: deleted when this session ends" : "persistent (no owner)"),
      row("dataLength", fmtInt(s.dataLength), fmtBytes(s.dataLength)),
      row("numChildren", fmtInt(s.numChildren), ""));
  }

  renderEditbar() {
    this.saveBtn.textContent = this.deleted ? "Re-create" : "Save";
    this.saveBtn.disabled = this.saving || (!this.dirty && !this.deleted) || !this.stat;
    this.revertBtn.disabled = !this.dirty || this.saving;
    if (this.denied) this.editStatus.textContent = "";
    else if (this.saving) this.editStatus.textContent = "Saving…";
    else if (this.stat) this.editStatus.textContent = this.deleted ? "The node is gone." : `${this.dirty ? "Unsaved changes · " : ""}version ${this.loaded}`;
  }

  // --- editing ------------------------------------------------------------

  edited() {
    const was = this.dirty;
    this.dirty = this.editor.value !== this.editText();
    if (was !== this.dirty) { this.renderHead(); this.renderEditbar(); }
  }

  revert() {
    this.editor.value = this.editText();
    this.dirty = false;
    if (this.theirs) { this.load(); return; }
    this.render();
  }

  async save() {
    if (this.saving || !this.stat || (!this.dirty && !this.deleted)) return;
    let body;
    try { body = this.editorBytes(); } catch (err) { this.app.showError(err, "Saving"); return; }
    const path = this.path;
    this.saving = true;
    this.renderEditbar();
    try {
      const res = this.deleted ? await api.create(path, body) : await api.set(path, body, this.loaded);
      if (path !== this.path) return;
      readAt(this, res.zxid);
      this.stat = res.body.stat;
      this.loaded = this.stat.version;
      this.bytes = body;
      this.text = utf8Text(body);
      this.editor.value = this.editText();
      this.dirty = this.deleted = false;
      this.theirs = null;
      this.conflictEl.hidden = true;
      this.app.toast(`Saved ${path} (version ${this.loaded}).`);
    } catch (err) {
      if (path !== this.path) return;
      if (err.code === "BadVersion") await this.showConflict(body);
      else if (err.code === "NoNode") { this.deleted = true; this.app.showError(err, "Saving"); }
      else this.app.showError(err, "Saving");
    } finally {
      this.saving = false;
      if (path === this.path) {
        this.render();
        const held = this.held;
        this.held = [];
        for (const ev of held) this.onEvent(ev);
      }
    }
  }

  async showConflict(mine) {
    let cur;
    try { cur = await api.get(this.path); } catch (err) {
      if (err.code === "NoNode") { this.deleted = true; this.render(); return; }
      this.app.showError(err, "Reading the current data");
      return;
    }
    const theirsBytes = cur.body.encoding === "base64" ? b64ToBytes(cur.body.data) : utf8Bytes(cur.body.data);
    const theirsText = utf8Text(theirsBytes), mineText = utf8Text(mine);
    const st = cur.body.stat;
    const show = (t, b) => (t !== null ? t : bytesToB64(b));
    const d = lineDiff(show(theirsText, theirsBytes), show(mineText, mine));
    const pane = (id, title, lines) => h("div", { class: "pane" }, h("h4", { id }, title),
      h("pre", { "aria-labelledby": id, tabindex: "0", "data-side": id }, lines.map((l) => h("span", { class: l.d ? "chg" : "" }, l.t + "\n"))));
    const btn = (label, fn, cls) => h("button", { type: "button", class: cls, onclick: fn }, label);
    this.conflictEl.replaceChildren(
      h("h3", { id: "conflict-h" }, "Conflict: not saved"),
      h("p", { role: "alert" }, `Someone else changed ${this.path} after you loaded version ${this.loaded}: it is now version ${st.version} (${fmtTime(st.mtime)}, ${fmtAgo(st.mtime)}). Your change was not written. Lines that differ are marked.`),
      h("div", { class: "panes" }, pane("theirs", `Theirs — version ${st.version}`, d.a), pane("yours", "Yours — unsaved", d.b)),
      h("div", { class: "actions" },
        btn(`Overwrite with mine (save over version ${st.version})`, () => { this.loaded = st.version; this.conflictEl.hidden = true; this.save(); }, "danger"),
        btn("Discard mine, keep theirs", () => { this.conflictEl.hidden = true; this.load(); }),
        btn("Keep editing mine", () => {
          this.loaded = st.version; this.theirs = null; this.stat = st; readAt(this, cur.zxid);
          this.bytes = theirsBytes; this.text = theirsText; this.conflictEl.hidden = true; this.edited(); this.render(); this.editor.focus();
        })));
    this.conflictEl.hidden = false;
    this.conflictEl.scrollIntoView({ block: "nearest" });
  }

  async copyPath() {
    try { await copyText(this.path); this.app.toast(`Copied ${this.path}`); } catch (err) { this.app.showError(err, "Copying the path"); }
  }

  // --- live ---------------------------------------------------------------

  onEvent(ev) {
    if (ev.path !== this.path) return;
    if (this.saving) { this.held.push(ev); return; }
    if (!fresh(this, ev)) return;
    switch (ev.type) {
      case "NodeDataChanged":
        if (this.dirty) { this.theirs = ev.stat; this.stat = ev.stat; this.render(); }
        else this.load();
        break;
      case "NodeCreated":
        this.acl.refresh();
        if (this.exists === false || !this.dirty) this.load();
        else { this.deleted = false; this.theirs = ev.stat; this.stat = ev.stat; this.render(); }
        break;
      case "NodeDeleted":
        this.acl.refresh();
        this.deleted = true;
        this.theirs = null;
        this.conflictEl.hidden = true;
        this.render();
        break;
      case "NodeChildrenChanged":
        if (this.stat) { this.stat.numChildren = Math.max(0, this.stat.numChildren + (ev.change === "added" ? 1 : -1)); this.renderStat(); }
        break;
    }
  }

  // reload re-reads the node after events may have been lost.
  reload() {
    if (this.path && !this.dirty) this.load();
    if (this.path) this.acl.refresh();
  }

  // aclChanged follows an ACL saved from this page: its aversion is in the Stat.
  aclChanged(path, stat) {
    if (path !== this.path || !this.stat) return;
    this.stat = { ...this.stat, aversion: stat.aversion };
    this.renderStat();
  }
}
