package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

const nodesPrefix = "/v1/nodes"

var readParams = []string{"consistency", "min_zxid", "timeout_ms"}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	p, q, err := s.pathAndQuery(r, nodesPrefix, "ephemeral", "sequential", "container", "ttl_ms", "parents", "acl")
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	req := service.CreateRequest{Path: p}
	for name, on := range map[string]*bool{"ephemeral": &req.Ephemeral, "sequential": &req.Sequential,
		"container": &req.Container, "parents": &req.Parents} {
		if *on, err = q.flag(name); err != nil {
			writeError(w, s.svc.Applied(), err)
			return
		}
	}
	if req.ACL, err = aclParams(q); err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	if req.TTLms, err = q.optInt("ttl_ms"); err == nil {
		if req.Session, err = sessionHeader(r); err == nil {
			req.Data, err = s.readData(r, p)
		}
	}
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	res, zxid, err := s.svc.Create(r.Context(), req)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	w.Header().Set("Location", nodesPrefix+escapePath(res.Path))
	writeJSON(w, http.StatusCreated, zxid, res)
}

func (s *Server) setData(w http.ResponseWriter, r *http.Request) {
	p, q, err := s.pathAndQuery(r, nodesPrefix, "version")
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	req := service.SetDataRequest{Path: p}
	if req.Version, err = version(r, q, p); err == nil {
		req.Data, err = s.readData(r, p)
	}
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	res, zxid, err := s.svc.SetData(r.Context(), req)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	w.Header().Set("ETag", etag(res.Stat.Version))
	writeJSON(w, http.StatusOK, zxid, res)
}

func (s *Server) deleteNode(w http.ResponseWriter, r *http.Request) {
	p, q, err := s.pathAndQuery(r, nodesPrefix, "version", "recursive")
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	req := service.DeleteRequest{Path: p}
	if req.Recursive, err = q.flag("recursive"); err == nil {
		req.Version, err = version(r, q, p)
	}
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	zxid, err := s.svc.Delete(r.Context(), req)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	setZxid(w, zxid)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getData(w http.ResponseWriter, r *http.Request) {
	p, q, c, err := s.readRequest(r, nodesPrefix, "raw", "encoding")
	var raw, forceBase64 bool
	if err == nil {
		if raw, err = q.flag("raw"); err == nil {
			if err = q.nonEmpty("encoding"); err == nil {
				forceBase64, err = service.Encoding(q.get("encoding"))
			}
		}
	}
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	node, zxid, err := s.svc.GetData(r.Context(), p, c, nil)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	if raw {
		setStatHeaders(w, node.Stat)
		setZxid(w, zxid)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(node.Data)))
		w.WriteHeader(http.StatusOK)
		_, _ = io.WriteString(w, node.Data)
		return
	}
	w.Header().Set("ETag", etag(node.Stat.Version))
	writeJSON(w, http.StatusOK, zxid, api.NewNodeData(p, node.Data, node.Stat, forceBase64))
}

func (s *Server) headNode(w http.ResponseWriter, r *http.Request) {
	p, _, c, err := s.readRequest(r, nodesPrefix)
	var res service.Exists
	zxid := s.svc.Applied()
	if err == nil {
		res, zxid, err = s.svc.Exists(r.Context(), p, c, nil)
	}
	if err == nil && res.Stat == nil {
		err = api.NoNode(p)
	}
	setZxid(w, zxid)
	if err != nil {
		w.WriteHeader(api.CodeOf(err).Status())
		return
	}
	setStatHeaders(w, *res.Stat)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) exists(w http.ResponseWriter, r *http.Request) {
	p, _, c, err := s.readRequest(r, "/v1/stat")
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	res, zxid, err := s.svc.Exists(r.Context(), p, c, nil)
	if err == nil && res.Stat == nil {
		err = api.NoNode(p)
	}
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	writeJSON(w, http.StatusOK, zxid, api.PathStat{Path: p, Stat: *res.Stat})
}

func (s *Server) children(w http.ResponseWriter, r *http.Request) {
	p, q, c, err := s.readRequest(r, "/v1/children", "limit", "after", "stat")
	req := service.ChildrenRequest{Path: p, After: q.get("after")}
	if err == nil {
		if req.Limit, err = q.intIn("limit", 0, 1, service.MaxListing); err == nil {
			req.WithStat, err = q.flag("stat")
		}
	}
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	page, err := s.svc.Children(r.Context(), req, c, nil)
	if err != nil {
		writeError(w, page.Zxid, err)
		return
	}
	body := api.Children{Path: p, Children: page.Names, Stat: page.Stat, Next: page.Next}
	if req.WithStat {
		kids := make([]api.ChildStat, len(page.Names))
		for i, name := range page.Names {
			kids[i] = api.ChildStat{Name: name, Stat: page.Stats[i]}
		}
		body.Children = kids
	}
	writeJSON(w, http.StatusOK, page.Zxid, body)
}

func (s *Server) tree(w http.ResponseWriter, r *http.Request) {
	p, q, c, err := s.readRequest(r, "/v1/tree", "depth", "limit")
	req := service.DefaultTreeRequest(p)
	if err == nil {
		if req.Depth, err = q.intIn("depth", req.Depth, 0, 1000); err == nil {
			req.Limit, err = q.intIn("limit", req.Limit, 1, service.MaxListing)
		}
	}
	if err != nil {
		writeError(w, s.svc.Applied(), err)
		return
	}
	root, zxid, err := s.svc.Subtree(r.Context(), req, c)
	if err != nil {
		writeError(w, zxid, err)
		return
	}
	writeJSON(w, http.StatusOK, zxid, root)
}

func (s *Server) sync(w http.ResponseWriter, r *http.Request) {
	p, _, err := s.pathAndQuery(r, "/v1/sync")
	zxid := s.svc.Applied()
	if err == nil {
		zxid, err = s.svc.Sync(r.Context(), p)
	}
	if err != nil {
		writeError(w, zxid, err)
		return
	}
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

// readRequest is pathAndQuery for reads: it also reads the consistency
// parameters every read takes.
func (s *Server) readRequest(r *http.Request, prefix string, allowed ...string) (string, query, service.Consistency, error) {
	p, q, err := s.pathAndQuery(r, prefix, append(allowed, readParams...)...)
	if err != nil {
		return p, q, service.Consistency{}, err
	}
	c, err := consistency(q)
	return p, q, c, err
}

// consistency reads ?consistency, ?min_zxid and ?timeout_ms.
func consistency(q query) (service.Consistency, error) {
	c := service.Consistency{Mode: q.get("consistency")}
	err := q.nonEmpty("consistency")
	if err != nil {
		return c, err
	}
	if c.MinZxid, err = q.optInt("min_zxid"); err != nil {
		return c, err
	}
	ms, err := q.intIn("timeout_ms", 0, 1, 600_000)
	c.Timeout = time.Duration(ms) * time.Millisecond
	return c, err
}

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
