package httpapi

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/cluster"
)

func (s *Server) clusterInfo(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	info, err := s.svc.Cluster()
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	writeJSON(w, http.StatusOK, s.svc.Applied(), info)
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) {
	var req api.MemberRequest
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	if err := s.svc.AddMember(r.Context(), req); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	w.Header().Set("Location", "/v1/cluster/members/"+req.ID)
	writeJSON(w, http.StatusCreated, s.svc.Applied(), api.Member{ID: req.ID, HTTP: req.HTTP, Raft: req.Raft, Voter: req.Voter})
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	if err := s.svc.RemoveMember(r.Context(), chi.URLParam(r, "id")); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	setZxid(w, s.svc.Applied())
	w.WriteHeader(http.StatusNoContent)
}

// The leader's side of forwarding: a follower's proposal, read index and
// keep-alives (cluster.Client is the caller).

// internalStream upgrades a follower's connection to the forwarding
// stream, which carries its proposals and read-index requests many at a
// time (cluster.StreamServer).
func (s *Server) internalStream(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), cluster.StreamProtocol) {
		writeError(w, s.svc.Applied(), api.Errorf(api.CodeBadArguments, "", "this endpoint needs Upgrade: %s", cluster.StreamProtocol))
		return
	}
	if s.cfg.Stream == nil {
		writeError(w, s.svc.Applied(), api.Errorf(api.CodeNotFound, "", "this node serves no forwarding stream"))
		return
	}
	if err := s.cfg.Stream.Upgrade(w); err != nil {
		writeError(w, s.svc.Applied(), api.Errorf(api.CodeSystemError, "", "cannot upgrade: %v", err))
	}
}

// backup streams a consistent snapshot of the tree, after a linearizable
// check so that it holds every write acknowledged before the request.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	started := false
	err := s.svc.Backup(r.Context(), w, func(zxid int64) {
		started = true
		setZxid(w, zxid)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="canopy-%d.snap"`, zxid))
	})
	switch {
	case err != nil && !started:
		writeError(w, s.svc.Applied(), err)
	case err != nil:
		s.log.Error().Err(err).Msg("writing a backup") // headers are gone: the client sees a cut stream
	}
}

// restoreBackup replaces the cluster's state with an uploaded backup.
func (s *Server) restoreBackup(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	if err := s.svc.Restore(r.Context(), r.Body, r.ContentLength); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	setZxid(w, s.svc.Applied())
	w.WriteHeader(http.StatusNoContent)
}
