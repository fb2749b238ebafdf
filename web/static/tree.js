// The tree: lazily loaded pages of children with counts, a prefix filter for
// huge child lists, live updates from one persistent watch per shown node,
// and the WAI-ARIA tree keyboard model.
import { api } from "./api.js";
import { h, join, baseName, before, fmtInt, debounce, fresh, readAt } from "./util.js";

export const PAGE = 250; // children per page
const FILTER_AT = 20; // offer the filter box from this many children
const GONE_MS = 4000; // a deleted row stays visible, marked, this long

const blankStat = () => ({ numChildren: 0, ephemeralOwner: "0x0", dataLength: 0, version: 0 });

export class Tree {
  // readable(path) answers (maybe as a promise) whether the caller may
  // read path, as far as the page knows: the open node is not expanded
  // by itself when it may not (each refusal counts toward the server's
  // limit on NoAuth answers to a client).
  constructor(el, { live, onSelect, onError, readable = () => true }) {
    Object.assign(this, { el, live, onSelect, onError, readable });
    this.rows = new Map();
    this.selected = null;
    this.focused = null;
    el.addEventListener("keydown", (e) => this.key(e));
    this.root = this.makeRow("/", null, blankStat(), 0);
    this.root.li.tabIndex = 0;
    this.focused = this.root;
    el.append(this.root.li);
  }

  // --- rows -------------------------------------------------------------

  makeRow(path, parent, stat, zx, quiet) {
    const r = { path, name: path === "/" ? "/" : baseName(path), parent, stat, zx, full: true, level: parent ? parent.level + 1 : 1, expanded: false, kids: null, deleted: false };
    r.tw = h("span", { class: "tw", "aria-hidden": "true", onclick: (e) => { e.stopPropagation(); this.toggle(r); } });
    r.ct = h("span", { class: "ct" });
    r.tag = h("span", { class: "tag" });
    r.div = h("div", { class: "row", style: `--lvl:${r.level - 1}`, onclick: () => this.activate(r, true) }, r.tw, h("span", { class: "nm", text: r.name }), r.ct, r.tag);
    r.li = h("li", { role: "treeitem", "aria-selected": "false", "aria-level": r.level, tabindex: "-1", "data-path": path }, r.div);
    this.rows.set(path, r);
    if (!quiet) this.watchRow(r);
    this.paint(r);
    return r;
  }

  // watchRow subscribes to a row's own events from the state it shows.
  watchRow(r) {
    if (r.watching || this.rows.get(r.path) !== r) return;
    r.watching = true;
    this.live.watch(r.path, "persistent", r.zx);
  }

  paint(r) {
    const n = r.stat.numChildren;
    const eph = r.stat.ephemeralOwner && r.stat.ephemeralOwner !== "0x0";
    r.ct.textContent = n ? fmtInt(n) : "";
    r.tag.textContent = r.deleted ? "deleted" : eph ? "ephemeral" : "";
    r.tag.className = "tag" + (r.deleted ? " del" : eph ? " eph" : "");
    r.li.classList.toggle("deleted", r.deleted);
    if (n > 0) r.li.setAttribute("aria-expanded", String(r.expanded));
    else r.li.removeAttribute("aria-expanded");
    r.tw.textContent = n > 0 ? (r.expanded ? "▾" : "▸") : "";
    r.li.setAttribute("aria-label", r.name + (n ? `, ${fmtInt(n)} children` : "") + (eph ? ", ephemeral" : "") + (r.deleted ? ", deleted" : ""));
    r.div.title = r.deleted ? `${r.path} was deleted` : `${r.path}\n${fmtInt(r.stat.dataLength)} bytes, version ${r.stat.version}${eph ? `\nephemeral, session ${r.stat.ephemeralOwner}` : ""}`;
  }

  // drop forgets a row and everything shown below it.
  drop(r) {
    if (r.kids) for (const c of this.childRows(r)) this.drop(c);
    clearTimeout(r.goneTimer);
    this.rows.delete(r.path);
    if (r.watching) this.live.unwatch(r.path, "persistent");
    r.watching = false;
    r.li.remove();
    if (this.focused === r) this.focused = null;
  }

  childRows(r) {
    const k = r.kids;
    return k ? [...k.names, ...k.pinned].map((n) => this.rows.get(join(r.path, n))).filter(Boolean) : [];
  }

  // --- expanding and paging ---------------------------------------------

  async toggle(r) {
    if (r.expanded) this.collapse(r);
    else await this.expand(r);
  }

  collapse(r) {
    if (!r.expanded) return;
    for (const c of this.childRows(r)) this.drop(c);
    r.kids = null;
    r.expanded = false;
    if (r.group) { r.group.remove(); r.group = null; }
    this.paint(r);
    // Keep one row reachable with Tab when the focused one went away.
    if (!this.focused) this.focus(r, document.activeElement === document.body);
  }

