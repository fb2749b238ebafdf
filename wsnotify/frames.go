package wsnotify

import (
	"encoding/json"

	"github.com/canopy-coord/canopy/api"
)

// request is a client frame: {"id": 7, "op": "getData", "path": "/a", "watch": true}.
// Node operations take the fields of a multi op (api.MultiOp).
type request struct {
	ID          json.RawMessage `json:"id,omitempty"`
	Op          string          `json:"op"`
	Path        string          `json:"path,omitempty"`
	Watch       bool            `json:"watch,omitempty"`
	Mode        string          `json:"mode,omitempty"`       // addWatch
	Kind        string          `json:"kind,omitempty"`       // removeWatch
	SinceZxid   *int64          `json:"since_zxid,omitempty"` // addWatch
	Session     string          `json:"session,omitempty"`    // attach
	Consistency string          `json:"consistency,omitempty"`
	MinZxid     int64           `json:"min_zxid,omitempty"`
	Data        string          `json:"data,omitempty"`
	Encoding    string          `json:"encoding,omitempty"`
	Version     *int64          `json:"version,omitempty"`
	Ephemeral   bool            `json:"ephemeral,omitempty"`
	Sequential  bool            `json:"sequential,omitempty"`
	Container   bool            `json:"container,omitempty"`
	TTLms       int64           `json:"ttl_ms,omitempty"`
	Parents     bool            `json:"parents,omitempty"`
	Recursive   bool            `json:"recursive,omitempty"`
	Ops         []api.MultiOp   `json:"ops,omitempty"`
}

// response is a server frame answering a request.
type response struct {
	ID     json.RawMessage `json:"id"`
	Result any             `json:"result,omitempty"`
	Error  *api.Error      `json:"error,omitempty"`
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
	Session   api.ID `json:"session"`
	TimeoutMs int64  `json:"timeout_ms"`
}

// ExistsResult answers exists: Stat is null for a missing node, as in
// ZooKeeper, where exists on a missing node is not an error and leaves a
// watch for its creation.
type ExistsResult struct {
	Path string    `json:"path"`
	Stat *api.Stat `json:"stat"`
}

// ChildrenResult answers getChildren.
type ChildrenResult struct {
	Path     string   `json:"path"`
	Children []string `json:"children"`
	Stat     api.Stat `json:"stat"`
}

func encodeFrame(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(response{Error: &api.Error{Code: api.CodeSystemError, Message: err.Error()}})
	}
	return b
}

// eventFrame wraps an encoded event: {"event": {...}}.
func eventFrame(d *Delivery) []byte {
	j := d.JSON()
	b := make([]byte, 0, len(j)+10)
	b = append(b, `{"event":`...)
	b = append(b, j...)
	return append(b, '}')
}
