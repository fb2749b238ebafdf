package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

const nodesPrefix = "/v1/nodes"

var readParams = []string{"consistency", "min_zxid", "timeout_ms"}

func withReadParams(p ...string) []string { return append(p, readParams...) }

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	p, q, err := s.pathAndQuery(r, nodesPrefix, "ephemeral", "sequential", "container", "ttl_ms", "parents")
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	cmd := &fsm.Command{Op: fsm.OpCreate, Path: p, Version: fsm.AnyVersion}
	if err := createFlags(q, cmd); err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	if cmd.Session, err = sessionHeader(r); err == nil {
		err = checkRequest(cmd)
	}
	if err == nil {
		cmd.Data, err = s.readData(r, p)
	}
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	res, zxid, ok := s.propose(w, r, cmd)
	if !ok {
		return
	}
	w.Header().Set("Location", nodesPrefix+escapePath(res.Path))
	writeJSON(w, http.StatusCreated, zxid, api.PathStat{Path: res.Path, Stat: *res.Stat})
}

// createFlags reads the node kind of a create from the query.
func createFlags(q query, cmd *fsm.Command) error {
	for name, f := range map[string]fsm.Flags{
		"ephemeral": fsm.FlagEphemeral, "sequential": fsm.FlagSequential,
		"container": fsm.FlagContainer, "parents": fsm.FlagParents,
	} {
		on, err := q.flag(name)
		if err != nil {
			return err
		}
		if on {
			cmd.Flags |= f
		}
	}
	ttl, err := q.int("ttl_ms", 0, 1, fsm.MaxTTL)
	cmd.TTL = ttl
	return err
}

// checkRequest refuses early what fsm would refuse, so that bad input
// never costs a raft entry. (It returns a nil error, not a nil *api.Error
// in an error, when all is well.)
func checkRequest(cmd *fsm.Command) error {
	if err := fsm.CheckRequest(cmd); err != nil {
		return err
	}
	return nil
}

// propose commits cmd and renders any failure; ok is false when it did.
func (s *Server) propose(w http.ResponseWriter, r *http.Request, cmd *fsm.Command) (fsm.Result, int64, bool) {
	res, zxid, err := s.store.Propose(r.Context(), cmd)
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return res, zxid, false
	}
	if res.Err != nil {
		writeError(w, zxid, res.Err)
		return res, zxid, false
	}
	return res, zxid, true
}

func (s *Server) setData(w http.ResponseWriter, r *http.Request) {
	p, q, err := s.pathAndQuery(r, nodesPrefix, "version")
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	cmd := &fsm.Command{Op: fsm.OpSetData, Path: p}
	if cmd.Version, err = version(r, q, p); err == nil {
		if err = fsm.ValidatePath(p); err == nil {
			cmd.Data, err = s.readData(r, p)
		}
	}
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	res, zxid, ok := s.propose(w, r, cmd)
	if !ok {
		return
	}
	w.Header().Set("ETag", etag(res.Stat.Version))
	writeJSON(w, http.StatusOK, zxid, api.PathStat{Path: res.Path, Stat: *res.Stat})
}

func (s *Server) deleteNode(w http.ResponseWriter, r *http.Request) {
	p, q, err := s.pathAndQuery(r, nodesPrefix, "version", "recursive")
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	cmd := &fsm.Command{Op: fsm.OpDelete, Path: p}
	recursive, err := q.flag("recursive")
	if err == nil {
		cmd.Version, err = version(r, q, p)
	}
	if err == nil {
		err = fsm.ValidatePath(p)
	}
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	if recursive {
		cmd.Flags |= fsm.FlagRecursive
	}
	if _, zxid, ok := s.propose(w, r, cmd); ok {
		setZxid(w, zxid)
		w.WriteHeader(http.StatusNoContent)
	}
}

func (s *Server) getData(w http.ResponseWriter, r *http.Request) {
	p, q, err := s.readRequest(r, nodesPrefix, withReadParams("raw", "encoding")...)
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	raw, err := q.flag("raw")
	enc := q.get("encoding")
	if err == nil && q.has("encoding") && enc != "base64" && enc != "utf8" {
		err = badArgs(p, "encoding must be base64 or utf8, got %q", enc)
	}
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	data, stat, zxid, err := s.store.Tree().Get(p)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	if raw {
		setStatHeaders(w, stat)
		setZxid(w, zxid)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, data)
		return
	}
	w.Header().Set("ETag", etag(stat.Version))
	writeJSON(w, http.StatusOK, zxid, api.NewNodeData(p, data, stat, enc == "base64"))
}

func (s *Server) headNode(w http.ResponseWriter, r *http.Request) {
	p, _, err := s.readRequest(r, nodesPrefix, readParams...)
	if err != nil {
		setZxid(w, s.store.Applied())
		w.WriteHeader(api.CodeOf(err).Status())
		return
	}
	stat, zxid, err := s.store.Tree().Stat(p)
	setZxid(w, zxid)
	if err != nil {
		w.WriteHeader(api.CodeOf(err).Status())
		return
	}
	setStatHeaders(w, stat)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) exists(w http.ResponseWriter, r *http.Request) {
	p, _, err := s.readRequest(r, "/v1/stat", readParams...)
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	stat, zxid, err := s.store.Tree().Stat(p)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	writeJSON(w, http.StatusOK, zxid, api.PathStat{Path: p, Stat: stat})
}

