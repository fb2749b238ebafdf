package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"net/http"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

var multiOps = map[string]fsm.Op{
	"create": fsm.OpCreate, "set": fsm.OpSetData, "delete": fsm.OpDelete, "check": fsm.OpCheck,
}

func (s *Server) multi(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	var req api.MultiRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	if req.Ops == nil {
		writeError(w, s.store.Applied(), badArgs("", `the body needs "ops": a list of operations`))
		return
	}
	if len(req.Ops) > s.cfg.MaxMultiOps {
		writeError(w, s.store.Applied(), badArgs("", "a multi holds at most %d ops, got %d", s.cfg.MaxMultiOps, len(req.Ops)))
		return
	}
	if len(req.Ops) == 0 {
		writeJSON(w, http.StatusOK, s.store.Applied(), api.MultiResponse{Results: []api.MultiResult{}})
		return
	}
	session, err := sessionHeader(r)
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	cmd := &fsm.Command{Op: fsm.OpMulti, Ops: make([]fsm.Command, len(req.Ops))}
	for i, op := range req.Ops {
		if err := s.multiOp(op, session, &cmd.Ops[i]); err != nil {
			// Refused before raft, but answered as a multi failure: the
			// caller learns which op was wrong the same way either way.
			e := err.(*api.Error)
			idx := i
			e.Index = &idx
			writeMulti(w, s.store.Applied(), api.MultiResponse{Results: fsm.FailedMulti(len(req.Ops), i, e), Error: e})
			return
		}
	}
	res, zxid, err := s.store.Propose(r.Context(), cmd)
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	writeMulti(w, zxid, api.MultiResponse{Results: res.Multi, Error: res.Err})
}

func writeMulti(w http.ResponseWriter, zxid int64, resp api.MultiResponse) {
	status := http.StatusOK
	if resp.Error != nil {
		status = resp.Error.Code.Status()
	}
	writeJSON(w, status, zxid, resp)
}

// multiOp turns one op of the request into a command.
func (s *Server) multiOp(op api.MultiOp, session api.ID, c *fsm.Command) error {
	kind, ok := multiOps[op.Op]
	if !ok {
		return badArgs(op.Path, `op must be "check", "create", "set" or "delete", got %q`, op.Op)
	}
	*c = fsm.Command{Op: kind, Path: op.Path, Version: fsm.AnyVersion, Session: session, TTL: op.TTLms}
	if op.Version != nil {
		if *op.Version < -1<<31 || *op.Version > 1<<31-1 {
			return badArgs(op.Path, "version must be a 32-bit integer, got %d", *op.Version)
		}
		c.Version = int32(*op.Version)
	}
	switch op.Encoding {
	case "", "utf8":
		c.Data = []byte(op.Data)
	case "base64":
		data, err := base64.StdEncoding.DecodeString(op.Data)
		if err != nil {
			return badArgs(op.Path, "data is not valid base64: %v", err)
		}
		c.Data = data
	default:
		return badArgs(op.Path, `encoding must be "utf8" or "base64", got %q`, op.Encoding)
	}
	if int64(len(c.Data)) > s.cfg.MaxDataBytes {
		return api.Errorf(api.CodeTooLarge, op.Path, "data is over the limit of %d bytes", s.cfg.MaxDataBytes)
	}
	if op.Ephemeral {
		c.Flags |= fsm.FlagEphemeral
	}
	if op.Sequential {
		c.Flags |= fsm.FlagSequential
	}
	if op.Container {
		c.Flags |= fsm.FlagContainer
	}
	if kind != fsm.OpCreate && (c.Flags != 0 || c.TTL != 0) {
		return badArgs(op.Path, "ephemeral, sequential, container and ttl_ms apply to create only")
	}
	if kind == fsm.OpCreate {
		return checkCreatePath(c)
	}
	return validPath(c.Path)
}

// decodeJSON reads a JSON body strictly: unknown fields and trailing data
// are errors.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if berr := bodyError(err, ""); api.CodeOf(berr) == api.CodeTooLarge {
			return berr
		}
		return badArgs("", "malformed JSON body: %v", err)
	}
	if dec.More() {
		return badArgs("", "malformed JSON body: data after the JSON value")
	}
	return nil
}
