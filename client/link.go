package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/ctxtime"
)

// link is one WebSocket to /v1/watch that reconnects by itself, moving
// through the servers, until it is closed. What rides on it (one-shot
// watches, or one persistent watch) plugs in through its hooks.
type link struct {
	sh    *shared
	hooks linkHooks
	ctx   context.Context
	stop  context.CancelFunc
	done  chan struct{}

	mu      sync.Mutex
	conn    *websocket.Conn
	up      chan struct{} // closed while a connection is up
	nextID  int64
	pending map[int64]*pending
	// delivering is set while the read loop waits on a consumer: a slow
	// consumer is not a sick server.
	delivering atomic.Bool
	// denied is closed, with deniedErr set, when a server refused the
	// upgrade for the client's credentials (401 or 403), or TLS failed:
	// another try, or server, would meet the same answer, so the link
	// stops.
	denied    chan struct{}
	deniedErr error
}

type linkHooks struct {
	// connected runs (in its own goroutine) after each (re)connection.
	connected func(l *link)
	// event is called by the read loop for each event, in order.
	event func(e Event)
	// lost is called when a connection ends.
	lost func()
}

// pending is a call waiting for its answer. ok, when set, runs in the read
// loop on success, before any later frame is looked at: that is how a
// watch starts exactly after the read that set it.
type pending struct {
	answer chan frame
	ok     func(result json.RawMessage)
}

