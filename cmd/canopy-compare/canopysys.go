package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/client/recipe"
	"github.com/canopy-coord/canopy/internal/loadgen"
)

// canopySystem loads the cluster through its REST API over keep-alive
// connections: load client i talks to node i mod 3.
type canopySystem struct {
	nodes   []canopyNode
	data    []byte
	hc      *http.Client
	timeout time.Duration
}

func newCanopySystem(nodes []canopyNode, data []byte, timeout time.Duration) *canopySystem {
	return &canopySystem{nodes: nodes, data: data, hc: loadgen.NewHTTPClient(64, timeout), timeout: timeout}
}

func (s *canopySystem) Name() string { return "Canopy" }

func (s *canopySystem) Close() { s.hc.CloseIdleConnections() }

func (s *canopySystem) base(i int) string { return s.nodes[i%len(s.nodes)].url() }

// nodeURLs is path's URL on each client's node, for n clients.
func (s *canopySystem) nodeURLs(n int, path func(id int) string) []string {
	u := make([]string, n)
	for i := range u {
		u[i] = s.base(i) + "/v1/nodes" + loadgen.EscapePath(path(i))
	}
	return u
}

func (s *canopySystem) do(ctx context.Context, method, u string, body []byte) (string, string) {
	var req *http.Request
	var err error
	if body != nil {
		req, err = http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	} else {
		req, err = http.NewRequestWithContext(ctx, method, u, nil)
	}
	if err != nil {
		return "request build", err.Error()
	}
	return loadgen.DoHTTP(s.hc, req)
}

func (s *canopySystem) Throughput(ctx context.Context, wl string, n int) (loadgen.Op, func(), error) {
	nothing := func() {}
	lead := s.base(0)
	switch wl {
	case wlCreate:
		parent := fmt.Sprintf("/compare/create-%s-x%d", strconv.FormatInt(time.Now().UnixNano(), 36), n)
		if err := loadgen.EnsureNode(ctx, s.hc, lead, parent, nil); err != nil {
			return nil, nil, err
		}
		prefix := s.nodeURLs(n, func(int) string { return parent })
		return func(ctx context.Context, id int, seq uint64) (string, string) {
			u := prefix[id] + "/c" + strconv.Itoa(id) + "-" + strconv.FormatUint(seq, 10)
			return s.do(ctx, http.MethodPost, u, s.data)
		}, nothing, nil
	case wlSet, wlMixed:
		urls := s.nodeURLs(n, func(id int) string { return fmt.Sprintf("/compare/%s-c%d", wl, id) })
		for i := 0; i < n; i++ {
			if err := loadgen.EnsureNode(ctx, s.hc, lead, fmt.Sprintf("/compare/%s-c%d", wl, i), s.data); err != nil {
				return nil, nil, err
			}
		}
		return func(ctx context.Context, id int, seq uint64) (string, string) {
			if wl == wlSet || seq%10 == 9 {
				return s.do(ctx, http.MethodPut, urls[id], s.data)
			}
			return s.do(ctx, http.MethodGet, urls[id], nil)
		}, nothing, nil
	case wlGet, wlStaleGet:
		p := "/compare/get-data"
		if err := loadgen.EnsureNode(ctx, s.hc, lead, p, s.data); err != nil {
			return nil, nil, err
		}
		urls := s.nodeURLs(n, func(int) string { return p })
		if wl == wlStaleGet {
			for i := range urls {
				urls[i] += "?consistency=stale"
			}
		}
		return func(ctx context.Context, id int, _ uint64) (string, string) {
			return s.do(ctx, http.MethodGet, urls[id], nil)
		}, nothing, nil
	case wlSession:
		return func(ctx context.Context, id int, _ uint64) (string, string) {
			return s.session(ctx, s.base(id))
		}, nothing, nil
	}
	return nil, nil, fmt.Errorf("unknown workload %q", wl)
}

// session opens a session on base and closes it.
func (s *canopySystem) session(ctx context.Context, base string) (string, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/sessions", nil)
	if err != nil {
		return "request build", err.Error()
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return loadgen.TransportKind(err), err.Error()
	}
	if resp.StatusCode != http.StatusCreated {
		defer resp.Body.Close()
		return loadgen.APIError(resp)
	}
	var sess struct {
		ID string `json:"id"`
	}
	err = json.NewDecoder(resp.Body).Decode(&sess)
	resp.Body.Close()
	if err != nil {
		return "decode", err.Error()
	}
	return s.do(ctx, http.MethodDelete, base+"/v1/sessions/"+sess.ID, nil)
}

func (s *canopySystem) client(i int) (*client.Client, error) {
	return client.New(client.Config{Servers: []string{s.nodes[i].url()}, RequestTimeout: s.timeout})
}

func (s *canopySystem) Watch(ctx context.Context) (loadgen.TimedOp, func(), error) {
	leader, err := canopyLeader(s.nodes)
	if err != nil {
		return nil, nil, err
	}
	path := "/compare/watched"
	if err := loadgen.EnsureNode(ctx, s.hc, s.base(leader), path, s.data); err != nil {
		return nil, nil, err
	}
	wc, err := s.client((leader + 1) % len(s.nodes))
	if err != nil {
		return nil, nil, err
	}
	w, err := wc.Watch(ctx, path, nil)
	if err != nil {
		wc.Close()
		return nil, nil, err
	}
	fired := make(chan time.Time, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ev := range w.Events() {
			if string(ev.Type) == "NodeDataChanged" {
				select {
				case fired <- time.Now():
				default:
				}
			}
		}
	}()
	u := s.base(leader) + "/v1/nodes" + loadgen.EscapePath(path)
	op := func(ctx context.Context, _ int, _ uint64) (time.Duration, string, string) {
		drainTimes(fired)
		t0 := time.Now()
		if k, m := s.do(ctx, http.MethodPut, u, s.data); k != "" {
			return 0, k, m
		}
		return waitFired(ctx, fired, t0)
	}
	done := func() {
		_ = w.Close()
		wc.Close()
		wg.Wait()
	}
	return op, done, nil
}

// canopyLock adapts client/recipe's Lock to the handoff.
type canopyLock struct{ l *recipe.Lock }

func (c canopyLock) acquire(ctx context.Context) error {
	_, err := c.l.Acquire(ctx)
	return err
}

func (c canopyLock) release(ctx context.Context) error { return c.l.Release(ctx) }

func (s *canopySystem) Lock(ctx context.Context) (loadgen.TimedOp, func(), error) {
	leader, err := canopyLeader(s.nodes)
	if err != nil {
		return nil, nil, err
	}
	var clients []*client.Client
	var sessions []*client.Session
	done := func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, ss := range sessions {
			_ = ss.Close(cctx)
		}
		for _, c := range clients {
			c.Close()
		}
	}
	dir := "/compare/lock"
	var h handoff
	for k := 1; k <= 2; k++ { // the two followers
		c, err := s.client((leader + k) % len(s.nodes))
		if err != nil {
			done()
			return nil, nil, err
		}
		clients = append(clients, c)
		ss, err := c.NewSession(ctx, 10*time.Second)
		if err != nil {
			done()
			return nil, nil, err
		}
		sessions = append(sessions, ss)
		h.lk[k-1] = canopyLock{recipe.NewLock(ss, dir)}
	}
	first := clients[0]
	h.waiting = func(ctx context.Context) (int, error) {
		kids, _, err := first.Children(ctx, dir)
		return len(kids), err
	}
	if err := h.lk[0].acquire(ctx); err != nil {
		done()
		return nil, nil, err
	}
	return h.op, done, nil
}
