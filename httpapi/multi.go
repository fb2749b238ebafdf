package httpapi

import (
	"bytes"
	"io"
	"net/http"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

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
		c, e := fsm.CommandFromOp(op, session, s.cfg.MaxDataBytes)
		if e != nil {
			// Refused before raft, but answered as a multi failure: the
			// caller learns which op was wrong the same way either way.
			idx := i
			e.Index = &idx
			writeMulti(w, s.store.Applied(), api.MultiResponse{Results: fsm.FailedMulti(len(req.Ops), i, e), Error: e})
			return
		}
		cmd.Ops[i] = c
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

// decodeJSON reads a JSON object body strictly: unknown fields (matched
// case-sensitively), other JSON types and trailing data are errors.
func decodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err, "")
	}
	return decodeObject(body, v)
}

func decodeObject(body []byte, v any) error {
	if b := bytes.TrimSpace(body); len(b) == 0 || b[0] != '{' {
		return badArgs("", "the body must be a JSON object")
	}
	if err := api.DecodeStrict(body, v); err != nil {
		return badArgs("", "%v", err)
	}
	return nil
}
