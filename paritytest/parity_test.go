package paritytest

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testnode"
)

// op is one operation in a transport-neutral form: the fields of a
// WebSocket frame, which REST spells as path, query and body.
type op struct {
	Op          string // create, setData, delete, getData, exists, getChildren, multi, sync
	Path        string
	Data        string
	Encoding    string
	Version     any // nil, or a number (int64 or float64) sent as is
	Ephemeral   bool
	Sequential  bool
	Container   bool
	TTLms       *int64
	Parents     bool
	Recursive   bool
	Consistency string
	MinZxid     *int64
	// Ops is a multi's list; NoOps sends a multi without "ops".
	Ops   []map[string]any
	NoOps bool
	// Session runs the op within a session (a header over REST, an
	// attached socket over WebSocket).
	Session bool
}

// outcome is what a user sees of an op, normalized across transports:
// "ok" or the error code, the failing op's index, and the result's
// fields that do not depend on the transport (zxids and times do not go
// in; versions, lengths and names do).
type outcome struct {
	Code    string
	Index   *int
	Result  string
	Results []string // a multi's per-op outcomes, failed or not
}

func (o outcome) String() string {
	idx := ""
	if o.Index != nil {
		idx = fmt.Sprintf(" index=%d", *o.Index)
	}
	return fmt.Sprintf("%s%s %s %v", o.Code, idx, o.Result, o.Results)
}

// transport sends an op to a node and reports its outcome. REST and
// WebSocket are the two today; another joins the test by implementing it.
type transport interface {
	name() string
	run(t *testing.T, o op, session api.ID) outcome
}

type parityCase struct {
	name  string
	setup []string // nodes to create (persistent, empty) under /p first
	op    op
	want  string // the expected code: "ok" or an api.Code
}

func ptr[T any](v T) *T { return &v }

