package wsnotify

import (
	"context"
	"encoding/json"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// handle answers one frame. It returns the request id, and the result or
// the error; `handled` when the hub already queued the answer with a watch.
func (c *conn) handle(ctx context.Context, data []byte) (json.RawMessage, any, error) {
	var req request
	if err := api.DecodeStrict(data, &req); err != nil {
		c.h.cfg.Metrics.frames.WithLabelValues("invalid", string(api.CodeBadArguments)).Inc()
		return peekID(data), nil, api.Errorf(api.CodeBadArguments, "", "bad frame: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, frameTimeout)
	defer cancel()
	result, err := c.dispatch(ctx, &req)
	code := "ok"
	if err != nil {
		code = string(api.CodeOf(err))
	}
	op := req.Op
	if _, known := ops[op]; !known {
		op = "unknown"
	}
	c.h.cfg.Metrics.frames.WithLabelValues(op, code).Inc()
	return req.ID, result, err
}

// throttle takes a frame from the client's rate. Pings are never refused:
// they are how a client keeps its session, and cost nothing.
func (c *conn) throttle(op string) *api.Error {
	if c.h.cfg.Throttle == nil || op == "ping" {
		return nil
	}
	return c.h.cfg.Throttle(c.remote)
}

// frameTimeout bounds the handling of one frame (a read waiting for its
// min_zxid, a write waiting for its commit), as the REST API bounds a
// request: the answer is then OperationTimeout or Unavailable, not a hang.
const frameTimeout = 10 * time.Second

// peekID recovers the id of a frame that did not decode, when it can.
func peekID(data []byte) json.RawMessage {
	var probe struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(data, &probe) != nil {
		return nil
	}
	return probe.ID
}

type opFunc func(c *conn, ctx context.Context, req *request) (any, error)

var ops map[string]opFunc

func init() {
	ops = map[string]opFunc{
		"ping":        (*conn).ping,
		"getData":     (*conn).read,
		"exists":      (*conn).read,
		"getChildren": (*conn).read,
		"addWatch":    (*conn).addWatch,
		"removeWatch": (*conn).removeWatch,
		"attach":      (*conn).attach,
		"create":      (*conn).write,
		"setData":     (*conn).write,
		"delete":      (*conn).write,
		"multi":       (*conn).multi,
		"sync":        (*conn).sync,
	}
}

func (c *conn) dispatch(ctx context.Context, req *request) (any, error) {
	f, ok := ops[req.Op]
	if !ok {
		return nil, api.Errorf(api.CodeBadArguments, req.Path, "unknown op %q", req.Op)
	}
	if err := c.throttle(req.Op); err != nil {
		return nil, err
	}
	return f(c, ctx, req)
}

func (c *conn) ping(ctx context.Context, req *request) (any, error) {
	return map[string]int64{"zxid": c.h.store.Applied()}, nil
}

// read serves getData, exists and getChildren, and with "watch": true
// registers the one-shot watch against the state it read.
func (c *conn) read(ctx context.Context, req *request) (any, error) {
	if err := fsm.ValidatePath(req.Path); err != nil {
		return nil, err
	}
	if req.Consistency != "" && req.Consistency != "linearizable" && req.Consistency != "stale" {
		return nil, api.Errorf(api.CodeBadArguments, req.Path, "consistency must be linearizable or stale, got %q", req.Consistency)
	}
	if req.Encoding != "" && req.Encoding != "utf8" && req.Encoding != "base64" {
		return nil, api.Errorf(api.CodeBadArguments, req.Path, "encoding must be utf8 or base64, got %q", req.Encoding)
	}
	linearizable := req.Consistency == "linearizable" || (req.Consistency == "" && req.MinZxid == 0)
	if err := c.h.store.Await(ctx, linearizable, req.MinZxid); err != nil {
		return nil, err
	}
	// The read and its watch happen with the tree held still, so no change
	// can fall between them: the answer is queued first, and every later
	// event after it.
	var result any
	var err error
	c.h.store.Tree().Read(func(tr fsm.Reader) {
		var zxid int64
		var kind Kind
		result, zxid, kind, err = readOp(tr, req)
		if err != nil || !req.Watch {
			return
		}
		frame := encodeFrame(response{ID: req.ID, Result: result})
		if err = c.h.hub.Watch(c.sub, kind, req.Path, zxid, frame); err == nil {
			result = handled
		}
	})
	return result, err
}

// readOp performs getData, exists or getChildren, and names the watch
// kind a "watch": true would set.
func readOp(tr fsm.Reader, req *request) (any, int64, Kind, error) {
	switch req.Op {
	case "getData":
		data, stat, z, err := tr.Get(req.Path)
		if err != nil {
			return nil, z, 0, err // ZooKeeper sets no watch on a missing node here
		}
		return api.NewNodeData(req.Path, data, stat, req.Encoding == "base64"), z, KindData, nil
	case "exists":
		stat, z, err := tr.Stat(req.Path)
		res := ExistsResult{Path: req.Path}
		if err == nil {
			res.Stat = &stat
		}
		return res, z, KindData, nil
	default: // getChildren
		page, err := tr.Children(req.Path, "", 0, false)
		if err != nil {
			return nil, page.Zxid, 0, err
		}
		return ChildrenResult{Path: req.Path, Children: page.Names, Stat: page.Stat}, page.Zxid, KindChildren, nil
	}
}

var watchModes = map[string]Kind{"persistent": KindPersistent, "persistentRecursive": KindRecursive}

// addWatch adds a persistent or recursive watch, replaying the held events
// after since_zxid first.
func (c *conn) addWatch(ctx context.Context, req *request) (any, error) {
	if err := fsm.ValidatePath(req.Path); err != nil {
		return nil, err
	}
	kind, ok := watchModes[req.Mode]
	if !ok {
		return nil, api.Errorf(api.CodeBadArguments, req.Path, `mode must be "persistent" or "persistentRecursive", got %q`, req.Mode)
	}
	after := c.h.store.Applied()
	if req.SinceZxid != nil {
		if *req.SinceZxid < 0 {
			return nil, api.Errorf(api.CodeBadArguments, req.Path, "since_zxid must not be negative")
		}
		after = *req.SinceZxid
		// A since_zxid this node has not applied yet (the client saw it
		// on another node): wait for it, or the watch would deliver
		// events the client has already seen.
		if err := c.h.store.Await(ctx, false, after); err != nil {
			return nil, err
		}
	}
	frame := encodeFrame(response{ID: req.ID, Result: WatchResult{Path: req.Path, Mode: req.Mode, Zxid: after}})
	if err := c.h.hub.Watch(c.sub, kind, req.Path, after, frame); err != nil {
		return nil, err
	}
	return handled, nil
}

var removeKinds = map[string][]Kind{
	"data":                {KindData},
	"children":            {KindChildren},
	"persistent":          {KindPersistent},
	"persistentRecursive": {KindRecursive},
	"any":                 {KindData, KindChildren, KindPersistent, KindRecursive},
}

func (c *conn) removeWatch(ctx context.Context, req *request) (any, error) {
	if err := fsm.ValidatePath(req.Path); err != nil {
		return nil, err
	}
	kinds, ok := removeKinds[req.Kind]
	if !ok {
		return nil, api.Errorf(api.CodeBadArguments, req.Path, `kind must be data, children, any, persistent or persistentRecursive, got %q`, req.Kind)
	}
	if !c.h.hub.Unwatch(c.sub, req.Path, kinds...) {
		return nil, api.Errorf(api.CodeNoWatcher, req.Path, "no %s watch on this path", req.Kind)
	}
	return map[string]string{"path": req.Path, "kind": req.Kind}, nil
}

// attach binds the socket to a session: from now on its traffic keeps the
// session alive, and ephemerals created over it belong to the session.
func (c *conn) attach(ctx context.Context, req *request) (any, error) {
	id, err := api.ParseID(req.Session)
	if err != nil || id == 0 {
		return nil, api.Errorf(api.CodeBadArguments, "", "malformed session id %q: want a hex id like 0x1f3a", req.Session)
	}
	sess, err := c.h.store.KeepAlive(ctx, id)
	if err != nil {
		return nil, err
	}
	c.timeout.Store(sess.TimeoutMs)
	c.session.Store(uint64(id))
	select {
	case c.attached <- struct{}{}:
	default:
	}
	return AttachResult{Session: id, TimeoutMs: sess.TimeoutMs}, nil
}

var writeOps = map[string]string{"create": "create", "setData": "set", "delete": "delete"}

func (c *conn) write(ctx context.Context, req *request) (any, error) {
	cmd, bad := fsm.CommandFromOp(api.MultiOp{
		Op: writeOps[req.Op], Path: req.Path, Data: req.Data, Encoding: req.Encoding, Version: req.Version,
		Ephemeral: req.Ephemeral, Sequential: req.Sequential, Container: req.Container, TTLms: req.TTLms,
	}, api.ID(c.session.Load()), c.h.cfg.MaxDataBytes)
	if bad != nil {
		return nil, bad
	}
	switch {
	case req.Parents && req.Op == "create":
		cmd.Flags |= fsm.FlagParents
	case req.Recursive && req.Op == "delete":
		cmd.Flags |= fsm.FlagRecursive
	case req.Parents || req.Recursive:
		return nil, api.Errorf(api.CodeBadArguments, req.Path, "parents applies to create, recursive to delete")
	}
	res, _, err := c.h.store.Propose(ctx, &cmd)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, res.Err
	}
	if res.Stat == nil {
		return map[string]string{"path": res.Path}, nil
	}
	return api.PathStat{Path: res.Path, Stat: *res.Stat}, nil
}

func (c *conn) multi(ctx context.Context, req *request) (any, error) {
	if len(req.Ops) == 0 {
		return api.MultiResponse{Results: []api.MultiResult{}}, nil
	}
	if len(req.Ops) > c.h.cfg.MaxMultiOps {
		return nil, api.Errorf(api.CodeBadArguments, "", "a multi holds at most %d ops, got %d", c.h.cfg.MaxMultiOps, len(req.Ops))
	}
	cmd := &fsm.Command{Op: fsm.OpMulti, Ops: make([]fsm.Command, len(req.Ops))}
	for i, op := range req.Ops {
		sub, bad := fsm.CommandFromOp(op, api.ID(c.session.Load()), c.h.cfg.MaxDataBytes)
		if bad != nil {
			idx := i
			bad.Index = &idx
			return nil, bad
		}
		cmd.Ops[i] = sub
	}
	res, _, err := c.h.store.Propose(ctx, cmd)
	if err != nil {
		return nil, err
	}
	if res.Err != nil {
		return nil, res.Err
	}
	return api.MultiResponse{Results: res.Multi}, nil
}

func (c *conn) sync(ctx context.Context, req *request) (any, error) {
	if err := fsm.ValidatePath(req.Path); err != nil {
		return nil, err
	}
	if err := c.h.store.Linearize(ctx); err != nil {
		return nil, err
	}
	return api.SyncResult{Zxid: c.h.store.Applied()}, nil
}
