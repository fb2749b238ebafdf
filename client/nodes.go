package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/api"
)

// The API's types, under the client's name.
type (
	Stat      = api.Stat
	Event     = api.Event
	EventType = api.EventType
	ChildStat = api.ChildStat
	TreeNode  = api.TreeNode
	ID        = api.ID
)

// AnyVersion matches every version in Set, Delete and CheckOp.
const AnyVersion int32 = -1

// Node is a node's data and Stat.
type Node struct {
	Path string
	Data []byte
	Stat Stat
}

// CreateOptions are the kinds of node Create makes (ZooKeeper's create
// modes) and whether missing ancestors are made too.
type CreateOptions struct {
	// Ephemeral nodes belong to the session of the call (a Session's
	// Create) and go when it ends.
	Ephemeral bool
	// Sequential appends a 10-digit counter to the name, unique under the
	// parent.
	Sequential bool
	// Container nodes are deleted by the server once their last child goes.
	Container bool
	// TTL > 0 makes a node the server deletes when it has had no change and
	// no children for that long.
	TTL time.Duration
	// Parents creates missing ancestors as persistent nodes.
	Parents bool
	// ACL is the new node's access list (api.ParseACLList reads zkCli's
	// "digest:alice:<hash>:cdrwa,world:anyone:r"); none gives the server's
	// default: world:anyone:cdrwa, or creator-all on a server that requires
	// authentication.
	ACL []api.ACL
}

// Create makes a node and returns its actual path (with the sequence
// number of a sequential node) and Stat. opts may be nil.
func (c *Client) Create(ctx context.Context, path string, data []byte, opts *CreateOptions) (string, Stat, error) {
	q := url.Values{}
	if opts != nil {
		for _, f := range []struct {
			on   bool
			name string
		}{{opts.Ephemeral, "ephemeral"}, {opts.Sequential, "sequential"}, {opts.Container, "container"}, {opts.Parents, "parents"}} {
			if f.on {
				q.Set(f.name, "")
			}
		}
		if opts.TTL > 0 {
			q.Set("ttl_ms", strconv.FormatInt(opts.TTL.Milliseconds(), 10))
		}
		aclQuery(q, opts.ACL)
	}
	if data == nil {
		data = []byte{}
	}
	var out api.PathStat
	err := c.call(ctx, &request{method: http.MethodPost, route: "/v1/nodes", path: path, node: true, query: q, body: data}, &out)
	return out.Path, out.Stat, err
}

// Get returns a node's data and Stat.
func (c *Client) Get(ctx context.Context, path string) (Node, error) {
	resp, err := c.do(ctx, &request{method: http.MethodGet, route: "/v1/nodes", path: path, node: true,
		query: url.Values{"raw": {""}}, idempotent: true, read: true})
	if err != nil {
		return Node{}, err
	}
	var stat Stat
	if err := json.Unmarshal([]byte(resp.header.Get("Canopy-Stat")), &stat); err != nil {
		return Node{}, fmt.Errorf("canopy: bad Canopy-Stat header %q: %v", resp.header.Get("Canopy-Stat"), err)
	}
	return Node{Path: path, Data: resp.body, Stat: stat}, nil
}

// Exists returns a node's Stat, and false (with no error) when there is no
// such node.
func (c *Client) Exists(ctx context.Context, path string) (Stat, bool, error) {
	stat, err := c.Stat(ctx, path)
	if api.CodeOf(err) == api.CodeNoNode {
		return Stat{}, false, nil
	}
	return stat, err == nil, err
}

// Stat returns a node's Stat; ErrNoNode when there is no such node.
func (c *Client) Stat(ctx context.Context, path string) (Stat, error) {
	var out api.PathStat
	err := c.call(ctx, &request{method: http.MethodGet, route: "/v1/stat", path: path, node: true, idempotent: true, read: true}, &out)
	return out.Stat, err
}

// Set replaces a node's data if its version is version (AnyVersion: any),
// and returns the new Stat.
func (c *Client) Set(ctx context.Context, path string, data []byte, version int32) (Stat, error) {
	if data == nil {
		data = []byte{}
	}
	var out api.PathStat
	err := c.call(ctx, &request{method: http.MethodPut, route: "/v1/nodes", path: path, node: true, query: versionQuery(version), body: data}, &out)
	return out.Stat, err
}

// Delete deletes a childless node if its version is version (AnyVersion:
// any).
func (c *Client) Delete(ctx context.Context, path string, version int32) error {
	return c.call(ctx, &request{method: http.MethodDelete, route: "/v1/nodes", path: path, node: true, query: versionQuery(version)}, nil)
}

// DeleteAll deletes a node and everything below it, atomically.
func (c *Client) DeleteAll(ctx context.Context, path string) error {
	return c.call(ctx, &request{method: http.MethodDelete, route: "/v1/nodes", path: path, node: true, query: url.Values{"recursive": {""}}}, nil)
}

func versionQuery(v int32) url.Values {
	if v == AnyVersion {
		return nil
	}
	return url.Values{"version": {strconv.FormatInt(int64(v), 10)}}
}

// Children returns the sorted names of a node's children and its Stat.
func (c *Client) Children(ctx context.Context, path string) ([]string, Stat, error) {
	var out struct {
		Children []string `json:"children"`
		Stat     Stat     `json:"stat"`
	}
	err := c.call(ctx, &request{method: http.MethodGet, route: "/v1/children", path: path, node: true, idempotent: true, read: true}, &out)
	return out.Children, out.Stat, err
}

