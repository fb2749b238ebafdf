package httpapi

import (
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	var req api.SessionRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	sess, zxid, err := s.svc.OpenSession(r.Context(), req.TimeoutMs)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	w.Header().Set("Location", "/v1/sessions/"+sess.ID.String())
	writeJSON(w, http.StatusCreated, zxid, sess)
}

// decodeOptionalJSON is decodeJSON for a body that may be empty.
func decodeOptionalJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return bodyError(err, "")
	}
	if strings.TrimSpace(string(body)) == "" {
		return nil
	}
	return decodeObject(body, v)
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	q, err := parseQuery(r, readParams...)
	var c service.Consistency
	if err == nil {
		c, err = consistency(q)
	}
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	list, zxid, err := s.svc.Sessions(r.Context(), c)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	writeJSON(w, http.StatusOK, zxid, api.SessionList{Sessions: list})
}

// sessionRoute reads the {id} of a session route and, for a read, its
// consistency parameters.
func (s *Server) sessionRoute(r *http.Request, read bool) (api.ID, service.Consistency, error) {
	var allowed []string
	if read {
		allowed = readParams
	}
	q, err := parseQuery(r, allowed...)
	if err != nil {
		return 0, service.Consistency{}, err
	}
	c, err := consistency(q)
	if err != nil {
		return 0, c, err
	}
	id, err := service.ParseSessionID(chi.URLParam(r, "id"))
	return id, c, err
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	id, c, err := s.sessionRoute(r, true)
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	sess, zxid, err := s.svc.Session(r.Context(), id, c)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	writeJSON(w, http.StatusOK, zxid, sess)
}

func (s *Server) keepAlive(w http.ResponseWriter, r *http.Request) {
	id, _, err := s.sessionRoute(r, false)
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	sess, err := s.svc.KeepAlive(r.Context(), id)
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	writeJSON(w, http.StatusOK, s.svc.Applied(), sess)
}

func (s *Server) closeSession(w http.ResponseWriter, r *http.Request) {
	id, _, err := s.sessionRoute(r, false)
	zxid := s.svc.Applied()
	if err == nil {
		zxid, err = s.svc.CloseSession(r.Context(), id)
	}
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	setZxid(w, zxid)
	w.WriteHeader(http.StatusNoContent)
}
