// The side panels: live event log of the selected subtree, sessions, cluster.
import { api } from "./api.js";
import { confirmDialog } from "./dialogs.js";
import { h, within, fmtInt, fmtTime, fmtDuration, fmtBytes } from "./util.js";

const LOG_MAX = 500;

// EventLog records the events under the selected node while its tab is
// open, through one persistentRecursive watch that starts from the state
// the node view read (so opening the tab shows what happened since).
export class EventLog {
  constructor(el, app) {
    Object.assign(this, { el, app, root: "/", since: 0, active: false, paused: false, entries: [], seen: new Set() });
    this.title = h("p", { class: "muted" });
    this.pauseBtn = h("button", { type: "button", "aria-pressed": "false", onclick: () => this.pause() }, "Pause");
    this.list = h("ol", { class: "log", "aria-label": "Events, newest first" });
    el.append(h("div", { class: "paneltools" }, this.title, this.pauseBtn, h("button", { type: "button", onclick: () => this.clear() }, "Clear")), this.list);
    this.renderTitle();
  }

  setRoot(path, since) {
    if (path === this.root) return;
    this.unwatch();
    this.root = path;
    this.since = since;
    this.clear();
    this.watch();
  }

  setActive(on) {
    if (on === this.active) return;
    this.active = on;
    if (on) this.watch();
    else this.unwatch();
  }

  watch() {
    if (this.active && !this.paused && !this.watching) {
      this.watching = this.root;
      this.app.live.watch(this.root, "persistentRecursive", this.since || undefined);
    }
    this.renderTitle();
  }

  unwatch() {
    if (this.watching) {
      this.app.live.unwatch(this.watching, "persistentRecursive");
      // Resume from here, so a paused or hidden log misses nothing.
      this.since = Math.max(this.since || 0, this.app.live.lastZxid);
      this.watching = null;
    }
    this.renderTitle();
  }

  pause() {
    this.paused = !this.paused;
    this.pauseBtn.setAttribute("aria-pressed", String(this.paused));
    this.pauseBtn.textContent = this.paused ? "Resume" : "Pause";
    if (this.paused) this.unwatch();
    else this.watch();
  }

  clear() {
    this.entries = [];
    this.seen.clear();
    this.list.replaceChildren();
  }

  renderTitle() {
    this.title.textContent = this.watching ? `Changes under ${this.root}, live` : this.paused ? `Paused: changes under ${this.root} are kept by the server and shown on resume` : `Changes under ${this.root}`;
  }

