package fsm

import (
	"github.com/canopy-coord/canopy/api"
)

// Result is what a command returns to its caller. Err is an application
// failure (NoNode, BadVersion...): the tree is unchanged and no event fires.
type Result struct {
	Path  string    // the node acted on; for create, the actual path
	Stat  *api.Stat // the node's Stat after create or setData
	Multi []api.MultiResult
	Err   *api.Error
}

// Entry is one raft entry to apply: Cmd is nil for entries that carry no
// command (configuration changes), which only advance the applied index.
type Entry struct {
	Zxid int64
	Cmd  *Command
}

// Outcome is the result and the events of one applied entry.
type Outcome struct {
	Result Result
	Events []api.Event
}

// Apply applies one command at zxid.
func (t *Tree) Apply(zxid int64, cmd *Command) (Result, []api.Event) {
	o := t.ApplyBatch([]Entry{{Zxid: zxid, Cmd: cmd}})[0]
	return o.Result, o.Events
}

// ApplyBatch applies entries in order under one lock, so that readers see
// either none or all of a batch's effects.
func (t *Tree) ApplyBatch(entries []Entry) []Outcome {
	out := make([]Outcome, len(entries))
	t.mu.Lock()
	defer t.mu.Unlock()
	var events []api.Event
	for i, e := range entries {
		if e.Cmd == nil {
			t.advance(e.Zxid)
			continue
		}
		out[i].Result, out[i].Events = t.apply(e.Zxid, e.Cmd)
		events = append(events, out[i].Events...)
	}
	if t.publish != nil && len(events) > 0 {
		t.publish(events)
	}
	return out
}

func (t *Tree) advance(zxid int64) {
	if zxid > t.applied {
		t.applied = zxid
	}
}

func (t *Tree) apply(zxid int64, cmd *Command) (Result, []api.Event) {
	t.advance(zxid)
	switch cmd.Op {
	case OpCreateSession:
		return Result{Err: t.createSession(cmd)}, nil
	case OpCloseSession, OpExpireSession:
		return t.closeSession(zxid, cmd)
	case OpBarrier:
		return Result{}, nil
	case OpSetMember:
		if cmd.Path == "" {
			return Result{Err: api.Errorf(api.CodeBadArguments, "", "a member needs an id")}, nil
		}
		t.members[cmd.Path] = Member{ID: cmd.Path, RaftAddr: cmd.RaftAddr, HTTPAddr: cmd.HTTPAddr}
		return Result{}, nil
	case OpRemoveMember:
		delete(t.members, cmd.Path)
		return Result{}, nil
	}
	x := t.newTxn(zxid, cmd.Time)
	var res Result
	if cmd.Op == OpMulti {
		res = x.multi(cmd)
	} else {
		var r api.MultiResult
		r, res.Err = x.run(cmd, cmd.Identity)
		res.Path, res.Stat = r.Path, r.Stat
	}
	if res.Err != nil {
		return res, nil
	}
	return res, x.commit()
}

// run applies one node command inside the transaction, for a caller
// holding identity (a multi's ops are its caller's). Every path is
// validated here, before any lookup: a command in the log must never make
// Apply panic, whatever its bytes.
func (x *txn) run(c *Command, identity []string) (api.MultiResult, *api.Error) {
	if c.Op != OpCreate { // create validates its path with the sequential suffix
		if err := ValidatePath(c.Path); err != nil {
			return api.MultiResult{}, err.(*api.Error)
		}
	}
	switch c.Op {
	case OpCreate:
		return x.create(c, identity)
	case OpSetData:
		return x.setData(c, identity)
	case OpDelete:
		return x.delete(c, identity)
	case OpCheck:
		return x.check(c, identity)
	case OpSetACL:
		return x.setACL(c, identity)
	case OpReap:
		return x.reap(c)
	}
	return api.MultiResult{}, api.Errorf(api.CodeBadArguments, c.Path, "operation %s is not allowed here", c.Op)
}

// multi runs the ops in order; the first to fail fails the whole. An op a
// multi does not run fails it before any op runs: such a multi is never
// proposed, and the codec writes it in the legacy layout, which carries
// no ACLs, so its answer must not depend on its other ops.
func (x *txn) multi(c *Command) Result {
	for i := range c.Ops {
		if op := &c.Ops[i]; !runsInMulti(op) || op.has(FlagRecursive|FlagParents) {
			err := api.Errorf(api.CodeBadArguments, op.Path, "operation %s is not allowed in a multi", op.Op)
			return Result{Multi: FailedMulti(len(c.Ops), i, err), Err: withIndex(err, i)}
		}
	}
	results := make([]api.MultiResult, len(c.Ops))
	for i := range c.Ops {
		var err *api.Error
		if results[i], err = x.run(&c.Ops[i], c.Identity); err != nil {
			return Result{Multi: FailedMulti(len(c.Ops), i, err), Err: withIndex(err, i)}
		}
	}
	return Result{Multi: results}
}

// FailedMulti is ZooKeeper's answer to a failed multi: nothing for the ops
// before the failing one, its error, and RuntimeInconsistency after it.
func FailedMulti(n, failed int, err *api.Error) []api.MultiResult {
	results := make([]api.MultiResult, n)
	results[failed].Error = err
	for j := failed + 1; j < n; j++ {
		results[j].Error = &api.Error{Code: api.CodeRuntimeInconsistency, Message: "not applied: an earlier op of the multi failed"}
	}
	return results
}

func withIndex(err *api.Error, i int) *api.Error {
	e := *err
	e.Index = &i
	return &e
}

func checkVersion(n *node, want int32) *api.Error {
	if want != AnyVersion && want != n.version {
		return api.Errorf(api.CodeBadVersion, n.path, "version is %d, not %d", n.version, want)
	}
	return nil
}

func (x *txn) check(c *Command, identity []string) (api.MultiResult, *api.Error) {
	n := x.get(c.Path)
	if n == nil {
		return api.MultiResult{}, noNode(c.Path)
	}
	if !allows(n, identity, api.PermRead) {
		return api.MultiResult{}, api.NoAuth(c.Path, api.PermRead)
	}
	if err := checkVersion(n, c.Version); err != nil {
		return api.MultiResult{}, err
	}
	return api.MultiResult{Op: "check", Path: c.Path}, nil
}

func (x *txn) setData(c *Command, identity []string) (api.MultiResult, *api.Error) {
	if err := checkWritable(c.Path); err != nil {
		return api.MultiResult{}, err
	}
	n := x.get(c.Path)
	if n == nil {
		return api.MultiResult{}, noNode(c.Path)
	}
	if !allows(n, identity, api.PermWrite) {
		return api.MultiResult{}, api.NoAuth(c.Path, api.PermWrite)
	}
	if err := checkVersion(n, c.Version); err != nil {
		return api.MultiResult{}, err
	}
	m := n.clone()
	m.data = string(c.Data)
	m.version++
	m.mzxid = x.zxid
	m.mtime = x.time
	x.put(c.Path, n, m)
	st := m.stat()
	x.emit(api.Event{Type: api.EventNodeDataChanged, Path: c.Path, Stat: &st, ACL: m.acl})
	return api.MultiResult{Op: "set", Path: c.Path, Stat: &st}, nil
}

// checkWritable refuses invalid paths and the reserved subtree.
func checkWritable(p string) *api.Error {
	if err := ValidatePath(p); err != nil {
		return err.(*api.Error)
	}
	if IsReserved(p) {
		return api.Errorf(api.CodeBadArguments, p, "%s is reserved", ReservedPath)
	}
	return nil
}