  async expand(r) {
    if (r.expanded || r.deleted) return;
    r.expanded = true;
    r.kids = { names: [], pinned: [], pages: [], next: undefined, filter: "", seq: 0 };
    r.group = h("ul", { role: "group" });
    r.li.append(r.group);
    this.paint(r);
    await this.loadPage(r, true);
  }

  async loadPage(r, reset) {
    const k = r.kids;
    if (!k) return;
    const seq = ++k.seq;
    const after = reset ? (k.filter ? before(k.filter) : undefined) : k.next;
    k.loading = true;
    this.renderGroup(r);
    let res;
    try {
      res = await api.children(r.path, { limit: PAGE, after });
    } catch (err) {
      if (r.kids === k && seq === k.seq) { k.loading = false; k.error = err; this.renderGroup(r); }
      // The row's own delete event says NoNode; the note says NoAuth; the
      // login form, AuthFailed.
      if (["NoNode", "NoAuth", "AuthFailed"].includes(err.code)) return;
      this.onError(err, `Loading the children of ${r.path}`);
      return;
    }
    if (r.kids !== k || seq !== k.seq) return; // collapsed or refiltered meanwhile
    k.loading = false;
    k.error = null;
    let items = res.body.children;
    let next = res.body.next;
    if (k.filter) {
      const i = items.findIndex((c) => !c.name.startsWith(k.filter));
      if (i >= 0) { items = items.slice(0, i); next = undefined; }
    }
    const old = reset ? k.names : [];
    if (reset) {
      k.names = [];
      k.pages = [];
      k.pinned = k.pinned.filter((n) => this.rows.has(join(r.path, n)));
    }
    const added = [];
    for (const c of items) {
      const p = join(r.path, c.name);
      const pin = k.pinned.indexOf(c.name);
      if (pin >= 0) k.pinned.splice(pin, 1);
      const row = this.rows.get(p);
      if (row) { if (readAt(row, res.zxid)) { row.stat = c.stat; this.paint(row); } }
      else added.push(this.makeRow(p, r, c.stat, res.zxid, true));
      k.names.push(c.name);
    }
    // Paint first, subscribe right after: the watches start from the
    // page's zxid, so nothing between the two is lost.
    setTimeout(() => added.forEach((x) => this.watchRow(x)), 0);
    k.pages.push({ last: items.length ? items[items.length - 1].name : "", zx: res.zxid });
    k.next = next;
    // Rows shown before a reload keep their state (open, selected) when
    // the new first page has them; one beyond it that holds state (open,
    // or the selection or its way down) stays, pinned; the rest go, so a
    // filter shows what matches it and nothing a wider one left behind.
    const now = new Set(k.names);
    const holdsState = (c) => c.expanded || (this.selected && (this.selected === c.path || this.selected.startsWith(c.path + "/")));
    const stays = (name, c) => !this.inRange(k, name) && (!k.filter || name.startsWith(k.filter)) && holdsState(c);
    for (const name of old) {
      if (now.has(name) || k.pinned.includes(name)) continue;
      const c = this.rows.get(join(r.path, name));
      if (!c) continue;
      if (stays(name, c)) k.pinned.push(name);
      else this.drop(c);
    }
    if (reset) {
      k.pinned = k.pinned.filter((name) => {
        const c = this.rows.get(join(r.path, name));
        if (c && !stays(name, c)) this.drop(c);
        return !!c && stays(name, c);
      });
    }
    if (readAt(r, res.zxid)) { r.stat = res.body.stat; this.paint(r); }
    this.renderGroup(r);
    if (r === this.root && !this.firstPaint) {
      this.firstPaint = true;
      performance.mark("canopy:tree-rendered");
    }
  }

  // zxFor is the zxid of the page that holds name's place in the list.
  zxFor(k, name) {
    for (const p of k.pages) if (name <= p.last) return p.zx;
    return k.pages.length ? k.pages[k.pages.length - 1].zx : 0;
  }

  inRange(k, name) {
    return !k.next || name <= k.next;
  }

  // later renders r's group soon, once for a burst of events.
  later(r) {
    if (!this.pending) {
      this.pending = new Set();
      setTimeout(() => { const p = this.pending; this.pending = null; for (const x of p) this.renderGroup(x); }, 20);
    }
    this.pending.add(r);
  }

