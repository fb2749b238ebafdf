package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

const aclPrefix = "/v1/acl"

// aclParams reads a create's ?acl=scheme:id:perms (repeatable); none is
// nil, the server's default.
func aclParams(q query) ([]api.ACL, error) {
	vals, ok := q.values["acl"]
	if !ok {
		return nil, nil
	}
	list := make([]api.ACL, 0, len(vals))
	for _, v := range vals {
		a, err := api.ParseACL(v)
		if err != nil {
			return nil, err
		}
		list = append(list, a)
	}
	return list, nil
}

// getACL answers GET /v1/acl/{path}: the node's ACL and stat.
func (s *Server) getACL(w http.ResponseWriter, r *http.Request) {
	p, _, c, err := s.readRequest(r, aclPrefix)
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	res, zxid, err := s.svc.GetACL(r.Context(), p, c)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	writeJSON(w, http.StatusOK, zxid, res)
}

// setACL answers PUT /v1/acl/{path}?aversion=N with {"acl": [...]}.
func (s *Server) setACL(w http.ResponseWriter, r *http.Request) {
	p, q, err := s.pathAndQuery(r, aclPrefix, "aversion")
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	req := service.SetACLRequest{Path: p}
	if req.AVersion, err = q.optInt("aversion"); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	var body api.SetACLRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, s.svc.Applied(), bodyError(err, p))
		return
	}
	if body.ACL == nil {
		writeError(w, s.svc.Applied(), api.InvalidACL(p, `the body needs "acl": a list of {"scheme", "id", "perms"}`))
		return
	}
	req.ACL = body.ACL
	res, zxid, err := s.svc.SetACL(r.Context(), req)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	writeJSON(w, http.StatusOK, zxid, res)
}
