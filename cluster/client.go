package cluster

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// Client forwards to the leader over its HTTP API: proposals over the
// forwarding stream (one upgraded connection carrying many at once), the
// rest as plain requests.
type Client struct {
	http   *http.Client
	scheme string      // "https" when tls is set
	tls    *tls.Config // for the stream, whose connection is dialed here

	mu       sync.Mutex
	streams  map[string]*stream
	dialing  map[string]*dial     // one dial per leader; callers wait for it
	noStream map[string]time.Time // leaders without the stream, until when
	closed   bool
}

// dial is a stream being dialed; done closes when s or err is set.
type dial struct {
	done chan struct{}
	s    *stream
	err  error
}

// errClosing answers a call made while the node closes its forwarder.
var errClosing = api.Unavailable("node is shutting down")

// maxConnsToLeader bounds a follower's HTTP connections to one node.
const maxConnsToLeader = 64

// NewClient returns a forwarder. With tlsConfig nil it speaks plain HTTP;
// otherwise HTTPS with that configuration (trusted roots, a client
// certificate). A cluster is all-TLS or all-plain: the scheme is this
// node's choice, never read from a member's advertised address.
func NewClient(tlsConfig *tls.Config) *Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// Followers forward concurrently. Over the stream that takes one
	// connection; over plain HTTP (a leader without the stream) one
	// per request in flight, so they are bounded, and more requests
	// wait for one: a follower never floods its leader, nor trips its
	// --max-client-conns.
	t.MaxIdleConnsPerHost = maxConnsToLeader
	t.MaxConnsPerHost = maxConnsToLeader
	t.Proxy = nil // node to node, never through a proxy
	c := &Client{http: &http.Client{Transport: t}, scheme: "http",
		streams: map[string]*stream{}, dialing: map[string]*dial{}, noStream: map[string]time.Time{}}
	if tlsConfig != nil {
		t.TLSClientConfig = tlsConfig.Clone()
		c.scheme, c.tls = "https", tlsConfig.Clone()
	}
	return c
}

// Close ends the forwarding streams; calls waiting on them fail.
func (c *Client) Close() {
	c.mu.Lock()
	c.closed = true
	streams := c.streams
	c.streams = map[string]*stream{}
	c.mu.Unlock()
	for _, s := range streams {
		s.w.stop()
	}
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

// Propose has the leader propose an encoded command, over the forwarding
// stream unless the leader does not serve one.
func (c *Client) Propose(ctx context.Context, leader string, cmd []byte) (fsm.Result, int64, error) {
	s, err := c.stream(ctx, leader)
	switch {
	case err == nil:
		return s.propose(ctx, cmd)
	case errors.Is(err, errNoStream):
		return c.proposeHTTP(ctx, leader, cmd)
	default:
		return fsm.Result{}, 0, err
	}
}

// stream returns a working stream to leader, dialing one if needed: one
// dial per leader, which the callers that need it wait for, each no longer
// than its own context. Streams to other nodes (former leaders) are
// closed once nothing waits on them.
func (c *Client) stream(ctx context.Context, leader string) (*stream, error) {
	c.mu.Lock()
	s, ok, err := c.cachedStream(leader)
	if ok {
		c.mu.Unlock()
		return s, err
	}
	d := c.dialing[leader]
	if d == nil {
		d = &dial{done: make(chan struct{})}
		c.dialing[leader] = d
		go c.dialStream(leader, d)
	}
	c.mu.Unlock()
	select {
	case <-d.done:
		return d.s, d.err
	case <-ctx.Done():
		return nil, api.Unavailable("no stream to the leader yet: %v", ctx.Err())
	}
}

// dialStream dials leader for d, within its own time limit: the callers
// waiting for it each have their own.
func (c *Client) dialStream(leader string, d *dial) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := dialStream(ctx, c.scheme, leader, c.tls, c.dropStream)
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.dialing, leader)
	defer close(d.done)
	switch {
	case errors.Is(err, errNoStream):
		c.noStream[leader] = time.Now().Add(noStreamFor)
		d.err = err
		return
	case err != nil:
		d.err = err
		return
	case c.closed:
		s.w.stop()
		d.err = errClosing
		return
	}
	d.s = s
	c.streams[leader] = s
	for addr, old := range c.streams {
		if addr != leader && old.idle() {
			delete(c.streams, addr)
			old.w.stop()
		}
	}
}

// cachedStream is what stream answers without dialing; ok is false when a
// dial is needed. c.mu is held.
func (c *Client) cachedStream(leader string) (s *stream, ok bool, err error) {
	if c.closed {
		return nil, true, errClosing
	}
	if until, found := c.noStream[leader]; found {
		if time.Now().Before(until) {
			return nil, true, errNoStream
		}
		delete(c.noStream, leader)
	}
	if s := c.streams[leader]; s != nil && !s.broken() {
		return s, true, nil
	}
	return nil, false, nil
}

// dropStream forgets a stream that broke.
func (c *Client) dropStream(s *stream) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.streams[s.addr] == s {
		delete(c.streams, s.addr)
	}
}

// proposeHTTP is the forward of a leader without the stream: one request
// per proposal.
func (c *Client) proposeHTTP(ctx context.Context, leader string, cmd []byte) (fsm.Result, int64, error) {
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

// ReadIndex asks the leader for a read index, over the forwarding stream
// unless the leader does not serve one.
func (c *Client) ReadIndex(ctx context.Context, leader string) (int64, error) {
	s, err := c.stream(ctx, leader)
	switch {
	case err == nil:
		return s.readIndex(ctx)
	case !errors.Is(err, errNoStream):
		return 0, err
	}
	var out ReadIndexResult
	err = c.call(ctx, http.MethodPost, leader, "/v1/internal/readindex", "", nil, &out)
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
		return api.Unavailable("cannot reach the leader: %v", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return api.Unavailable("reading the leader's answer: %v", err)
	}
	if resp.StatusCode/100 != 2 {
		return answerError(resp.Status, data)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &api.Error{Code: api.CodeSystemError, Message: "unreadable answer from the leader: " + err.Error()}
	}
	return nil
}
