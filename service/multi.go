package service

import (
	"context"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// MultiRequest is a transaction: every op applies, or none. Ops nil (the
// body or frame has no "ops") is refused; an empty list succeeds.
type MultiRequest struct {
	Ops     []api.MultiOp
	Session api.ID
}

// Multi applies the ops atomically. On failure the error is the failing
// op's (with its index), and the response holds ZooKeeper's per-op
// results all the same: {} for the ops before it, its error, and
// RuntimeInconsistency after it; nothing was applied. An op refused before
// raft is answered exactly as one the state machine refused.
func (s *Service) Multi(ctx context.Context, req MultiRequest) (api.MultiResponse, int64, error) {
	if req.Ops == nil {
		return api.MultiResponse{}, s.node.Applied(), api.BadArguments("", `a multi needs "ops": a list of operations`)
	}
	if len(req.Ops) > s.limits.MaxMultiOps {
		return api.MultiResponse{}, s.node.Applied(), api.BadArguments("", "a multi holds at most %d ops, got %d", s.limits.MaxMultiOps, len(req.Ops))
	}
	if len(req.Ops) == 0 {
		return api.MultiResponse{Results: []api.MultiResult{}}, s.node.Applied(), nil
	}
	cmd := &fsm.Command{Op: fsm.OpMulti, Ops: make([]fsm.Command, len(req.Ops))}
	for i, op := range req.Ops {
		c, err := s.commandFromOp(ctx, op, req.Session)
		if err != nil {
			e := withIndex(err, i)
			return api.MultiResponse{Results: fsm.FailedMulti(len(req.Ops), i, e), Error: e}, s.node.Applied(), e
		}
		cmd.Ops[i] = c
	}
	res, zxid, err := s.propose(ctx, cmd)
	if err != nil && res.Err == nil {
		return api.MultiResponse{}, zxid, err
	}
	if res.Err != nil {
		return api.MultiResponse{Results: res.Multi, Error: res.Err}, zxid, res.Err
	}
	return api.MultiResponse{Results: res.Multi}, zxid, nil
}

// withIndex copies err as an *api.Error naming the failing op.
func withIndex(err error, i int) *api.Error {
	e, ok := err.(*api.Error)
	if !ok {
		e = &api.Error{Code: api.CodeSystemError, Message: err.Error()}
	}
	out := *e
	out.Index = &i
	return &out
}

// commandFromOp builds one op of a multi with the same rules as the
// operation it names.
func (s *Service) commandFromOp(ctx context.Context, op api.MultiOp, session api.ID) (fsm.Command, error) {
	switch op.Op {
	case "create", "set", "delete", "check":
	default:
		return fsm.Command{}, unknownOp(op)
	}
	if op.Op != "create" && (op.Ephemeral || op.Sequential || op.Container || op.TTLms != nil || op.ACL != nil) {
		return fsm.Command{}, api.BadArguments(op.Path, "ephemeral, sequential, container, ttl_ms and acl apply to create only")
	}
	data, err := DecodeData(op.Path, op.Data, op.Encoding)
	if err != nil {
		return fsm.Command{}, err
	}
	switch op.Op {
	case "create":
		return s.createCommand(ctx, CreateRequest{Path: op.Path, Data: data, Ephemeral: op.Ephemeral,
			Sequential: op.Sequential, Container: op.Container, TTLms: op.TTLms, Session: session, ACL: op.ACL})
	case "set":
		return s.setCommand(SetDataRequest{Path: op.Path, Data: data, Version: op.Version})
	case "delete":
		return s.deleteCommand(DeleteRequest{Path: op.Path, Version: op.Version})
	case "check":
		return s.checkCommand(op.Path, op.Version)
	}
	return fsm.Command{}, unknownOp(op)
}

func unknownOp(op api.MultiOp) error {
	return api.BadArguments(op.Path, `op must be "check", "create", "set" or "delete", got %q`, op.Op)
}
