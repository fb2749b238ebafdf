package api

import "encoding/json"

// Request is a WebSocket client frame (DESIGN §6): {"id": 7, "op": "getData", "path": "/a", "watch": true}.
// Node operations take the fields of a multi op (api.MultiOp).
type Request struct {
	ID          json.RawMessage `json:"id,omitempty"`
	Op          string          `json:"op"`
	Path        string          `json:"path,omitempty"`
	Watch       bool            `json:"watch,omitempty"`
	Mode        string          `json:"mode,omitempty"`       // addWatch
	Kind        string          `json:"kind,omitempty"`       // removeWatch
	SinceZxid   *int64          `json:"since_zxid,omitempty"` // addWatch
	Session     string          `json:"session,omitempty"`    // attach
	Consistency string          `json:"consistency,omitempty"`
	MinZxid     *int64          `json:"min_zxid,omitempty"`
	Data        string          `json:"data,omitempty"`
	Encoding    string          `json:"encoding,omitempty"`
	Version     *int64          `json:"version,omitempty"`
	Ephemeral   bool            `json:"ephemeral,omitempty"`
	Sequential  bool            `json:"sequential,omitempty"`
	Container   bool            `json:"container,omitempty"`
	TTLms       *int64          `json:"ttl_ms,omitempty"`
	Parents     bool            `json:"parents,omitempty"`
	Recursive   bool            `json:"recursive,omitempty"`
	Ops         []MultiOp       `json:"ops,omitempty"`
	ACL         []ACL           `json:"acl,omitempty"`      // create, setACL
	AVersion    *int64          `json:"aversion,omitempty"` // setACL
}

// Response is a server frame answering a Request. A multi that failed on
// one op carries ZooKeeper's per-op Results beside its Error, as the REST
// answer does.
type Response struct {
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
	Results []MultiResult   `json:"results,omitempty"`
}

// WatchResult answers addWatch: the watch is live from Zxid on (after the
// replay when since_zxid was given).
type WatchResult struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
	Zxid int64  `json:"zxid"`
}

// AttachResult answers attach.
type AttachResult struct {
	Session   ID    `json:"session"`
	TimeoutMs int64 `json:"timeout_ms"`
}

// ExistsResult answers exists: Stat is null for a missing node, as in
// ZooKeeper, where exists on a missing node is not an error and leaves a
// watch for its creation.
type ExistsResult struct {
	Path string `json:"path"`
	Stat *Stat  `json:"stat"`
}

// ChildrenResult answers getChildren.
type ChildrenResult struct {
	Path     string   `json:"path"`
	Children []string `json:"children"`
	Stat     Stat     `json:"stat"`
}
