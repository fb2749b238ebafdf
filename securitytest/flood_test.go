package securitytest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// Attacks by volume: refusal after refusal, a flood of connections, a
// client that never finishes its headers.

func TestRepeatedNoAuthIsThrottled429WithRetryAfter(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "repeated NoAuth")
	const most = 500
	var last reply
	tries := 0
	for tries < most {
		tries++
		last = f.call(t, bob, "PUT", "/v1/nodes/alice", []byte("guess"))
		if last.status != http.StatusForbidden {
			break
		}
	}
	refused(t, fmt.Sprintf("bob's NoAuth number %d", tries), last, http.StatusTooManyRequests, api.CodeThrottled)
	t.Logf("bob throttled after %d requests; Retry-After %q", tries, last.header.Get("Retry-After"))
	wait, err := strconv.Atoi(last.header.Get("Retry-After"))
	if last.status == http.StatusTooManyRequests && (err != nil || wait < 1 || wait > 60) {
		t.Errorf("Retry-After %q: want whole seconds, 1 to 60", last.header.Get("Retry-After"))
	}
	// Still refused on the next try: the limit holds for its window.
	refused(t, "bob's next request", f.call(t, bob, "GET", "/v1/nodes/alice", nil), http.StatusTooManyRequests, api.CodeThrottled)
	// Retry-After says when to come back: by then bob is answered (403)
	// again. A wait longer than this test may take is not checked.
	if last.status == http.StatusTooManyRequests && wait >= 1 && wait <= 5 {
		back := time.Now().Add(time.Duration(wait) * time.Second)
		err := testkit.Poll(time.Duration(wait)*time.Second+3*time.Second, func() (bool, string) {
			if time.Now().Before(back) {
				return false, "Retry-After not over yet"
			}
			r := f.call(t, bob, "GET", "/v1/nodes/alice", nil)
			return r.status == http.StatusForbidden, r.String()
		})
		if err != nil {
			t.Errorf("bob still refused 3 s after Retry-After %d s: %v", wait, err)
		}
	}
	// alice shares bob's loopback address, and the limit is by address
	// (as ZooKeeper's maxClientCnxns): she is refused with him, which
	// her count of refusals shows. Only her latency is held to bounds.
	l.finish(t, -1)
	// REST now refuses every client of this address, root included.
	compareTrees(t, f.before, f.treeOverWebSocket(t))
}

func TestRepeatedNoAuthOverWebSocketIsThrottled(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "repeated NoAuth over WebSocket")
	c, r := f.ws(t, bob)
	if c == nil {
		t.Fatalf("bob's WebSocket: %v", r)
	}
	// A password guesser may use frames as well as requests: each wrong
	// password is a 403 on a frame as on a request.
	const most = 200
	var last api.Response
	tries := 0
	for tries < most {
		tries++
		last = frame(t, c, map[string]any{"op": "setData", "path": "/alice", "data": "guess"})
		if last.Error == nil || last.Error.Code != api.CodeNoAuth {
			break
		}
	}
	frameRefused(t, fmt.Sprintf("bob's NoAuth frame number %d", tries), last, api.CodeThrottled)
	l.finish(t, -1)
	compareTrees(t, f.before, f.treeOverWebSocket(t))
}

func TestTenThousandConnectionsLeaveTheServerServing(t *testing.T) {
	t.Parallel()
	attackTurn(t)
	f := setUp(t)
	l := startLegit(t, f.node, "10,000 connections")
	// Both ends of every connection are in this process, whose file limit
	// may be 20,000: the connections come in waves of held ones.
	const total, wave, dialers = 10_000, 2_500, 64
	deadline := time.Now().Add(40 * time.Second)
	start := time.Now()
	var answered, dialFailed, otherAnswer atomic.Int64
	var firstProblem atomic.Value
	for range total / wave {
		var (
			mu   sync.Mutex
			held []net.Conn
			next atomic.Int64
			wg   sync.WaitGroup
		)
		for range dialers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for next.Add(1) <= wave && time.Now().Before(deadline) {
					c, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
					if err != nil {
						dialFailed.Add(1)
						firstProblem.CompareAndSwap(nil, "dial: "+err.Error())
						continue
					}
					// Reset on close: 10,000 sockets in TIME_WAIT would
					// use up the ports of everything else on this machine.
					c.(*net.TCPConn).SetLinger(0)
					mu.Lock()
					held = append(held, c)
					mu.Unlock()
					c.SetDeadline(deadline)
					fmt.Fprintf(c, "GET /v1/nodes/open HTTP/1.1\r\nHost: %s\r\n\r\n", f.addr)
					resp, err := http.ReadResponse(bufio.NewReader(c), nil)
					if err != nil {
						otherAnswer.Add(1)
						firstProblem.CompareAndSwap(nil, "read: "+err.Error())
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusUnauthorized {
						answered.Add(1)
					} else {
						otherAnswer.Add(1)
						firstProblem.CompareAndSwap(nil, "status "+resp.Status)
					}
				}
			}()
		}
		wg.Wait()
		for _, c := range held {
			c.Close()
		}
	}
	took := time.Since(start)
	t.Logf("10,000 connections in %v: %d answered 401, %d dials failed, %d other answers (first: %v)",
		took.Round(time.Millisecond), answered.Load(), dialFailed.Load(), otherAnswer.Load(), firstProblem.Load())
	if answered.Load() != total {
		t.Errorf("got %d of %d connections answered 401 within %v; first problem: %v", answered.Load(), total, time.Until(deadline)+took, firstProblem.Load())
	}
	f.must(t, http.StatusOK, anonymous, "GET", "/healthz", nil)
	l.finish(t, 0)
	f.unchanged(t)
}

// A slowloris client sends its headers a byte a second, holding a
// connection (and its goroutine) for as long as the server lets it. The
// server's ReadHeaderTimeout (10 s in server.Main) must close it. It is
// mostly waiting, so it runs beside the other attacks, not in turn.
func TestSlowlorisIsClosedByTheHeaderTimeout(t *testing.T) {
	t.Parallel()
	f := setUp(t)
	l := startLegit(t, f.node, "slowloris (beside the other attacks)")
	const (
		clients       = 50
		headerTimeout = 10 * time.Second // server.Main's ReadHeaderTimeout
		bound         = headerTimeout + 10*time.Second
	)
	start := time.Now()
	closedAfter := make(chan time.Duration, clients)
	for range clients {
		c := f.raw(t)
		go func() {
			// The server closes the connection: a read ends (EOF, a reset,
			// or a 408 answer and then EOF).
			c.SetReadDeadline(time.Now().Add(bound))
			io.Copy(io.Discard, c)
			closedAfter <- time.Since(start)
		}()
		go func() {
			req := fmt.Sprintf("GET /v1/nodes/open HTTP/1.1\r\nHost: %s\r\nX-Slow: ", f.addr)
			if _, err := io.WriteString(c, req); err != nil {
				return
			}
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for range tick.C {
				if time.Since(start) > bound {
					return
				}
				if _, err := c.Write([]byte("a")); err != nil {
					return // closed by the server
				}
			}
		}()
	}
	var slowest time.Duration
	for range clients {
		d := <-closedAfter
		slowest = max(slowest, d)
	}
	t.Logf("%d slowloris connections closed by the server, the last after %v", clients, slowest.Round(time.Millisecond))
	if slowest >= bound {
		t.Errorf("a slowloris connection was still open after %v: the server has no header timeout (want about %v)", bound, headerTimeout)
	}
	f.must(t, http.StatusOK, anonymous, "GET", "/healthz", nil)
	l.finish(t, 0)
	f.unchanged(t)
}
