package zkcompat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// wsClient speaks Canopy's watch protocol (WS.md) at ws://<canopy>/v1/watch:
// requests {"id": n, "op": ..., ...}, answers {"id": n, "result"|"error"},
// and events {"event": {...}} recorded in the order they arrive.
type wsClient struct {
	ws     *websocket.Conn
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	nextID  int64
	pending map[int64]chan wsAnswer
	events  []wsEvent
	// problems are protocol breaches seen by the reader: frames that are
	// neither answers nor events, answers nobody waits for, malformed
	// events, events out of zxid order.
	problems []string
	lastZxid int64
	readErr  error
}

type wsAnswer struct {
	Result json.RawMessage
	Error  *cErr
}

// wsEvent is an event frame's object.
type wsEvent struct {
	Type   string          `json:"type"`
	Path   string          `json:"path"`
	Zxid   int64           `json:"zxid"`
	Child  string          `json:"child"`
	Change string          `json:"change"`
	Stat   json.RawMessage `json:"stat"`
}

func (e wsEvent) String() string {
	s := fmt.Sprintf("%s %s zxid=%d", e.Type, e.Path, e.Zxid)
	if e.Child != "" || e.Change != "" {
		s += fmt.Sprintf(" child=%q change=%q", e.Child, e.Change)
	}
	return s
}

// dialWS opens a watch socket on the test's Canopy.
func dialWS() (*wsClient, error) {
	ctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	defer dcancel()
	u := "ws" + strings.TrimPrefix(canopyURL, "http") + "/v1/watch"
	ws, _, err := websocket.Dial(dctx, u, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	ws.SetReadLimit(4 << 20)
	c := &wsClient{ws: ws, cancel: cancel, done: make(chan struct{}), pending: map[int64]chan wsAnswer{}}
	go c.readLoop(ctx)
	return c, nil
}

func (c *wsClient) readLoop(ctx context.Context) {
	defer close(c.done)
	for {
		typ, b, err := c.ws.Read(ctx)
		if err != nil {
			c.mu.Lock()
			c.readErr = err
			for id, ch := range c.pending {
				close(ch)
				delete(c.pending, id)
			}
			c.mu.Unlock()
			return
		}
		if typ != websocket.MessageText {
			c.problem("binary frame %q", b)
			continue
		}
		var f struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *cErr           `json:"error"`
			Event  *wsEvent        `json:"event"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			c.problem("undecodable frame %q: %v", b, err)
			continue
		}
		if f.Event != nil {
			c.checkEvent(*f.Event, b)
			c.mu.Lock()
			c.events = append(c.events, *f.Event)
			c.mu.Unlock()
			continue
		}
		var id int64
		if err := json.Unmarshal(f.ID, &id); err != nil {
			c.problem("frame without a request id: %s", b)
			continue
		}
		c.mu.Lock()
		ch := c.pending[id]
		delete(c.pending, id)
		c.mu.Unlock()
		if ch == nil {
			c.problem("answer to no pending request: %s", b)
			continue
		}
		ch <- wsAnswer{Result: f.Result, Error: f.Error}
	}
}

var wsEventTypes = map[string]bool{"NodeCreated": true, "NodeDeleted": true, "NodeDataChanged": true, "NodeChildrenChanged": true}

// checkEvent checks what WS.md promises of every event: a known type, a
// zxid, zxid order on the connection, child and change on
// NodeChildrenChanged, stat on NodeCreated and NodeDataChanged.
func (c *wsClient) checkEvent(e wsEvent, raw []byte) {
	c.mu.Lock()
	last := c.lastZxid
	c.lastZxid = e.Zxid
	c.mu.Unlock()
	switch {
	case !wsEventTypes[e.Type]:
		c.problem("event of unknown type: %s", raw)
	case e.Zxid <= 0:
		c.problem("event without a zxid: %s", raw)
	case e.Zxid < last:
		c.problem("event out of zxid order (after zxid %d): %s", last, raw)
	case e.Type == "NodeChildrenChanged" && (e.Child == "" || strings.Contains(e.Child, "/") || (e.Change != "added" && e.Change != "removed")):
		c.problem("NodeChildrenChanged without a proper child/change: %s", raw)
	case e.Type != "NodeChildrenChanged" && (e.Child != "" || e.Change != ""):
		c.problem("child/change on a %s: %s", e.Type, raw)
	case (e.Type == "NodeCreated" || e.Type == "NodeDataChanged") && (len(e.Stat) == 0 || string(e.Stat) == "null"):
		c.problem("%s without stat: %s", e.Type, raw)
	}
}

func (c *wsClient) problem(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.problems) < 10 {
		c.problems = append(c.problems, fmt.Sprintf(format, args...))
	}
}

// call sends {"id": n, "op": op, ...fields} and waits for its answer.
func (c *wsClient) call(op string, fields map[string]any) (wsAnswer, error) {
	ch := make(chan wsAnswer, 1)
	c.mu.Lock()
	if c.readErr != nil {
		err := c.readErr
		c.mu.Unlock()
		return wsAnswer{}, err
	}
	c.nextID++
	id := c.nextID
	c.pending[id] = ch
	c.mu.Unlock()
	req := map[string]any{"id": id, "op": op}
	for k, v := range fields {
		req[k] = v
	}
	b, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return wsAnswer{}, err
	}
	select {
	case a, ok := <-ch:
		if !ok {
			c.mu.Lock()
			err := c.readErr
			c.mu.Unlock()
			return wsAnswer{}, fmt.Errorf("socket closed: %v", err)
		}
		return a, nil
	case <-ctx.Done():
		return wsAnswer{}, errors.New("no answer within 10 s")
	}
}

// code turns an answer into Canopy's error code ("" = ok).
func wsCode(a wsAnswer, err error) string {
	switch {
	case err != nil:
		return "transport(" + err.Error() + ")"
	case a.Error != nil:
		return a.Error.Code
	}
	return ""
}

// takeEvents returns the events received since the last call.
func (c *wsClient) takeEvents() ([]wsEvent, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	evs := c.events
	c.events = nil
	return evs, c.readErr
}

func (c *wsClient) takeProblems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.problems
	c.problems = nil
	return p
}

func (c *wsClient) close() {
	_ = c.ws.Close(websocket.StatusNormalClosure, "")
	c.cancel()
	<-c.done
}
