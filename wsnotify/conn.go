package wsnotify

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/api"
)

// conn is one WebSocket connection: a read loop that answers frames in
// order, a write loop that drains the subscriber's queue, and a ping loop.
type conn struct {
	h      *Handler
	ws     *websocket.Conn
	sub    *Subscriber
	remote string // the client's host:port, for its rate
	log    zerolog.Logger

	// The attached session, if any.
	session  atomic.Uint64
	timeout  atomic.Int64  // ms
	attached chan struct{} // wakes the ping loop to take the new interval
}

func (c *conn) serve(parent context.Context) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	defer c.h.hub.Close(c.sub)
	c.attached = make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); defer cancel(); c.writeLoop(ctx) }()
	go func() { defer wg.Done(); c.pingLoop(ctx) }()
	go func() {
		// Close a dropped client at once, even while a write to it is stuck.
		defer wg.Done()
		select {
		case <-c.sub.Dropped():
			c.ws.Close(websocket.StatusPolicyViolation, "resync")
		case <-ctx.Done():
		}
	}()
	c.readLoop(ctx)
	cancel()
	wg.Wait()
	c.ws.CloseNow()
}

func (c *conn) readLoop(ctx context.Context) {
	for {
		typ, data, err := c.ws.Read(ctx)
		if err != nil {
			return // closed by the peer, by us, or over the read limit (1009)
		}
		c.touch(ctx)
		if typ != websocket.MessageText {
			c.reply(ctx, nil, nil, api.Errorf(api.CodeBadArguments, "", "frames are JSON text"))
			continue
		}
		id, result, err := c.handle(ctx, data)
		if result == handled {
			continue
		}
		c.reply(ctx, id, result, err)
	}
}

// handled marks a request whose answer was queued by the hub with its watch.
var handled = &struct{}{}

func (c *conn) reply(ctx context.Context, id json.RawMessage, result any, err error) {
	resp := response{ID: id, Result: result}
	if err != nil {
		resp.Result = nil
		resp.Error = asAPIError(err)
		var mf *multiFailure
		if errors.As(err, &mf) {
			resp.Results = mf.results
		}
	}
	c.h.hub.Respond(c.sub, encodeFrame(resp))
}

func asAPIError(err error) *api.Error {
	var e *api.Error
	if errors.As(err, &e) {
		return e
	}
	return &api.Error{Code: api.CodeSystemError, Message: err.Error()}
}

func (c *conn) writeLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.sub.Dropped():
			return
		case <-c.sub.Wake():
			for _, it := range c.sub.take() {
				b := it.response
				if it.event != nil {
					b = eventFrame(it.event)
				}
				wctx, cancel := context.WithTimeout(ctx, c.h.cfg.WriteTimeout)
				err := c.ws.Write(wctx, websocket.MessageText, b)
				cancel()
				if err != nil {
					return
				}
			}
		}
	}
}

// pingLoop pings the client: every timeout/3 while a session is attached
// (each pong renews it), and now and then otherwise to find dead peers.
func (c *conn) pingLoop(ctx context.Context) {
	for {
		interval := c.h.cfg.IdlePing
		if t := c.timeout.Load(); t > 0 {
			interval = time.Duration(t) * time.Millisecond / 3
		}
		select {
		case <-ctx.Done():
			return
		case <-c.attached:
			continue // a session was attached: wait its interval instead
		case <-time.After(interval):
		}
		pctx, cancel := context.WithTimeout(ctx, interval)
		err := c.ws.Ping(pctx)
		cancel()
		if err != nil {
			c.ws.Close(websocket.StatusGoingAway, "ping timeout")
			return
		}
		c.touch(ctx)
	}
}

// touch renews the attached session: any frame or pong counts.
func (c *conn) touch(ctx context.Context) {
	id := api.ID(c.session.Load())
	if id == 0 {
		return
	}
	if err := c.h.svc.Touch(ctx, id); err != nil {
		c.session.Store(0)
		c.timeout.Store(0)
		c.reply(ctx, nil, nil, err)
	}
}
