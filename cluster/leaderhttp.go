package cluster

import (
	"io"
	"net/http"

	"github.com/canopy-coord/canopy/api"
)

// The leader's side of the plain HTTP calls a follower makes (Client):
// keep-alive batches, and proposals and read indexes when the forwarding
// stream cannot be had. Node-to-node plumbing, not operations: they live
// beside the stream, and the API mounts them.

// ServePropose answers POST /v1/internal/propose: an encoded command.
func (s *StreamServer) ServePropose(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		api.WriteError(w, s.leader.Applied(), api.BadArguments("", "reading the request body: %v", err))
		return
	}
	res, zxid, err := s.leader.LeaderPropose(r.Context(), body)
	if err != nil {
		api.WriteError(w, s.leader.Applied(), err)
		return
	}
	api.WriteJSON(w, http.StatusOK, zxid, FromResult(res, zxid))
}

// ServeReadIndex answers POST /v1/internal/readindex.
func (s *StreamServer) ServeReadIndex(w http.ResponseWriter, r *http.Request) {
	index, err := s.leader.LeaderReadIndex(r.Context())
	if err != nil {
		api.WriteError(w, s.leader.Applied(), err)
		return
	}
	api.WriteJSON(w, http.StatusOK, s.leader.Applied(), ReadIndexResult{Index: index})
}

// ServeKeepAlive answers POST /v1/internal/keepalive: a batch of session
// ids, and the ones the leader does not know.
func (s *StreamServer) ServeKeepAlive(w http.ResponseWriter, r *http.Request) {
	var req KeepAliveRequest
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = api.DecodeStrict(body, &req)
	}
	if err != nil {
		api.WriteError(w, s.leader.Applied(), api.BadArguments("", "%v", err))
		return
	}
	unknown := s.leader.LeaderKeepAlive(req.IDs)
	if unknown == nil {
		unknown = []api.ID{}
	}
	api.WriteJSON(w, http.StatusOK, s.leader.Applied(), KeepAliveResult{Unknown: unknown})
}