  onEvent(ev) {
    if (!this.watching || ev.type === "NodeChildrenChanged" || !within(ev.path, this.root)) return;
    const key = `${ev.zxid}|${ev.type}|${ev.path}|${ev.stat ? ev.stat.version : ""}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    // Deletes carry no time: they show when this page heard of them.
    const when = ev.stat && ev.stat.mtime ? ev.stat.mtime : ev.received || Date.now();
    const kind = { NodeCreated: "created", NodeDeleted: "deleted", NodeDataChanged: "changed" }[ev.type] || ev.type;
    const detail = ev.stat ? `version ${ev.stat.version}, ${fmtBytes(ev.stat.dataLength)}${ev.stat.ephemeralOwner !== "0x0" ? ", ephemeral" : ""}` : "";
    const li = h("li", { "data-type": ev.type },
      h("time", { datetime: new Date(when).toISOString() }, fmtTime(when).slice(11)),
      h("span", { class: "zx", title: "zxid" }, "#" + ev.zxid),
      h("span", { class: "ev " + kind }, kind),
      h("a", { href: this.app.href(ev.path) }, ev.path),
      h("span", { class: "muted" }, detail));
    // Newest first; a replay may deliver older zxids after newer ones.
    const at = [ev.zxid, ev.seq || 0];
    let i = 0;
    while (i < this.entries.length && (this.entries[i][0] > at[0] || (this.entries[i][0] === at[0] && this.entries[i][1] > at[1]))) i++;
    this.entries.splice(i, 0, at);
    this.list.insertBefore(li, this.list.children[i] || null);
    if (this.entries.length > LOG_MAX) { this.entries.pop(); this.list.lastChild.remove(); }
  }
}

// Poller refreshes a panel while it is shown.
class Poller {
  constructor(el, app, every) {
    Object.assign(this, { el, app, every, timer: null, active: false });
    this.status = h("p", { class: "muted", role: "status" });
    this.body = h("div");
    el.append(this.status, this.body);
  }
  setActive(on) {
    this.active = on;
    clearTimeout(this.timer);
    if (on) this.tick();
  }
  async tick() {
    clearTimeout(this.timer);
    try {
      await this.refresh();
      this.status.textContent = `Updated ${fmtTime(Date.now()).slice(11, 19)}, every ${this.every / 1000} s while shown.`;
      this.status.classList.remove("err");
    } catch (err) {
      this.status.textContent = this.app.humanError(err);
      this.status.classList.add("err");
    }
    if (this.active) this.timer = setTimeout(() => this.tick(), this.every);
  }
}

export class SessionsPanel extends Poller {
  constructor(el, app) { super(el, app, 2000); this.highlight = null; }

  show(id) {
    this.highlight = id;
    this.tick();
  }

  async refresh() {
    const res = await api.sessions();
    const mine = this.app.live.session && this.app.live.session.id;
    const list = res.body.sessions;
    const rows = list.map((s) => {
      const eph = s.ephemerals || [];
      const left = s.expires_in_ms === undefined ? h("span", { title: "This node does not hold the lease clock: ask the leader's UI" }, "—") : fmtDuration(Math.max(0, s.expires_in_ms));
      const close = h("button", { type: "button", class: "danger small", "aria-label": `Close session ${s.id}`, onclick: () => this.close(s.id, eph.length) }, "Close");
      return h("tr", { "data-session": s.id, class: s.id === this.highlight ? "hl" : "" },
        h("td", {}, h("code", {}, s.id), s.id === mine ? h("span", { class: "tag" }, "this tab") : ""),
        h("td", {}, fmtDuration(s.timeout_ms)),
        h("td", {}, left),
        h("td", {}, eph.length ? h("ul", { class: "plain" }, eph.slice(0, 20).map((p) => h("li", {}, h("a", { href: this.app.href(p) }, p))), eph.length > 20 ? h("li", { class: "muted" }, `and ${fmtInt(eph.length - 20)} more`) : "") : h("span", { class: "muted" }, "none")),
        h("td", {}, close));
    });
    this.body.replaceChildren(list.length
      ? h("table", { class: "grid", "aria-label": "Sessions" },
        h("thead", {}, h("tr", {}, ["Session", "Timeout", "Expires in", "Ephemeral nodes", ""].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows))
      : h("p", {}, "No sessions. A session is opened by a client that needs ephemeral nodes (this page opens one when you create an ephemeral node)."));
    if (this.highlight) {
      const tr = this.body.querySelector(`tr[data-session="${CSS.escape(this.highlight)}"]`);
      if (tr) tr.scrollIntoView({ block: "nearest" });
      else this.status.textContent = `Session ${this.highlight} is not open any more.`;
    }
  }

  async close(id, n) {
    if (!(await confirmDialog(`Close session ${id}?`, `Its ${fmtInt(n)} ephemeral node${n === 1 ? "" : "s"} will be deleted, and a client still using it will find it expired.`, "Close session"))) return;
    try {
      await api.closeSession(id);
      if (this.app.live.session && this.app.live.session.id === id) this.app.sessionGone(id, null);
      this.app.toast(`Closed session ${id}`);
      this.tick();
    } catch (err) { this.app.showError(err, `Closing session ${id}`); }
  }
}

export class ClusterPanel extends Poller {
  constructor(el, app) { super(el, app, 3000); }

  async refresh() {
    const [c, s] = await Promise.all([api.cluster(), api.status().catch(() => null)]);
    const cl = c.body;
    this.app.setNodeLabel(cl);
    const leader = cl.leader ? cl.leader.id : null;
    const kv = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
    const st = s && s.body;
    const summary = h("dl", { class: "kv" },
      kv("This page talks to", `${cl.self} (${location.host})${leader === cl.self ? ", the leader" : leader ? ", a follower" : ""}`),
      kv("Leader", leader ? `${leader} (${cl.leader.http})` : "none — no quorum, writes fail until one is elected"),
      kv("Term", String(cl.term)),
      kv("Commit index", fmtInt(cl.commit_index)),
      kv("Applied index", fmtInt(cl.applied_index)),
      ...(st ? [
        kv("Role", st.server_state), kv("Version", st.version), kv("Nodes", fmtInt(st.znode_count)),
        kv("Sessions", fmtInt(st.session_count)), kv("Watches", fmtInt(st.watch_count)),
        kv("Connections", fmtInt(st.num_alive_connections)),
        kv("Latency (avg / max)", `${st.avg_latency_ms.toFixed(2)} / ${st.max_latency_ms.toFixed(1)} ms`), kv("Uptime", fmtDuration(st.uptime_ms)),
      ] : []));
    const rows = cl.members.map((m) => h("tr", { class: m.id === cl.self ? "hl" : "" },
      h("td", {}, m.id, m.id === leader ? h("span", { class: "tag lead" }, "leader") : "", m.id === cl.self ? h("span", { class: "tag" }, "you are here") : ""),
      h("td", {}, m.http ? h("a", { href: `${location.protocol}//${m.http}/ui/` }, m.http) : "—"),
      h("td", {}, m.raft),
      h("td", {}, m.voter ? "voter" : "non-voter"),
      h("td", {}, m.last_contact_ms === null || m.last_contact_ms === undefined ? "—" : `${fmtInt(m.last_contact_ms)} ms`)));
    this.body.replaceChildren(summary, h("h3", {}, "Members"),
      h("table", { class: "grid", "aria-label": "Cluster members" },
        h("thead", {}, h("tr", {}, ["Node", "API and UI", "Raft", "Role", "Last contact"].map((t) => h("th", { scope: "col" }, t)))),
        h("tbody", {}, rows)));
  }
}