// ChildrenPage is one page of a child listing.
type ChildrenPage struct {
	Children []ChildStat
	// Stat is the parent's.
	Stat Stat
	// Next is the name to pass as after for the next page; "" on the last.
	Next string
}

// ChildrenStat returns up to limit children (0: all) with their Stats,
// starting after the name after ("" from the first). Pages of a huge
// listing are each consistent, not with one another.
func (c *Client) ChildrenStat(ctx context.Context, path, after string, limit int) (ChildrenPage, error) {
	q := url.Values{"stat": {""}}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Children []ChildStat `json:"children"`
		Stat     Stat        `json:"stat"`
		Next     string      `json:"next"`
	}
	err := c.call(ctx, &request{method: http.MethodGet, route: "/v1/children", path: path, node: true, query: q, idempotent: true, read: true}, &out)
	return ChildrenPage{Children: out.Children, Stat: out.Stat, Next: out.Next}, err
}

// Tree returns a node and its descendants down to depth levels below it
// (depth 1: its children), at most limit nodes in all (0: the server's
// default of 10,000). A node whose children were not all listed has
// Truncated set.
func (c *Client) Tree(ctx context.Context, path string, depth, limit int) (*TreeNode, error) {
	q := url.Values{"depth": {strconv.Itoa(depth)}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out TreeNode
	if err := c.call(ctx, &request{method: http.MethodGet, route: "/v1/tree", path: path, node: true, query: q, idempotent: true, read: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Sync waits until the answering server has applied everything committed
// before the call, and returns that zxid (ZooKeeper's sync).
func (c *Client) Sync(ctx context.Context, path string) (int64, error) {
	var out api.SyncResult
	err := c.call(ctx, &request{method: http.MethodPost, route: "/v1/sync", path: path, node: true, idempotent: true}, &out)
	return out.Zxid, err
}

// Op is one operation of a Multi; make them with CreateOp, SetOp, DeleteOp
// and CheckOp.
type Op = api.MultiOp

// CreateOp creates a node within a Multi (opts.Parents does not apply).
func CreateOp(path string, data []byte, opts *CreateOptions) Op {
	op := Op{Op: "create", Path: path}
	setOpData(&op, data)
	if opts != nil {
		op.Ephemeral, op.Sequential, op.Container = opts.Ephemeral, opts.Sequential, opts.Container
		op.ACL = opts.ACL
		if opts.TTL != 0 {
			ttl := opts.TTL.Milliseconds()
			op.TTLms = &ttl
		}
	}
	return op
}

// SetOp sets a node's data within a Multi.
func SetOp(path string, data []byte, version int32) Op {
	op := Op{Op: "set", Path: path, Version: opVersion(version)}
	setOpData(&op, data)
	return op
}

// DeleteOp deletes a node within a Multi.
func DeleteOp(path string, version int32) Op {
	return Op{Op: "delete", Path: path, Version: opVersion(version)}
}

// CheckOp makes a Multi fail unless the node's version is version.
func CheckOp(path string, version int32) Op {
	return Op{Op: "check", Path: path, Version: opVersion(version)}
}

func opVersion(v int32) *int64 {
	if v == AnyVersion {
		return nil
	}
	n := int64(v)
	return &n
}

func setOpData(op *Op, data []byte) {
	op.Data = base64.StdEncoding.EncodeToString(data)
	op.Encoding = "base64"
	if len(data) == 0 {
		op.Data, op.Encoding = "", ""
	}
}

// OpResult is the outcome of one op of a successful Multi: the path (the
// actual one for a sequential create), and the Stat of a create or set.
type OpResult struct {
	Op   string
	Path string
	Stat *Stat
}

// Multi applies ops atomically: all or none. When one fails, the error is
// that op's (its Index field says which) and nothing was applied.
func (c *Client) Multi(ctx context.Context, ops ...Op) ([]OpResult, error) {
	if ops == nil {
		ops = []Op{}
	}
	body, err := json.Marshal(api.MultiRequest{Ops: ops})
	if err != nil {
		return nil, err
	}
	var out api.MultiResponse
	if err := c.call(ctx, &request{method: http.MethodPost, route: "/v1/multi", body: body}, &out); err != nil {
		return nil, err
	}
	res := make([]OpResult, len(out.Results))
	for i, r := range out.Results {
		res[i] = OpResult{Op: r.Op, Path: r.Path, Stat: r.Stat}
	}
	return res, nil
}

// FailedOp returns the index of the op that made a Multi fail, if err
// is that failure.
func FailedOp(err error) (int, bool) {
	var e *api.Error
	if errors.As(err, &e) && e.Index != nil {
		return *e.Index, true
	}
	return 0, false
}

// call does req and decodes a JSON answer into out (when not nil).
func (c *Client) call(ctx context.Context, req *request, out any) error {
	resp, err := c.do(ctx, req)
	if err != nil {
		return err
	}
	if out == nil || len(resp.body) == 0 {
		return nil
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return fmt.Errorf("canopy: undecodable answer to %s %s: %v", req.method, req.route, err)
	}
	return nil
}

// nodeRoute is prefix followed by path, each segment percent-encoded.
func nodeRoute(prefix, path string) string {
	if path == "" || path == "/" {
		return prefix + "/"
	}
	var b strings.Builder
	b.WriteString(prefix)
	for _, seg := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(seg))
	}
	return b.String()
}
