package httpapi

import (
	"bytes"
	"io"
	"net/http"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

func (s *Server) multi(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	var body api.MultiRequest
	err := decodeJSON(r, &body)
	req := service.MultiRequest{Ops: body.Ops}
	if err == nil {
		req.Session, err = sessionHeader(r)
	}
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	resp, zxid, err := s.svc.Multi(r.Context(), req)
	if err != nil && resp.Results == nil {
		writeError(w, zxid, err) // not an op's failure: no per-op results
		return
	}
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