// maxListing bounds one children page or subtree answer.
const maxListing = 100000

func (s *Server) children(w http.ResponseWriter, r *http.Request) {
	p, q, err := s.readRequest(r, "/v1/children", withReadParams("limit", "after", "stat")...)
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	limit, err := q.int("limit", 0, 1, maxListing)
	var withStat bool
	if err == nil {
		withStat, err = q.flag("stat")
	}
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	page, err := s.store.Tree().Children(p, q.get("after"), int(limit), withStat)
	if err != nil {
		writeError(w, page.Zxid, err)
		return
	}
	body := api.Children{Path: p, Children: page.Names, Stat: page.Stat, Next: page.Next}
	if withStat {
		kids := make([]api.ChildStat, len(page.Names))
		for i, name := range page.Names {
			kids[i] = api.ChildStat{Name: name, Stat: page.Stats[i]}
		}
		body.Children = kids
	}
	writeJSON(w, http.StatusOK, page.Zxid, body)
}

func (s *Server) tree(w http.ResponseWriter, r *http.Request) {
	p, q, err := s.readRequest(r, "/v1/tree", withReadParams("depth", "limit")...)
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	depth, err := q.int("depth", 1, 0, 1000)
	var limit int64
	if err == nil {
		limit, err = q.int("limit", 10000, 1, maxListing)
	}
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	root, zxid, err := s.store.Tree().Subtree(p, int(depth), int(limit))
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	writeJSON(w, http.StatusOK, zxid, root)
}

func (s *Server) sync(w http.ResponseWriter, r *http.Request) {
	p, _, err := s.pathAndQuery(r, "/v1/sync")
	if err == nil {
		err = fsm.ValidatePath(p)
	}
	if err == nil {
		err = s.store.Linearize(r.Context())
	}
	if err != nil {
		writeError(w, s.store.Applied(), err)
		return
	}
	zxid := s.store.Applied()
	writeJSON(w, http.StatusOK, zxid, api.SyncResult{Zxid: zxid})
}

// pathAndQuery reads the node path after prefix and the route's parameters.
func (s *Server) pathAndQuery(r *http.Request, prefix string, allowed ...string) (string, query, error) {
	p, err := s.nodePath(r, prefix)
	if err != nil {
		return "", query{}, err
	}
	q, err := parseQuery(r, allowed...)
	return p, q, err
}

// readRequest is pathAndQuery for reads: it also validates the path and
// waits for the consistency the request asks for.
func (s *Server) readRequest(r *http.Request, prefix string, allowed ...string) (string, query, error) {
	p, q, err := s.pathAndQuery(r, prefix, allowed...)
	if err == nil {
		err = fsm.ValidatePath(p)
	}
	if err == nil {
		err = s.consistent(r, q)
	}
	return p, q, err
}

// consistent waits until the local tree may answer: linearizable by default,
// at once with consistency=stale, after zxid N with min_zxid=N.
func (s *Server) consistent(r *http.Request, q query) error {
	mode := q.get("consistency")
	if q.has("consistency") && mode != "linearizable" && mode != "stale" {
		return badArgs("", "consistency must be linearizable or stale, got %q", mode)
	}
	minZxid, err := q.int("min_zxid", 0, 0, 1<<62)
	if err != nil {
		return err
	}
	timeout, err := q.int("timeout_ms", 10000, 1, 600000)
	if err != nil {
		return err
	}
	if mode == "linearizable" || (mode == "" && !q.has("min_zxid")) {
		// A read never waits past the server's own deadline: 504, not a hang.
		ctx, cancel := context.WithTimeout(r.Context(), readDeadline)
		err := s.store.Await(ctx, true, 0)
		cancel()
		if err != nil {
			return err
		}
	}
	if minZxid <= s.store.Applied() {
		return nil // a stale read, or min_zxid already applied: no timer needed
	}
	// timeout_ms bounds the wait for min_zxid alone.
	ctx, cancel := context.WithTimeout(r.Context(), time.Duration(timeout)*time.Millisecond)
	defer cancel()
	return s.store.Await(ctx, false, minZxid)
}

// readDeadline bounds the consistency wait of a read.
const readDeadline = 10 * time.Second

func etag(version int32) string { return `"` + strconv.Itoa(int(version)) + `"` }

func setStatHeaders(w http.ResponseWriter, stat api.Stat) {
	w.Header().Set("ETag", etag(stat.Version))
	b, _ := json.Marshal(stat)
	w.Header().Set(headerStat, string(b))
}

// escapePath percent-encodes each segment of a znode path for a URL.
func escapePath(p string) string {
	if p == "/" {
		return "/"
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return "/" + strings.Join(segs, "/")
}
