package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/cluster"
)

func (s *Server) clusterInfo(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	info, err := s.store.Cluster()
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	writeJSON(w, http.StatusOK, s.store.Applied(), info)
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request) {
	var req api.MemberRequest
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	if req.ID == "" || req.Raft == "" {
		writeError(w, s.store.Applied(), badArgs("", `a member needs "id" and "raft" (and "http", its API address)`))
		return
	}
	if err := s.store.AddMember(r.Context(), req); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	w.Header().Set("Location", "/v1/cluster/members/"+req.ID)
	writeJSON(w, http.StatusCreated, s.store.Applied(), api.Member{ID: req.ID, HTTP: req.HTTP, Raft: req.Raft, Voter: req.Voter})
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	if err := s.store.RemoveMember(r.Context(), chi.URLParam(r, "id")); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	setZxid(w, s.store.Applied())
	w.WriteHeader(http.StatusNoContent)
}

// The leader's side of forwarding: a follower's proposal, read index and
// keep-alives (cluster.Client is the caller).

func (s *Server) internalPropose(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, s.store.Applied(), bodyError(err, ""))
		return
	}
	res, zxid, err := s.store.LeaderPropose(r.Context(), body)
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	writeJSON(w, http.StatusOK, zxid, cluster.FromResult(res, zxid))
}

// internalStream upgrades a follower's connection to the forwarding
// stream, which carries its proposals and read-index requests many at a
// time (cluster.StreamServer).
func (s *Server) internalStream(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(r.Header.Get("Upgrade"), cluster.StreamProtocol) {
		writeError(w, s.store.Applied(), api.Errorf(api.CodeBadArguments, "", "this endpoint needs Upgrade: %s", cluster.StreamProtocol))
		return
	}
	if err := s.streams.Upgrade(w); err != nil {
		writeError(w, s.store.Applied(), api.Errorf(api.CodeSystemError, "", "cannot upgrade: %v", err))
	}
}

func (s *Server) internalReadIndex(w http.ResponseWriter, r *http.Request) {
	index, err := s.store.LeaderReadIndex(r.Context())
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	writeJSON(w, http.StatusOK, s.store.Applied(), cluster.ReadIndexResult{Index: index})
}

func (s *Server) internalKeepAlive(w http.ResponseWriter, r *http.Request) {
	var req cluster.KeepAliveRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	unknown := s.store.LeaderKeepAlive(req.IDs)
	if unknown == nil {
		unknown = []api.ID{}
	}
	writeJSON(w, http.StatusOK, s.store.Applied(), cluster.KeepAliveResult{Unknown: unknown})
}

// backup streams a consistent snapshot of the tree, after a linearizable
// check so that it holds every write acknowledged before the request.
func (s *Server) backup(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	if err := s.store.Linearize(r.Context()); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	zxid := s.store.Applied()
	setZxid(w, zxid)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="canopy-%d.snap"`, zxid))
	if _, err := s.store.WriteBackup(w); err != nil {
		s.log.Error().Err(err).Msg("writing a backup") // headers are gone: the client sees a cut stream
	}
}

// restoreBackup replaces the cluster's state with an uploaded backup.
func (s *Server) restoreBackup(w http.ResponseWriter, r *http.Request) {
	if _, err := parseQuery(r); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	if r.ContentLength <= 0 {
		writeError(w, s.store.Applied(), badArgs("", "send the backup with its Content-Length"))
		return
	}
	if err := s.store.RestoreBackup(r.Context(), r.Body, r.ContentLength); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	setZxid(w, s.store.Applied())
	w.WriteHeader(http.StatusNoContent)
}