// frame is any server frame.
type frame struct {
	ID     *int64          `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *api.Error      `json:"error"`
	Event  *Event          `json:"event"`
}

// healthInterval is how often a link checks that its server still belongs
// to a quorum (a linearizable exists of /): a server cut off from the
// leader keeps its sockets open but sees no more changes.
const healthInterval = 3 * time.Second

func newLink(sh *shared, hooks linkHooks) *link {
	ctx, stop := context.WithCancel(context.Background())
	l := &link{sh: sh, hooks: hooks, ctx: ctx, stop: stop, done: make(chan struct{}),
		up: make(chan struct{}), pending: map[int64]*pending{}, denied: make(chan struct{})}
	return l
}

// start connects, in the background, for as long as the link lives.
func (l *link) start() { go l.run() }

func (l *link) close() {
	l.stop()
	<-l.done
}

func (l *link) run() {
	defer close(l.done)
	backoff := 20 * time.Millisecond
	for l.ctx.Err() == nil {
		idx := int(l.sh.current.Load())
		conn, err := l.dial(l.sh.servers[idx])
		l.sh.refused.dialed(l.sh.servers[idx], err)
		var ae *api.Error
		if errors.As(err, &ae) || err != nil && tlsTrouble(err) {
			if !errors.As(err, &ae) {
				err = fmt.Errorf("canopy: TLS with %s: %w", l.sh.servers[idx], err)
			}
			l.deniedErr = err
			close(l.denied)
			return
		}
		if err != nil {
			l.sh.current.CompareAndSwap(int32(idx), int32((idx+1)%len(l.sh.servers)))
			if !ctxtime.Sleep(l.ctx, jitter(backoff)) {
				return
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = 20 * time.Millisecond
		l.mu.Lock()
		l.conn = conn
		close(l.up)
		l.mu.Unlock()
		connCtx, connDone := context.WithCancel(l.ctx)
		go l.health(connCtx, conn)
		if l.hooks.connected != nil {
			go l.hooks.connected(l)
		}
		l.read(conn)
		connDone()
		conn.Close(websocket.StatusNormalClosure, "")
		l.mu.Lock()
		l.conn = nil
		l.up = make(chan struct{})
		for id, p := range l.pending {
			p.answer <- frame{Error: &api.Error{Code: api.CodeUnavailable, Message: "watch connection lost"}}
			delete(l.pending, id)
		}
		l.mu.Unlock()
		if l.hooks.lost != nil {
			l.hooks.lost()
		}
		// A server that dropped us may be going away: try the next one.
		l.sh.current.CompareAndSwap(int32(idx), int32((idx+1)%len(l.sh.servers)))
	}
}

func (l *link) dial(server string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(l.ctx, 5*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(server, "http") + "/v1/watch" // https: wss
	opts := &websocket.DialOptions{HTTPClient: l.sh.hc}
	if l.sh.auth != "" {
		opts.HTTPHeader = http.Header{"Authorization": {l.sh.auth}}
	}
	conn, resp, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			var data []byte
			if resp.Body != nil {
				data, _ = io.ReadAll(resp.Body)
			}
			return nil, decodeError(resp, data)
		}
		return nil, err
	}
	conn.SetReadLimit(64 << 20)
	return conn, nil
}

// read delivers frames until the connection fails.
func (l *link) read(conn *websocket.Conn) {
	for {
		_, data, err := conn.Read(l.ctx)
		if err != nil {
			return
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			return
		}
		switch {
		case f.Event != nil:
			l.sh.noteZxid(f.Event.Zxid)
			if l.hooks.event != nil {
				l.delivering.Store(true)
				l.hooks.event(*f.Event)
				l.delivering.Store(false)
			}
		case f.ID != nil:
			l.mu.Lock()
			p := l.pending[*f.ID]
			delete(l.pending, *f.ID)
			l.mu.Unlock()
			if p == nil {
				continue
			}
			if f.Error == nil && p.ok != nil {
				p.ok(f.Result)
			}
			p.answer <- f
		}
	}
}

// health drops the connection when its server stops answering, or answers
// that it has no quorum, so that the link moves to a server that has.
func (l *link) health(ctx context.Context, conn *websocket.Conn) {
	t := time.NewTicker(healthInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, healthInterval)
		_, err := l.callOn(cctx, conn, api.Request{Op: "exists", Path: "/"}, nil)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && l.delivering.Load() ||
			api.CodeOf(err) == api.CodeThrottled { // over this client's rate, but answering
			continue
		}
		if err != nil && ctx.Err() == nil {
			conn.Close(websocket.StatusGoingAway, "server unhealthy")
			return
		}
	}
}

// call sends one request on the current connection (waiting for one) and
// returns its result. A read lost with its connection is sent again on the
// next one.
func (l *link) call(ctx context.Context, req api.Request, ok func(json.RawMessage)) (json.RawMessage, error) {
	for {
		l.mu.Lock()
		conn, up := l.conn, l.up
		l.mu.Unlock()
		if conn == nil {
			select {
			case <-up:
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: no watch connection: %v", ErrUnavailable, ctx.Err())
			case <-l.sh.refused.gaveUp():
				return nil, l.sh.refused.err()
			case <-l.denied:
				return nil, l.deniedErr
			case <-l.ctx.Done():
				return nil, ErrClosed
			}
		}
		res, err := l.callOn(ctx, conn, req, ok)
		switch {
		case errors.Is(err, errLinkLost) && ctx.Err() == nil && l.ctx.Err() == nil:
			continue
		case api.CodeOf(err) == api.CodeThrottled && l.ctx.Err() == nil:
			// Refused before it was looked at, as a REST 429 is: send it
			// again once the server's rate for this client has refilled.
			if ctxtime.Sleep(ctx, jitter(throttledFrameWait)) {
				continue
			}
		}
		return res, err
	}
}

var errLinkLost = errors.New("watch connection lost")

// throttledFrameWait is how long a frame refused for the client's rate
// waits before it is sent again (half to all of it): within a second the
// server's bucket for the client has refilled by its rate.
const throttledFrameWait = time.Second

func (l *link) callOn(ctx context.Context, conn *websocket.Conn, req api.Request, ok func(json.RawMessage)) (json.RawMessage, error) {
	l.mu.Lock()
	if l.conn != conn {
		l.mu.Unlock()
		return nil, errLinkLost
	}
	l.nextID++
	id := l.nextID
	p := &pending{answer: make(chan frame, 1), ok: ok}
	l.pending[id] = p
	l.mu.Unlock()
	req.ID = json.RawMessage(strconv.FormatInt(id, 10))
	data, err := json.Marshal(req)
	if err != nil {
		l.forget(id)
		return nil, err
	}
	if err := conn.Write(ctx, websocket.MessageText, data); err != nil {
		l.forget(id)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, errLinkLost
	}
	select {
	case f := <-p.answer:
		if f.Error != nil {
			if f.ID == nil { // the connection failed, not the call
				return nil, errLinkLost
			}
			return nil, f.Error
		}
		return f.Result, nil
	case <-ctx.Done():
		l.forget(id)
		return nil, ctx.Err()
	}
}

func (l *link) forget(id int64) {
	l.mu.Lock()
	delete(l.pending, id)
	l.mu.Unlock()
}