func cases() []parityCase {
	long := "/p/" + strings.Repeat("x", 5000)
	justOver := "/p/" + strings.Repeat("y", 4096-3-10+1) // with a sequential suffix: 4,097 bytes
	manyOps := make([]map[string]any, 1001)
	for i := range manyOps {
		manyOps[i] = map[string]any{"op": "check", "path": "/p"}
	}
	var c []parityCase
	add := func(name string, want string, o op, setup ...string) {
		c = append(c, parityCase{name: name, setup: setup, op: o, want: want})
	}
	// Creates.
	add("create", "ok", op{Op: "create", Path: "/p/a", Data: "hello"})
	add("create exists", "NodeExists", op{Op: "create", Path: "/p/a"}, "/p/a")
	add("create no parent", "NoNode", op{Op: "create", Path: "/p/x/y"})
	add("create parents", "ok", op{Op: "create", Path: "/p/x/y", Parents: true})
	add("create sequential", "ok", op{Op: "create", Path: "/p/s-", Sequential: true}, "/p/s-a")
	add("create sequential under a trailing slash", "ok", op{Op: "create", Path: "/p/", Sequential: true})
	add("create ephemeral in a session", "ok", op{Op: "create", Path: "/p/e", Ephemeral: true, Session: true})
	add("create ephemeral without a session", "BadArguments", op{Op: "create", Path: "/p/e", Ephemeral: true})
	add("create container", "ok", op{Op: "create", Path: "/p/c", Container: true})
	add("create ttl", "ok", op{Op: "create", Path: "/p/t", TTLms: ptr(int64(60000))})
	add("create ttl 0", "BadArguments", op{Op: "create", Path: "/p/t", TTLms: ptr(int64(0))})
	add("create ttl negative", "BadArguments", op{Op: "create", Path: "/p/t", TTLms: ptr(int64(-5))})
	add("create ttl past ZooKeeper's largest", "BadArguments", op{Op: "create", Path: "/p/t", TTLms: ptr(int64(1 << 40))})
	add("create container ephemeral", "BadArguments", op{Op: "create", Path: "/p/c", Container: true, Ephemeral: true, Session: true})
	add("create ttl ephemeral", "BadArguments", op{Op: "create", Path: "/p/t", TTLms: ptr(int64(1000)), Ephemeral: true, Session: true})
	add("create child of an ephemeral", "NoChildrenForEphemerals", op{Op: "create", Path: "/p/e2/kid"}, "!ephemeral /p/e2")
	add("create data at the limit", "ok", op{Op: "create", Path: "/p/big", Data: strings.Repeat("d", 1<<20)})
	add("create data over the limit", "TooLarge", op{Op: "create", Path: "/p/big", Data: strings.Repeat("d", 1<<20+1)})
	add("create path over the limit", "BadArguments", op{Op: "create", Path: long})
	add("create sequential path over the limit with its suffix", "BadArguments", op{Op: "create", Path: justOver, Sequential: true})
	add("create under /zookeeper", "BadArguments", op{Op: "create", Path: "/zookeeper/x"})
	for _, p := range []string{"/p/a/", "/p//a", "/p/.", "/p/..", "/p/a\u0001", "/p/\u00ad\u0080"} {
		add("create bad path "+fmt.Sprintf("%q", p), "BadArguments", op{Op: "create", Path: p})
	}
	// setData and delete.
	add("setData", "ok", op{Op: "setData", Path: "/p/a", Data: "v1"}, "/p/a")
	add("setData matching version", "ok", op{Op: "setData", Path: "/p/a", Data: "v1", Version: int64(0)}, "/p/a")
	add("setData version -1", "ok", op{Op: "setData", Path: "/p/a", Data: "v1", Version: int64(-1)}, "/p/a")
	add("setData wrong version", "BadVersion", op{Op: "setData", Path: "/p/a", Version: int64(3)}, "/p/a")
	add("setData version -2", "BadVersion", op{Op: "setData", Path: "/p/a", Version: int64(-2)}, "/p/a")
	add("setData version past int32", "BadArguments", op{Op: "setData", Path: "/p/a", Version: int64(1 << 31)}, "/p/a")
	add("setData version not an integer", "BadArguments", op{Op: "setData", Path: "/p/a", Version: 1.5}, "/p/a")
	add("setData missing", "NoNode", op{Op: "setData", Path: "/p/none"})
	add("setData over the limit", "TooLarge", op{Op: "setData", Path: "/p/a", Data: strings.Repeat("d", 1<<20+1)}, "/p/a")
	add("setData path over the limit", "BadArguments", op{Op: "setData", Path: long})
	add("delete", "ok", op{Op: "delete", Path: "/p/a"}, "/p/a")
	add("delete not empty", "NotEmpty", op{Op: "delete", Path: "/p/a"}, "/p/a", "/p/a/b")
	add("delete recursive", "ok", op{Op: "delete", Path: "/p/a", Recursive: true}, "/p/a", "/p/a/b")
	add("delete wrong version", "BadVersion", op{Op: "delete", Path: "/p/a", Version: int64(1)}, "/p/a")
	add("delete missing", "NoNode", op{Op: "delete", Path: "/p/none"})
	add("delete the root", "BadArguments", op{Op: "delete", Path: "/"})
	// Reads.
	add("getData", "ok", op{Op: "getData", Path: "/p/a"}, "/p/a")
	add("getData base64", "ok", op{Op: "getData", Path: "/p/a", Encoding: "base64"}, "/p/a")
	add("getData bad encoding", "BadArguments", op{Op: "getData", Path: "/p/a", Encoding: "hex"}, "/p/a")
	add("getData missing", "NoNode", op{Op: "getData", Path: "/p/none"})
	add("getData stale", "ok", op{Op: "getData", Path: "/p/a", Consistency: "stale"}, "/p/a")
	add("getData min_zxid", "ok", op{Op: "getData", Path: "/p/a", MinZxid: ptr(int64(1))}, "/p/a")
	add("getData negative min_zxid", "BadArguments", op{Op: "getData", Path: "/p/a", MinZxid: ptr(int64(-1))}, "/p/a")
	add("getData bad consistency", "BadArguments", op{Op: "getData", Path: "/p/a", Consistency: "eventual"}, "/p/a")
	add("getData path over the limit", "BadArguments", op{Op: "getData", Path: long})
	add("getData bad path", "BadArguments", op{Op: "getData", Path: "/p/a/"})
	add("exists", "ok", op{Op: "exists", Path: "/p/a"}, "/p/a")
	add("exists missing", "absent", op{Op: "exists", Path: "/p/none"})
	add("exists bad path", "BadArguments", op{Op: "exists", Path: "/p//a"})
	add("getChildren", "ok", op{Op: "getChildren", Path: "/p"}, "/p/b", "/p/a")
	add("getChildren missing", "NoNode", op{Op: "getChildren", Path: "/p/none"})
	add("sync", "ok", op{Op: "sync", Path: "/p/a"})
	add("sync bad path", "BadArguments", op{Op: "sync", Path: "/p/a/"})
	// Multi.
	add("multi", "ok", op{Op: "multi", Ops: []map[string]any{
		{"op": "create", "path": "/p/m"}, {"op": "set", "path": "/p/m", "data": "x", "version": 0},
		{"op": "check", "path": "/p/m", "version": 1}, {"op": "create", "path": "/p/m/k-", "sequential": true}}})
	add("multi empty", "ok", op{Op: "multi", Ops: []map[string]any{}})
	add("multi without ops", "BadArguments", op{Op: "multi", NoOps: true})
	add("multi over the op limit", "BadArguments", op{Op: "multi", Ops: manyOps})
	add("multi failing in the state machine", "BadVersion", op{Op: "multi", Ops: []map[string]any{
		{"op": "create", "path": "/p/m"}, {"op": "check", "path": "/p", "version": 7}, {"op": "delete", "path": "/p/m"}}})
	add("multi with a path over the limit", "BadArguments", op{Op: "multi", Ops: []map[string]any{
		{"op": "create", "path": "/p/ok"}, {"op": "create", "path": long}}})
	add("multi create with ttl_ms 0", "BadArguments", op{Op: "multi", Ops: []map[string]any{
		{"op": "create", "path": "/p/t", "ttl_ms": 0}}})
	add("multi with an unknown op", "BadArguments", op{Op: "multi", Ops: []map[string]any{
		{"op": "create", "path": "/p/ok"}, {"op": "frob", "path": "/p/ok"}}})
	add("multi with bad base64", "BadArguments", op{Op: "multi", Ops: []map[string]any{
		{"op": "create", "path": "/p/b", "data": "***", "encoding": "base64"}}})
	add("multi with data over the limit", "TooLarge", op{Op: "multi", Ops: []map[string]any{
		{"op": "create", "path": "/p/b", "data": strings.Repeat("d", 1<<20+1)}}})
	add("multi with flags on a set", "BadArguments", op{Op: "multi", Ops: []map[string]any{
		{"op": "set", "path": "/p/a", "ephemeral": true}}}, "/p/a")
	add("multi ephemeral in a session", "ok", op{Op: "multi", Session: true, Ops: []map[string]any{
		{"op": "create", "path": "/p/e", "ephemeral": true}}})
	add("multi ephemeral without a session", "BadArguments", op{Op: "multi", Ops: []map[string]any{
		{"op": "create", "path": "/p/e", "ephemeral": true}}})
	add("multi version past int32", "BadArguments", op{Op: "multi", Ops: []map[string]any{
		{"op": "check", "path": "/p", "version": int64(1) << 40}}})
	return c
}