  renderGroup(r) {
    const k = r.kids;
    if (!k || !r.group) return;
    const items = [];
    const n = r.stat.numChildren;
    if (n >= FILTER_AT || k.filter) {
      if (!k.filterLi) {
        const input = h("input", { type: "search", class: "filter", "aria-label": `Filter the children of ${r.path} by name prefix`, spellcheck: "false" });
        const run = debounce(() => { k.filter = input.value; this.loadPage(r, true); }, 200);
        input.addEventListener("input", run);
        input.addEventListener("keydown", (e) => {
          e.stopPropagation();
          if (e.key === "Escape") { input.value = ""; run(); }
          if (e.key === "ArrowDown") { const first = this.rows.get(join(r.path, k.names[0] || "")); if (first) this.focus(first); }
        });
        k.filterLi = h("li", { role: "none", class: "tools", style: `--lvl:${r.level}` }, input);
        k.filterInput = input;
      }
      k.filterInput.placeholder = `Filter ${fmtInt(n)} children by prefix…`;
      items.push(k.filterLi);
    }
    for (const name of k.names) { const c = this.rows.get(join(r.path, name)); if (c) items.push(c.li); }
    const note = (text, cls = "note") => h("li", { role: "none", class: cls, style: `--lvl:${r.level}` }, ...[text].flat());
    if (k.loading) items.push(note("Loading…"));
    else if (k.error && k.error.code === "NoAuth") items.push(note("No permission to list the children: the ACL gives you no READ here.", "note denied"))
    else if (k.error) items.push(note([`Could not load the children (${k.error.code}). `, h("button", { type: "button", class: "small", onclick: () => this.loadPage(r, !k.names.length) }, "Retry")], "note err"));
    else if (k.next) {
      const left = k.filter ? "" : ` of ${fmtInt(Math.max(n - k.names.length, 0))} more`;
      items.push(h("li", { role: "none", class: "more", style: `--lvl:${r.level}` },
        h("button", { type: "button", onclick: () => this.loadPage(r, false) }, `Show ${PAGE}${left}`)));
    } else if (!k.names.length && k.filter) items.push(note(`No child starts with “${k.filter}”`));
    for (const name of k.pinned) { const c = this.rows.get(join(r.path, name)); if (c) items.push(c.li); }
    // Re-inserting a row takes the focus from it: a person typing into
    // the filter while a page loads would type into nothing.
    const focused = r.group.contains(document.activeElement) ? document.activeElement : null;
    r.group.replaceChildren(...items);
    if (focused && focused.isConnected && document.activeElement !== focused) focused.focus({ preventScroll: true });
  }

  // --- live updates -------------------------------------------------------

  onEvent(ev) {
    const r = this.rows.get(ev.path);
    if (ev.type === "NodeChildrenChanged") {
      if (!r || !fresh(r, ev)) return;
      r.stat.numChildren = Math.max(0, r.stat.numChildren + (ev.change === "added" ? 1 : -1));
      this.paint(r);
      const k = r.kids;
      if (k) {
        if (ev.change === "added") this.insertChild(r, ev.child, ev.zxid);
        else {
          const c = this.rows.get(join(r.path, ev.child));
          if (c && ev.zxid > c.zx) this.markDeleted(c);
        }
        this.later(r);
      }
      return;
    }
    if (!r) return;
    if (ev.type === "NodeDataChanged" || ev.type === "NodeCreated") {
      if (!fresh(r, ev)) return;
      if (ev.stat) r.stat = { ...ev.stat };
      if (r.deleted) { r.deleted = false; clearTimeout(r.goneTimer); }
      this.paint(r);
    } else if (ev.type === "NodeDeleted" && fresh(r, ev)) {
      this.markDeleted(r);
    }
  }

  insertChild(r, name, zxid) {
    const k = r.kids;
    const p = join(r.path, name);
    const have = this.rows.get(p);
    if (have) {
      if (have.deleted && zxid > have.zx) { have.deleted = false; clearTimeout(have.goneTimer); this.paint(have); }
      return;
    }
    if (k.filter && !name.startsWith(k.filter)) return;
    if (!this.inRange(k, name) || zxid <= this.zxFor(k, name)) return;
    let i = k.names.findIndex((n) => n > name);
    if (i < 0) i = k.names.length;
    k.names.splice(i, 0, name);
    // Its stat comes with the NodeCreated event its watch replays.
    this.makeRow(p, r, blankStat(), zxid - 1);
  }

  markDeleted(r) {
    if (r.deleted) return;
    this.collapse(r);
    r.deleted = true;
    r.stat.numChildren = 0;
    this.paint(r);
    this.scheduleGone(r);
  }

  scheduleGone(r) {
    clearTimeout(r.goneTimer);
    r.goneTimer = setTimeout(() => {
      if (!r.deleted || !this.rows.has(r.path)) return;
      if (this.selected === r.path) return; // kept while it is open
      this.remove(r);
    }, GONE_MS);
  }

  remove(r) {
    const p = r.parent;
    const hadFocus = document.activeElement === r.li;
    this.drop(r);
    if (p && !this.focused) this.focus(p, hadFocus);
    if (p && p.kids) {
      p.kids.names = p.kids.names.filter((n) => n !== r.name);
      p.kids.pinned = p.kids.pinned.filter((n) => n !== r.name);
      this.renderGroup(p);
    }
  }

