package cluster

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// leader is a stand-in for a leader's API on a real loopback socket: the
// stream and the plain-HTTP propose and read-index routes, answering
// through propose and a read index that counts up.
type leader struct {
	srv      *httptest.Server
	streams  *StreamServer
	propose  func(context.Context, []byte) (fsm.Result, int64, error)
	index    atomic.Int64
	upgrades atomic.Int64 // stream requests seen
	posts    atomic.Int64 // plain-HTTP requests seen
}

func (l *leader) LeaderPropose(ctx context.Context, cmd []byte) (fsm.Result, int64, error) {
	return l.propose(ctx, cmd)
}

func (l *leader) LeaderReadIndex(ctx context.Context) (int64, error) {
	return l.index.Add(1), nil
}

func startLeader(t *testing.T, withStream bool, propose func(context.Context, []byte) (fsm.Result, int64, error), configure ...func(*http.Server)) *leader {
	t.Helper()
	l := &leader{propose: propose}
	l.streams = NewStreamServer(l, 1<<10, zerolog.Nop(), nil)
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+StreamPath, func(w http.ResponseWriter, r *http.Request) {
		l.upgrades.Add(1)
		if !withStream {
			http.NotFound(w, r)
			return
		}
		if err := l.streams.Upgrade(w); err != nil {
			t.Errorf("upgrade: %v", err)
		}
	})
	mux.HandleFunc("POST /v1/internal/propose", func(w http.ResponseWriter, r *http.Request) {
		l.posts.Add(1)
		var body bytes.Buffer
		body.ReadFrom(r.Body)
		res, zxid, err := propose(r.Context(), body.Bytes())
		if err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"error":` + string(errorPayload(err.(*api.Error))) + `}`))
			return
		}
		w.Write(mustJSON(t, FromResult(res, zxid)))
	})
	mux.HandleFunc("POST /v1/internal/readindex", func(w http.ResponseWriter, r *http.Request) {
		l.posts.Add(1)
		w.Write(mustJSON(t, ReadIndexResult{Index: l.index.Add(1)}))
	})
	l.srv = httptest.NewUnstartedServer(mux)
	for _, f := range configure {
		f(l.srv.Config)
	}
	if l.srv.Config.TLSConfig != nil { // a configure asked for TLS
		l.srv.TLS = l.srv.Config.TLSConfig
		l.srv.StartTLS()
	} else {
		l.srv.Start()
	}
	t.Cleanup(func() {
		l.streams.Close()
		l.srv.Close()
	})
	return l
}

func (l *leader) LeaderKeepAlive(ids []api.ID) []api.ID { return nil }
func (l *leader) Applied() int64                        { return 0 }

func (l *leader) addr() string {
	_, addr, _ := strings.Cut(l.srv.URL, "://")
	return addr
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// echo answers each command with its own bytes as the path, after a random
// pause, so that answers come back in another order than they were sent.
func echo(ctx context.Context, cmd []byte) (fsm.Result, int64, error) {
	time.Sleep(time.Duration(rand.Intn(3000)) * time.Microsecond)
	return fsm.Result{Path: string(cmd)}, int64(len(cmd)), nil
}

func newClient(t *testing.T) *Client {
	c := NewClient(nil)
	t.Cleanup(c.Close)
	return c
}

func TestStreamCarriesConcurrentProposalsToTheirCallers(t *testing.T) {
	l := startLeader(t, true, echo)
	c := newClient(t)
	var wg sync.WaitGroup
	for g := 0; g < 50; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				cmd := fmt.Sprintf("/g%d/%d", g, i)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				res, zxid, err := c.Propose(ctx, l.addr(), []byte(cmd))
				cancel()
				if err != nil || res.Path != cmd || zxid != int64(len(cmd)) {
					t.Errorf("propose %s: got %q, %d, %v", cmd, res.Path, zxid, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := l.upgrades.Load(); n != 1 {
		t.Errorf("2,000 proposals took %d streams, want 1", n)
	}
	if n := l.posts.Load(); n != 0 {
		t.Errorf("%d proposals went over plain HTTP", n)
	}
}

func TestStreamAnswersErrorsAndSurvivesAPanic(t *testing.T) {
	l := startLeader(t, true, func(ctx context.Context, cmd []byte) (fsm.Result, int64, error) {
		switch string(cmd) {
		case "api":
			return fsm.Result{}, 0, &api.Error{Code: api.CodeUnavailable, Message: "this node is no longer the leader"}
		case "plain":
			return fsm.Result{}, 0, errors.New("disk on fire")
		case "panic":
			panic("bad input")
		case "outcome":
			// A command that ran and failed: the result carries the error.
			return fsm.Result{Err: &api.Error{Code: api.CodeBadVersion, Message: "version 3, not 2"}}, 7, nil
		}
		return fsm.Result{Path: "/ok"}, 1, nil
	})
	c := newClient(t)
	ctx := context.Background()
	for cmd, want := range map[string]api.Code{"api": api.CodeUnavailable, "plain": api.CodeSystemError, "panic": api.CodeSystemError} {
		if _, _, err := c.Propose(ctx, l.addr(), []byte(cmd)); api.CodeOf(err) != want {
			t.Errorf("%s: got %v, want %s", cmd, err, want)
		}
	}
	res, zxid, err := c.Propose(ctx, l.addr(), []byte("outcome"))
	if err != nil || zxid != 7 || res.Err == nil || res.Err.Code != api.CodeBadVersion {
		t.Errorf("outcome: got %+v, %d, %v", res, zxid, err)
	}
	if res, _, err := c.Propose(ctx, l.addr(), []byte("fine")); err != nil || res.Path != "/ok" {
		t.Errorf("after the errors: got %+v, %v", res, err)
	}
	if n := l.upgrades.Load(); n != 1 {
		t.Errorf("the errors cost %d streams, want 1", n)
	}
}

func TestStreamCarriesReadIndexes(t *testing.T) {
	l := startLeader(t, true, echo)
	c := newClient(t)
	for want := int64(1); want <= 3; want++ {
		if got, err := c.ReadIndex(context.Background(), l.addr()); err != nil || got != want {
			t.Fatalf("read index %d: got %d, %v", want, got, err)
		}
	}
	if res, _, err := c.Propose(context.Background(), l.addr(), []byte("/x")); err != nil || res.Path != "/x" {
		t.Fatalf("a proposal beside them: got %+v, %v", res, err)
	}
	if u, p := l.upgrades.Load(), l.posts.Load(); u != 1 || p != 0 {
		t.Errorf("got %d streams and %d plain requests, want 1 and 0", u, p)
	}
}

func TestLeaderWithoutStreamIsReachedOverHTTP(t *testing.T) {
	l := startLeader(t, false, echo)
	c := newClient(t)
	for i := 0; i < 5; i++ {
		res, _, err := c.Propose(context.Background(), l.addr(), []byte("/x"))
		if err != nil || res.Path != "/x" {
			t.Fatalf("propose %d: got %+v, %v", i, res, err)
		}
	}
	if index, err := c.ReadIndex(context.Background(), l.addr()); err != nil || index != 1 {
		t.Fatalf("read index: got %d, %v", index, err)
	}
	if u, p := l.upgrades.Load(), l.posts.Load(); u != 1 || p != 6 {
		t.Errorf("got %d upgrade attempts and %d plain requests, want 1 and 6", u, p)
	}
}

func TestForwardingOverHTTPHoldsBoundedConnections(t *testing.T) {
	var open, most atomic.Int64
	release := make(chan struct{})
	countConns := func(srv *http.Server) {
		srv.ConnState = func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				if n := open.Add(1); n > most.Load() {
					most.Store(n)
				}
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}
	}
	l := startLeader(t, false, func(ctx context.Context, cmd []byte) (fsm.Result, int64, error) {
		<-release
		return fsm.Result{Path: string(cmd)}, 1, nil
	}, countConns)
	c := newClient(t)
	const calls = 5 * maxConnsToLeader
	var wg sync.WaitGroup
	for i := range calls {
		wg.Go(func() {
			if _, _, err := c.Propose(context.Background(), l.addr(), fmt.Appendf(nil, "/%d", i)); err != nil {
				t.Errorf("propose %d: %v", i, err)
			}
		})
	}
	// Every connection the follower may open is taken, and held.
	deadline := time.Now().Add(10 * time.Second)
	for l.posts.Load() < maxConnsToLeader && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	// The stream attempt took a connection of its own, then closed it.
	if n := most.Load(); n > maxConnsToLeader+1 {
		t.Errorf("%d proposals in flight opened %d connections to the leader at once, want at most %d", calls, n, maxConnsToLeader+1)
	}
	if p := l.posts.Load(); p != calls {
		t.Errorf("the leader got %d proposals, want %d", p, calls)
	}
}

func TestBrokenStreamFailsWaitersAndIsRedialled(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	l := startLeader(t, true, func(ctx context.Context, cmd []byte) (fsm.Result, int64, error) {
		if string(cmd) == "block" {
			started <- struct{}{}
			<-release
		}
		return fsm.Result{Path: string(cmd)}, 1, nil
	})
	defer close(release)
	c := newClient(t)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.Propose(context.Background(), l.addr(), []byte("block"))
		errc <- err
	}()
	<-started
	l.streams.mu.Lock()
	for conn := range l.streams.conns {
		conn.Close() // the connection drops; the leader itself goes on
	}
	l.streams.mu.Unlock()
	select {
	case err := <-errc:
		if api.CodeOf(err) != api.CodeUnavailable || !strings.Contains(err.Error(), "may or may not") {
			t.Errorf("a proposal on a broken stream: got %v, want Unavailable, outcome unknown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a proposal on a broken stream still waits after 5 s")
	}
	testkit.WaitFor(t, 5*time.Second, "the broken stream to leave the cache", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok, _ := c.cachedStream(l.addr())
		return !ok
	})
	if res, _, err := c.Propose(context.Background(), l.addr(), []byte("/after")); err != nil || res.Path != "/after" {
		t.Fatalf("after the break: got %+v, %v", res, err)
	}
	if n := l.upgrades.Load(); n != 2 {
		t.Errorf("got %d streams, want 2 (the first and its replacement)", n)
	}
}

func TestProposalCarriesItsDeadline(t *testing.T) {
	deadlines := make(chan time.Duration, 1)
	l := startLeader(t, true, func(ctx context.Context, cmd []byte) (fsm.Result, int64, error) {
		dl, _ := ctx.Deadline()
		deadlines <- time.Until(dl)
		<-ctx.Done()
		return fsm.Result{}, 0, &api.Error{Code: api.CodeOperationTimeout, Message: "too late"}
	})
	c := newClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err := c.Propose(ctx, l.addr(), []byte("slow"))
	// The caller's deadline and the leader's (1 ms later) end together:
	// the caller gives up (Unavailable), or the leader's OperationTimeout
	// arrives first. Both say what DESIGN §4 says of 503 and 504: the
	// outcome is unknown.
	if code := api.CodeOf(err); code != api.CodeUnavailable && code != api.CodeOperationTimeout {
		t.Errorf("got %v, want Unavailable or OperationTimeout (outcome unknown)", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the caller waited %v past its 300 ms deadline", took)
	}
	if left := <-deadlines; left <= 0 || left > 400*time.Millisecond {
		t.Errorf("the leader's deadline was %v away, want at most the caller's 300 ms", left)
	}
}

func TestOversizedProposalIsRefusedAlone(t *testing.T) {
	l := startLeader(t, true, echo)
	c := newClient(t)
	_, _, err := c.Propose(context.Background(), l.addr(), bytes.Repeat([]byte("x"), 2<<10))
	if api.CodeOf(err) != api.CodeTooLarge {
		t.Errorf("a command over the leader's limit: got %v, want TooLarge", err)
	}
	if res, _, err := c.Propose(context.Background(), l.addr(), []byte("/small")); err != nil || res.Path != "/small" {
		t.Fatalf("the next proposal: got %+v, %v", res, err)
	}
	if n := l.upgrades.Load(); n != 1 {
		t.Errorf("the refusal cost %d streams, want 1", n)
	}
}

func TestClosedClientRefuses(t *testing.T) {
	l := startLeader(t, true, echo)
	c := NewClient(nil)
	if _, _, err := c.Propose(context.Background(), l.addr(), []byte("/a")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, _, err := c.Propose(context.Background(), l.addr(), []byte("/b")); api.CodeOf(err) != api.CodeUnavailable {
		t.Errorf("after Close: got %v, want Unavailable", err)
	}
}

func TestFrameRoundTrip(t *testing.T) {
	for _, f := range []frame{
		{kind: framePropose, id: 1, arg: 10000, payload: []byte("cmd")},
		{kind: frameResult, id: 1<<64 - 1, payload: []byte(`{"zxid":3}`)},
		{kind: frameError, id: 0},
	} {
		b := appendFrame(nil, f)
		got, err := readFrame(bufio.NewReader(bytes.NewReader(b)), 1<<10)
		if err != nil || got.kind != f.kind || got.id != f.id || got.arg != f.arg || !bytes.Equal(got.payload, f.payload) {
			t.Errorf("%+v came back as %+v, %v", f, got, err)
		}
	}
}

// TestWaitForDialEndsWithTheCallersDeadline: a leader that accepts the
// connection but never answers the upgrade holds its dial for seconds; a
// caller waits for it no longer than its own deadline.
func TestWaitForDialEndsWithTheCallersDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	c := newClient(t)
	// A patient caller starts the dial...
	go c.Propose(context.Background(), ln.Addr().String(), []byte("/patient"))
	testkit.WaitFor(t, 5*time.Second, "the patient caller's dial", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.dialing[ln.Addr().String()] != nil
	})
	// ...and a hurried one, joining it, leaves at its own deadline.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = c.Propose(ctx, ln.Addr().String(), []byte("/hurried"))
	if api.CodeOf(err) != api.CodeUnavailable {
		t.Errorf("got %v, want Unavailable", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("waited %v for another caller's dial, past its own 200 ms deadline", took)
	}
}
