// One WebSocket to /v1/watch (DESIGN §6): the page's watches, its session
// keep-alive, and reconnection that resumes every watch with since_zxid.
import { ApiError, pause, retryAfterMs } from "./api.js";

const PING_MS = 10000;
const RECENT = 4000; // events kept in the page for watches added later

export class Live {
  // onEvent(ev) gets every event; onState(state, detail) follows the
  // connection ("connecting", "online", "offline"); onResync() is called
  // when events were lost (Compacted) and the page must re-read the tree;
  // onSessionLost(id, err) when the attached session is gone.
  constructor({ onEvent, onState, onResync, onSessionLost }) {
    Object.assign(this, { onEvent, onState, onResync, onSessionLost });
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id → {resolve, reject, frame}
    this.watches = new Map(); // mode|path → {path, mode, refs, since, live}
    this.lastZxid = 0; // every event up to it has been received for the live watches
    this.recent = []; // the last events received, oldest first
    this.seq = 0; // numbers the events in the order they arrived
    this.session = null; // {id, timeout_ms}
    this.state = "connecting";
    this.retry = 0;
    this.timer = null;
    this.connects = 0;
  }

  connect() {
    clearTimeout(this.timer);
    this.setState("connecting");
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/v1/watch`);
    this.ws = ws;
    ws.onopen = () => this.opened(ws);
    ws.onmessage = (m) => this.message(m.data);
    ws.onclose = (e) => this.closed(ws, e);
    ws.onerror = () => {}; // onclose follows and says more
  }

  setState(state, detail = "") {
    this.state = state;
    this.onState(state, detail);
  }

  async opened(ws) {
    if (ws !== this.ws) return;
    this.retry = 0;
    this.connects++;
    const resumed = this.connects > 1;
    this.pingTimer = setInterval(() => this.ping(), PING_MS);
    // Session first, then the watches: persistent ones before recursive
    // ones, so a path's own replay precedes any copy of its events that a
    // recursive watch would bring.
    if (this.session) {
      try {
        await this.send({ op: "attach", session: this.session.id });
      } catch (err) {
        if (err.code === "SessionExpired" && this.session) {
          const id = this.session.id;
          this.session = null;
          this.onSessionLost(id, err);
        }
      }
    }
    const all = [...this.watches.values()].sort((a, b) => (a.mode === b.mode ? 0 : a.mode === "persistent" ? -1 : 1));
    const jobs = all.map((w) => this.register(w, resumed));
    this.setState("online", resumed ? "resumed" : "");
    const results = await Promise.allSettled(jobs);
    if (results.some((r) => r.status === "rejected" && r.reason && r.reason.code === "Compacted")) this.onResync();
  }

  closed(ws, e) {
    if (ws !== this.ws) return;
    clearInterval(this.pingTimer);
    this.ws = null;
    for (const w of this.watches.values()) {
      // A live watch has received everything up to the later of the
      // page's watermark and the point it started from.
      if (w.live) w.since = Math.max(this.lastZxid, w.from || 0);
      w.live = false;
    }
    for (const p of this.pending.values()) p.reject(new ApiError("Network", "the live connection closed"));
    this.pending.clear();
    const delay = Math.min(250 * 2 ** this.retry++, 4000);
    const why = e.code === 1008 && e.reason === "resync" ? "fell behind; resuming" : e.reason || "connection lost";
    this.setState("offline", `${why} — retrying in ${(delay / 1000).toFixed(1)} s`);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  message(data) {
    let f;
    try { f = JSON.parse(data); } catch { return; }
    if (f.event) {
      if (f.event.zxid > this.lastZxid) this.lastZxid = f.event.zxid;
      f.event.received = Date.now();
      f.event.seq = ++this.seq;
      this.recent.push(f.event);
      if (this.recent.length > RECENT * 1.25) this.recent.splice(0, this.recent.length - RECENT);
      this.onEvent(f.event);
      return;
    }
    const p = this.pending.get(f.id);
    if (!p) return;
    this.pending.delete(f.id);
    if (f.error) p.reject(new ApiError(f.error.code, f.error.message, { path: f.error.path, oldest: f.error.oldest_zxid, index: f.error.index }));
    else p.resolve(f.result);
  }

  // send one request frame; answers its result or throws ApiError. A frame
  // refused for the server's rate on this client (Throttled) was not acted
  // on: it is sent again after a second or so, while the socket lasts.
  async send(frame) {
    for (;;) {
      try {
        return await this.sendOnce(frame);
      } catch (err) {
        if (err.code !== "Throttled") throw err;
        await pause(retryAfterMs());
      }
    }
  }

  sendOnce(frame) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        reject(new ApiError("Network", "the live connection is not open"));
        return;
      }
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, ...frame }));
    });
  }

  async ping() {
    const ws = this.ws;
    const t = setTimeout(() => { if (ws === this.ws) ws.close(4000, "no answer to ping"); }, PING_MS);
    try {
      const r = await this.send({ op: "ping" });
      // A response follows every event up to the zxid it reports.
      if (r && r.zxid > this.lastZxid) this.lastZxid = r.zxid;
    } catch { /* closed: onclose reconnects */ } finally { clearTimeout(t); }
  }

  async register(w, resumed) {
    const frame = { op: "addWatch", path: w.path, mode: w.mode };
    const since = resumed && w.since === undefined ? Math.max(this.lastZxid, w.from || 0) : w.since;
    if (since !== undefined && since > 0) frame.since_zxid = since;
    const started = (r) => {
      w.live = true;
      w.since = undefined;
      // Replayed events (after since) follow the answer; live ones start at its zxid.
      w.from = frame.since_zxid !== undefined ? frame.since_zxid : r.zxid;
    };
    try {
      started(await this.send(frame));
    } catch (err) {
      if (err.code === "Compacted") {
        delete frame.since_zxid;
        await this.send(frame).then(started, () => {});
      }
      throw err;
    }
  }

  // watch takes a reference on a persistent (or persistentRecursive) watch
  // of path; since is the zxid of the state the caller read, so that events
  // between that read and the watch are replayed.
  watch(path, mode = "persistent", since) {
    const key = mode + "|" + path;
    let w = this.watches.get(key);
    if (w) { w.refs++; return; }
    w = { path, mode, refs: 1, since, live: false };
    this.watches.set(key, w);
    if (this.state === "online") this.register(w, false).catch((err) => { if (err.code === "Compacted") this.onResync(); });
    // The server replays events since `since`, but never one this socket
    // already carried (each event reaches a connection once): hand those
    // to the new watch's owner from the page's own copy.
    if (since !== undefined) {
      const old = this.recent.filter((ev) => ev.zxid > since &&
        (mode === "persistent" ? ev.path === path : ev.type !== "NodeChildrenChanged" && (path === "/" || ev.path === path || ev.path.startsWith(path + "/"))));
      if (old.length) queueMicrotask(() => old.forEach((ev) => this.onEvent(ev)));
    }
  }

  unwatch(path, mode = "persistent") {
    const key = mode + "|" + path;
    const w = this.watches.get(key);
    if (!w || --w.refs > 0) return;
    this.watches.delete(key);
    if (this.state === "online") this.send({ op: "removeWatch", path, kind: mode }).catch(() => {});
  }

  async attach(session) {
    this.session = session;
    await this.send({ op: "attach", session: session.id });
  }
}
