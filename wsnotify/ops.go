package wsnotify

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

// handle answers one frame. It returns the request id, and the result or
// the error; `handled` when the hub already queued the answer with a watch.
func (c *conn) handle(ctx context.Context, data []byte) (json.RawMessage, any, error) {
	var req request
	if err := api.DecodeStrict(data, &req); err != nil {
		var ae *api.Error
		if errors.As(err, &ae) { // a field's own refusal: perms that are not cdrwa are InvalidACL
			c.h.cfg.Metrics.frames.WithLabelValues("invalid", string(ae.Code)).Inc()
			return peekID(data), nil, ae
		}
		c.h.cfg.Metrics.frames.WithLabelValues("invalid", string(api.CodeBadArguments)).Inc()
		return peekID(data), nil, api.Errorf(api.CodeBadArguments, "", "bad frame: %v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.h.svc.Limits().RequestTimeout)
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
		"getACL":      (*conn).getACL,
		"setACL":      (*conn).setACL,
		"whoami":      (*conn).whoami,
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
	caller := service.CallerOf(ctx)
	if wait := c.h.svc.GuessWait(caller); wait > 0 {
		return nil, api.Errorf(api.CodeThrottled, req.Path, "too many requests as %q refused NoAuth from this address: wait %s", caller.User, wait.Round(time.Second))
	}
	res, err := f(c, ctx, req)
	if api.CodeOf(err) == api.CodeNoAuth {
		c.h.svc.Guessed(caller)
	}
	return res, err
}

func (c *conn) ping(ctx context.Context, req *request) (any, error) {
	return map[string]int64{"zxid": c.h.svc.Applied()}, nil
}

// consistency is a read frame's consistency fields.
func consistency(req *request) service.Consistency {
	return service.Consistency{Mode: req.Consistency, MinZxid: req.MinZxid}
}

// read serves getData, exists and getChildren, and with "watch": true
// registers the one-shot watch against the state it read: the read and
// its watch happen with the tree held still, so no change can fall between
// them; the answer is queued first, and every later event after it.
func (c *conn) read(ctx context.Context, req *request) (any, error) {
	var result any
	var err error
	switch req.Op {
	case "getData":
		var forceBase64 bool
		if forceBase64, err = service.Encoding(req.Encoding); err != nil {
			return nil, err
		}
		frame := func(n service.Node) any { return api.NewNodeData(n.Path, n.Data, n.Stat, forceBase64) }
		var n service.Node
		n, _, err = c.h.svc.GetData(ctx, req.Path, consistency(req), watchOn(c, req, KindData, frame))
		result = frame(n)
	case "exists":
		frame := func(e service.Exists) any { return api.ExistsResult{Path: e.Path, Stat: e.Stat} }
		var e service.Exists
		e, _, err = c.h.svc.Exists(ctx, req.Path, consistency(req), watchOn(c, req, KindData, frame))
		result = frame(e)
	default: // getChildren
		frame := func(p service.ChildPage) any {
			return api.ChildrenResult{Path: req.Path, Children: p.Names, Stat: p.Stat}
		}
		var page service.ChildPage
		page, err = c.h.svc.Children(ctx, service.ChildrenRequest{Path: req.Path}, consistency(req), watchOn(c, req, KindChildren, frame))
		result = frame(page)
	}
	if err != nil {
		return nil, err
	}
	if req.Watch {
		return handled, nil // the hub queued the answer with the watch
	}
	return result, nil
}

// watchOn registers a frame's one-shot watch of kind, with its answer, in
// the read's critical section; nil when the frame asks for no watch.
func watchOn[T any](c *conn, req *request, kind Kind, frame func(T) any) service.OnRead[T] {
	if !req.Watch {
		return nil
	}
	return func(res T, zxid int64) error {
		return c.h.hub.Watch(c.sub, kind, req.Path, zxid, encodeFrame(response{ID: req.ID, Result: frame(res)}))
	}
}

var watchModes = map[string]Kind{"persistent": KindPersistent, "persistentRecursive": KindRecursive}

// addWatch adds a persistent or recursive watch, replaying the held events
// after since_zxid first.
func (c *conn) addWatch(ctx context.Context, req *request) (any, error) {
	kind, ok := watchModes[req.Mode]
	if !ok {
		return nil, api.BadArguments(req.Path, `mode must be "persistent" or "persistentRecursive", got %q`, req.Mode)
	}
	after, err := c.h.svc.WatchFrom(ctx, req.Path, req.SinceZxid)
	if err != nil {
		return nil, err
	}
	frame := encodeFrame(response{ID: req.ID, Result: api.WatchResult{Path: req.Path, Mode: req.Mode, Zxid: after}})
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
	if err := c.h.svc.CheckPath(req.Path); err != nil {
		return nil, err
	}
	kinds, ok := removeKinds[req.Kind]
	if !ok {
		return nil, api.BadArguments(req.Path, `kind must be data, children, any, persistent or persistentRecursive, got %q`, req.Kind)
	}
	if !c.h.hub.Unwatch(c.sub, req.Path, kinds...) {
		return nil, api.Errorf(api.CodeNoWatcher, req.Path, "no %s watch on this path", req.Kind)
	}
	return map[string]string{"path": req.Path, "kind": req.Kind}, nil
}

// attach binds the socket to a session: from now on its traffic keeps the
// session alive, and ephemerals created over it belong to the session.
func (c *conn) attach(ctx context.Context, req *request) (any, error) {
	id, err := service.ParseSessionID(req.Session)
	if err != nil {
		return nil, err
	}
	sess, err := c.h.svc.KeepAlive(ctx, id)
	if err != nil {
		return nil, err
	}
	c.timeout.Store(sess.TimeoutMs)
	c.session.Store(uint64(id))
	select {
	case c.attached <- struct{}{}:
	default:
	}
	return api.AttachResult{Session: id, TimeoutMs: sess.TimeoutMs}, nil
}

// write serves create, setData and delete.
func (c *conn) write(ctx context.Context, req *request) (any, error) {
	if req.Parents && req.Op != "create" || req.Recursive && req.Op != "delete" {
		return nil, api.BadArguments(req.Path, "parents applies to create, recursive to delete")
	}
	if req.Op != "create" && (req.Ephemeral || req.Sequential || req.Container || req.TTLms != nil || req.ACL != nil) {
		return nil, api.BadArguments(req.Path, "ephemeral, sequential, container, ttl_ms and acl apply to create only")
	}
	if req.Op == "delete" {
		_, err := c.h.svc.Delete(ctx, service.DeleteRequest{Path: req.Path, Version: req.Version, Recursive: req.Recursive})
		if err != nil {
			return nil, err
		}
		return map[string]string{"path": req.Path}, nil
	}
	data, err := service.DecodeData(req.Path, req.Data, req.Encoding)
	if err != nil {
		return nil, err
	}
	var res api.PathStat
	if req.Op == "create" {
		res, _, err = c.h.svc.Create(ctx, service.CreateRequest{Path: req.Path, Data: data, Ephemeral: req.Ephemeral,
			Sequential: req.Sequential, Container: req.Container, Parents: req.Parents, TTLms: req.TTLms,
			Session: api.ID(c.session.Load()), ACL: req.ACL})
	} else {
		res, _, err = c.h.svc.SetData(ctx, service.SetDataRequest{Path: req.Path, Data: data, Version: req.Version})
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// multiFailure is a multi that failed on one op: the error frame carries
// ZooKeeper's per-op results, as the REST answer does.
type multiFailure struct {
	err     *api.Error
	results []api.MultiResult
}

func (m *multiFailure) Error() string { return m.err.Error() }
func (m *multiFailure) Unwrap() error { return m.err }

func (c *conn) multi(ctx context.Context, req *request) (any, error) {
	resp, _, err := c.h.svc.Multi(ctx, service.MultiRequest{Ops: req.Ops, Session: api.ID(c.session.Load())})
	if err != nil {
		if resp.Error != nil {
			return nil, &multiFailure{err: resp.Error, results: resp.Results}
		}
		return nil, err
	}
	return resp, nil
}

func (c *conn) sync(ctx context.Context, req *request) (any, error) {
	zxid, err := c.h.svc.Sync(ctx, req.Path)
	if err != nil {
		return nil, err
	}
	return api.SyncResult{Zxid: zxid}, nil
}

func (c *conn) getACL(ctx context.Context, req *request) (any, error) {
	res, _, err := c.h.svc.GetACL(ctx, req.Path, consistency(req))
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (c *conn) setACL(ctx context.Context, req *request) (any, error) {
	if req.ACL == nil {
		return nil, api.InvalidACL(req.Path, `setACL needs "acl": a list of {"scheme", "id", "perms"}`)
	}
	res, _, err := c.h.svc.SetACL(ctx, service.SetACLRequest{Path: req.Path, ACL: req.ACL, AVersion: req.AVersion})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (c *conn) whoami(ctx context.Context, req *request) (any, error) {
	return c.h.svc.WhoAmI(ctx), nil
}