// TestTransportsAgree sends every case over every transport, each time
// on the same starting tree, and compares what a user sees: the outcome,
// and the tree under /p afterwards.
func TestTransportsAgree(t *testing.T) {
	nd := testnode.Start(t)
	h := newHarness(t, nd.URL)
	transports := []transport{newREST(h), newWS(t, h)}
	for _, c := range cases() {
		t.Run(c.name, func(t *testing.T) {
			var first outcome
			var firstTree string
			for i, tr := range transports {
				session := h.reset(t, c.setup)
				got := tr.run(t, c.op, session)
				tree := h.tree(t)
				if got.Code != c.want {
					t.Errorf("%s: got %s, want %s", tr.name(), got, c.want)
				}
				if i == 0 {
					first, firstTree = got, tree
					continue
				}
				if got.String() != first.String() {
					t.Errorf("outcomes differ:\n  %s: %s\n  %s: %s", transports[0].name(), first, tr.name(), got)
				}
				if tree != firstTree {
					t.Errorf("trees differ afterwards:\n  %s: %s\n  %s: %s", transports[0].name(), firstTree, tr.name(), tree)
				}
			}
		})
	}
}

// normalizeResult keeps what a result says independently of when it was
// made: paths, names, data, versions, lengths and whether a node is
// ephemeral.
func normalizeResult(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	return fmt.Sprint(strip(v))
}

var volatile = map[string]bool{"czxid": true, "mzxid": true, "pzxid": true, "ctime": true, "mtime": true, "zxid": true}

func strip(v any) any {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			if !volatile[k] {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		var b strings.Builder
		b.WriteString("{")
		for _, k := range keys {
			val := x[k]
			if k == "ephemeralOwner" {
				val = val != "0x0"
			}
			fmt.Fprintf(&b, "%s:%v ", k, strip(val))
		}
		b.WriteString("}")
		return b.String()
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = strip(x[i])
		}
		return out
	case string:
		if len(x) > 64 {
			return fmt.Sprintf("%s...(%d bytes)", x[:16], len(x))
		}
	}
	return v
}
