package api

import (
	"encoding/base64"
	"unicode/utf8"
)

// Stat is ZooKeeper's Stat, with its field names. Times are milliseconds
// since the epoch; zxids are raft log indexes.
type Stat struct {
	Czxid          int64 `json:"czxid"`
	Mzxid          int64 `json:"mzxid"`
	Pzxid          int64 `json:"pzxid"`
	Ctime          int64 `json:"ctime"`
	Mtime          int64 `json:"mtime"`
	Version        int32 `json:"version"`
	Cversion       int32 `json:"cversion"`
	Aversion       int32 `json:"aversion"`
	EphemeralOwner ID    `json:"ephemeralOwner"`
	DataLength     int32 `json:"dataLength"`
	NumChildren    int32 `json:"numChildren"`
}

// NodeData is the body of getData.
type NodeData struct {
	Path     string `json:"path"`
	Data     string `json:"data"`
	Encoding string `json:"encoding"` // "utf8" or "base64"
	Stat     Stat   `json:"stat"`
}

// PathStat is the body of create, setData and exists.
type PathStat struct {
	Path string `json:"path"`
	Stat Stat   `json:"stat"`
}

// Children is the body of getChildren. Names holds plain names, or
// ChildStat objects with ?stat.
type Children struct {
	Path     string `json:"path"`
	Children any    `json:"children"`
	Stat     Stat   `json:"stat"`
	Next     string `json:"next,omitempty"`
}

// ChildStat is one entry of getChildren?stat.
type ChildStat struct {
	Name string `json:"name"`
	Stat Stat   `json:"stat"`
}

// TreeNode is one node of a subtree listing.
type TreeNode struct {
	Path      string      `json:"path"`
	Stat      Stat        `json:"stat"`
	Children  []*TreeNode `json:"children"`
	Truncated bool        `json:"truncated,omitempty"`
}

// MultiOp is one operation of POST /v1/multi.
type MultiOp struct {
	Op         string `json:"op"` // check, create, set, delete
	Path       string `json:"path"`
	Data       string `json:"data,omitempty"`
	Encoding   string `json:"encoding,omitempty"` // "utf8" (default) or "base64"
	Version    *int64 `json:"version,omitempty"`
	Ephemeral  bool   `json:"ephemeral,omitempty"`
	Sequential bool   `json:"sequential,omitempty"`
	Container  bool   `json:"container,omitempty"`
	TTLms      *int64 `json:"ttl_ms,omitempty"`
	// ACL of a create; none is the server's default (DESIGN §9).
	ACL []ACL `json:"acl,omitempty"`
}

// MultiRequest is the body of POST /v1/multi.
type MultiRequest struct {
	Ops []MultiOp `json:"ops"`
}

// MultiResult is one op's outcome. On success Op and Path are set (and Stat
// for create and set); in a failed multi, ops before the failing one are
// empty objects and the failing one and those after it carry Error.
type MultiResult struct {
	Op    string `json:"op,omitempty"`
	Path  string `json:"path,omitempty"`
	Stat  *Stat  `json:"stat,omitempty"`
	Error *Error `json:"error,omitempty"`
}

// MultiResponse is the body of a multi, successful or not.
type MultiResponse struct {
	Results []MultiResult `json:"results"`
	Error   *Error        `json:"error,omitempty"`
}

// SessionRequest is the body of POST /v1/sessions.
type SessionRequest struct {
	TimeoutMs int64 `json:"timeout_ms"`
}

// Session describes a session.
type Session struct {
	ID         ID       `json:"id"`
	TimeoutMs  int64    `json:"timeout_ms"`
	Ephemerals []string `json:"ephemerals,omitempty"`
	// ExpiresInMs is the time left before expiry as the leader's lease clock
	// sees it; absent when this node does not hold the clock.
	ExpiresInMs *int64 `json:"expires_in_ms,omitempty"`
}

// SessionList is the body of GET /v1/sessions.
type SessionList struct {
	Sessions []Session `json:"sessions"`
}

// SyncResult is the body of POST /v1/sync.
type SyncResult struct {
	Zxid int64 `json:"zxid"`
}

// NewNodeData encodes node data for JSON: as text when it is valid UTF-8
// (and base64 is not asked for), as base64 otherwise.
func NewNodeData(path, data string, stat Stat, forceBase64 bool) NodeData {
	if forceBase64 || !utf8.ValidString(data) {
		return NodeData{Path: path, Data: base64.StdEncoding.EncodeToString([]byte(data)), Encoding: "base64", Stat: stat}
	}
	return NodeData{Path: path, Data: data, Encoding: "utf8", Stat: stat}
}