  // retry reloads the child lists that failed (after the connection is back).
  retry() {
    for (const r of [...this.rows.values()]) if (r.kids && r.kids.error) this.loadPage(r, !r.kids.names.length);
  }

  // resync re-reads everything shown, after events were lost.
  async resync() {
    const open = [...this.rows.values()].filter((r) => r.expanded).map((r) => r.path).sort((a, b) => a.split("/").length - b.split("/").length);
    this.collapse(this.root);
    try {
      const st = await api.stat("/");
      this.root.stat = st.body.stat;
      readAt(this.root, st.zxid);
    } catch (err) { this.onError(err, "Reloading the tree"); }
    for (const p of open) {
      const r = this.rows.get(p);
      if (r) await this.expand(r);
    }
    if (this.selected) await this.reveal(this.selected);
  }

  // --- selection ----------------------------------------------------------

  setSelected(path) {
    const prev = this.selected && this.rows.get(this.selected);
    this.selected = path;
    if (prev) {
      prev.li.setAttribute("aria-selected", "false");
      if (prev.deleted && prev.path !== path) this.remove(prev);
    }
    const r = this.rows.get(path);
    if (r) { r.li.setAttribute("aria-selected", "true"); this.focus(r, false); }
  }

  // reveal expands the ancestors of path and shows its row, loading it
  // out of page order ("pinned") when it lies beyond the loaded pages.
  async reveal(path) {
    let cur = this.root;
    const segs = path === "/" ? [] : path.slice(1).split("/");
    for (const seg of segs) {
      if (!cur.expanded) await this.expand(cur);
      if (!cur.kids) return;
      const p = join(cur.path, seg);
      let r = this.rows.get(p);
      if (!r) {
        let st;
        try { st = await api.stat(p); } catch (err) {
          // A missing node is the node view's to explain.
          if (err.code !== "NoNode") this.onError(err, `Showing ${p} in the tree`);
          return;
        }
        r = this.rows.get(p);
        if (!r && cur.kids) {
          const k = cur.kids;
          if (this.inRange(k, seg) && (!k.filter || seg.startsWith(k.filter))) {
            let i = k.names.findIndex((n) => n > seg);
            if (i < 0) i = k.names.length;
            k.names.splice(i, 0, seg);
          } else k.pinned.push(seg);
          r = this.makeRow(p, cur, st.body.stat, st.zxid);
          this.renderGroup(cur);
        }
        if (!r) return;
      }
      cur = r;
    }
    if (this.selected === path) this.setSelected(path);
    const r = this.rows.get(path);
    if (!r) return;
    // The open node shows its children too, so they update live.
    if (this.selected === path && !r.expanded && !r.deleted && (await this.readable(path)) && this.selected === path) await this.expand(r);
    r.div.scrollIntoView({ block: "nearest" });
  }

  // activate selects a row; a click also opens a collapsed one.
  activate(r, open) {
    this.focus(r);
    this.onSelect(r.path);
    if (open && !r.expanded && r.stat.numChildren > 0) this.expand(r);
  }

  focus(r, move = true) {
    if (this.focused && this.focused !== r && this.rows.has(this.focused.path)) this.focused.li.tabIndex = -1;
    this.focused = r;
    r.li.tabIndex = 0;
    if (move) r.li.focus({ preventScroll: false });
  }

  visible() {
    return [...this.el.querySelectorAll("li[role=treeitem]")];
  }

  key(e) {
    const li = e.target.closest("li[role=treeitem]");
    if (!li || e.target.tagName === "INPUT" || e.target.tagName === "BUTTON") return;
    const r = this.rows.get(li.dataset.path);
    if (!r) return;
    const all = this.visible();
    const i = all.indexOf(li);
    const go = (el) => { if (el) { const x = this.rows.get(el.dataset.path); if (x) this.focus(x); } };
    switch (e.key) {
      case "ArrowDown": go(all[i + 1]); break;
      case "ArrowUp": go(all[i - 1]); break;
      case "Home": go(all[0]); break;
      case "End": go(all[all.length - 1]); break;
      case "ArrowRight":
        if (!r.expanded && r.stat.numChildren > 0) this.expand(r);
        else if (r.expanded) go(all[i + 1] && all[i + 1].closest("ul") === r.group ? all[i + 1] : null);
        break;
      case "ArrowLeft":
        if (r.expanded) this.collapse(r);
        else if (r.parent) this.focus(r.parent);
        break;
      case "Enter": case " ": this.activate(r, false); break;
      case "*": for (const c of this.childRows(r.parent || r)) if (c.stat.numChildren) this.expand(c); break;
      default: return;
    }
    e.preventDefault();
  }
}
