package httpapi

import (
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	var req api.SessionRequest
	if err := decodeOptionalJSON(r, &req); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	if req.TimeoutMs < 0 {
		writeError(w, s.store.Applied(), badArgs("", "timeout_ms must not be negative, got %d", req.TimeoutMs))
		return
	}
	sess, zxid, err := s.store.CreateSession(r.Context(), req.TimeoutMs, nil)
	if err != nil {
		writeError(w, s.store.Applied(), err)
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
	if err == nil {
		err = s.consistent(r, q)
	}
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	infos, zxid := s.store.Tree().Sessions()
	out := api.SessionList{Sessions: make([]api.Session, len(infos))}
	for i, info := range infos {
		out.Sessions[i] = s.session(info)
	}
	writeJSON(w, http.StatusOK, zxid, out)
}

func (s *Server) session(info fsm.SessionInfo) api.Session {
	sess := api.Session{ID: info.ID, TimeoutMs: info.TimeoutMs, Ephemerals: info.Ephemerals}
	if left, ok := s.store.SessionRemaining(info.ID); ok {
		ms := left.Milliseconds()
		sess.ExpiresInMs = &ms
	}
	return sess
}

// sessionID reads the {id} of a session route (reads take the read
// consistency parameters).
func (s *Server) sessionID(w http.ResponseWriter, r *http.Request, read bool) (api.ID, bool) {
	var allowed []string
	if read {
		allowed = readParams
	}
	q, err := parseQuery(r, allowed...)
	if err == nil && read {
		err = s.consistent(r, q)
	}
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return 0, false
	}
	raw := chi.URLParam(r, "id")
	id, err := api.ParseID(raw)
	if err != nil || id == 0 {
		writeError(w, s.store.Applied(), badArgs("", "malformed session id %q: want a hex id like 0x1f3a", raw))
		return 0, false
	}
	return id, true
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	id, ok := s.sessionID(w, r, true)
	if !ok {
		return
	}
	info, zxid, err := s.store.Tree().Session(id)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	writeJSON(w, http.StatusOK, zxid, s.session(info))
}

func (s *Server) keepAlive(w http.ResponseWriter, r *http.Request) {
	id, ok := s.sessionID(w, r, false)
	if !ok {
		return
	}
	sess, err := s.store.KeepAlive(r.Context(), id)
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	writeJSON(w, http.StatusOK, s.store.Applied(), sess)
}

func (s *Server) closeSession(w http.ResponseWriter, r *http.Request) {
	id, ok := s.sessionID(w, r, false)
	if !ok {
		return
	}
	if _, zxid, ok := s.propose(w, r, &fsm.Command{Op: fsm.OpCloseSession, Session: id}); ok {
		setZxid(w, zxid)
		w.WriteHeader(http.StatusNoContent)
	}
}
