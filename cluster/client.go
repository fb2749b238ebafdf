package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// Client forwards to the leader over its HTTP API.
type Client struct {
	http   *http.Client
	scheme string
}

// NewClient returns a forwarder. transport may be nil (plain HTTP).
func NewClient(transport http.RoundTripper) *Client {
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64 // followers forward concurrently
		t.Proxy = nil              // node to node, never through a proxy
		transport = t
	}
	return &Client{http: &http.Client{Transport: transport}, scheme: "http"}
}

// ProposeResult is the leader's answer to a forwarded proposal.
type ProposeResult struct {
	Zxid   int64             `json:"zxid"`
	Path   string            `json:"path,omitempty"`
	Stat   *api.Stat         `json:"stat,omitempty"`
	Multi  []api.MultiResult `json:"multi,omitempty"`
	Result *api.Error        `json:"result_error,omitempty"`
}

// ToResult turns the wire form back into the fsm's result.
func (p ProposeResult) ToResult() fsm.Result {
	return fsm.Result{Path: p.Path, Stat: p.Stat, Multi: p.Multi, Err: p.Result}
}

// FromResult is the wire form of a result.
func FromResult(r fsm.Result, zxid int64) ProposeResult {
	return ProposeResult{Zxid: zxid, Path: r.Path, Stat: r.Stat, Multi: r.Multi, Result: r.Err}
}

// Propose has the leader propose an encoded command.
func (c *Client) Propose(ctx context.Context, leader string, cmd []byte) (fsm.Result, int64, error) {
	var out ProposeResult
	if err := c.call(ctx, http.MethodPost, leader, "/v1/internal/propose", "application/octet-stream", cmd, &out); err != nil {
		return fsm.Result{}, 0, err
	}
	return out.ToResult(), out.Zxid, nil
}

// ReadIndexResult is the leader's confirmed commit index.
type ReadIndexResult struct {
	Index int64 `json:"index"`
}

// ReadIndex asks the leader for a read index.
func (c *Client) ReadIndex(ctx context.Context, leader string) (int64, error) {
	var out ReadIndexResult
	err := c.call(ctx, http.MethodPost, leader, "/v1/internal/readindex", "", nil, &out)
	return out.Index, err
}

// KeepAliveRequest renews sessions on the leader; the answer lists the
// ones it does not know.
type KeepAliveRequest struct {
	IDs []api.ID `json:"ids"`
}

// KeepAliveResult lists the sessions the leader does not know.
type KeepAliveResult struct {
	Unknown []api.ID `json:"unknown"`
}

// KeepAlive renews sessions on the leader's lease clock.
func (c *Client) KeepAlive(ctx context.Context, leader string, ids []api.ID) ([]api.ID, error) {
	body, _ := json.Marshal(KeepAliveRequest{IDs: ids})
	var out KeepAliveResult
	err := c.call(ctx, http.MethodPost, leader, "/v1/internal/keepalive", "application/json", body, &out)
	return out.Unknown, err
}

// AddMember asks the leader to add a member.
func (c *Client) AddMember(ctx context.Context, leader string, m api.MemberRequest) error {
	body, _ := json.Marshal(m)
	return c.call(ctx, http.MethodPost, leader, "/v1/cluster/members", "application/json", body, nil)
}

// RemoveMember asks the leader to remove a member.
func (c *Client) RemoveMember(ctx context.Context, leader, id string) error {
	return c.call(ctx, http.MethodDelete, leader, "/v1/cluster/members/"+id, "", nil, nil)
}

// Join asks the node at url (any member) to add m, retrying until the
// cluster answers or ctx ends: a joining node starts before it is known.
func (c *Client) Join(ctx context.Context, url string, m api.MemberRequest) error {
	body, _ := json.Marshal(m)
	for {
		err := c.callURL(ctx, http.MethodPost, url+"/v1/cluster/members", "application/json", body, nil)
		if err == nil || api.CodeOf(err) != api.CodeUnavailable {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("join %s: %w", url, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (c *Client) call(ctx context.Context, method, host, path, contentType string, body []byte, out any) error {
	return c.callURL(ctx, method, c.scheme+"://"+host+path, contentType, body, out)
}

// callURL sends one request; an error body becomes its *api.Error, and a
// leader that cannot be reached is Unavailable (the caller may retry).
func (c *Client) callURL(ctx context.Context, method, url, contentType string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return &api.Error{Code: api.CodeSystemError, Message: err.Error()}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return &api.Error{Code: api.CodeUnavailable, Message: "cannot reach the leader: " + err.Error()}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &api.Error{Code: api.CodeUnavailable, Message: "reading the leader's answer: " + err.Error()}
	}
	if resp.StatusCode/100 != 2 {
		var e api.ErrorBody
		if json.Unmarshal(data, &e) == nil && e.Error != nil {
			return e.Error
		}
		return &api.Error{Code: api.CodeUnavailable, Message: fmt.Sprintf("the leader answered %s", resp.Status)}
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &api.Error{Code: api.CodeSystemError, Message: "unreadable answer from the leader: " + err.Error()}
	}
	return nil
}
