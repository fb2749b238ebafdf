package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/canopy-coord/canopy/internal/loadgen"
)

var worldACL = zk.WorldACL(zk.PermAll)

// zkSystem loads the ensemble through go-zookeeper: load client i uses
// connection i (its own session), on server i mod 3.
type zkSystem struct {
	servers []zkServer
	data    []byte

	mu    sync.Mutex
	conns []*zk.Conn
}

func (z *zkSystem) Name() string { return "ZooKeeper" }

// pool returns n connections, opening those missing.
func (z *zkSystem) pool(ctx context.Context, n int) ([]*zk.Conn, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	for i := len(z.conns); i < n; i++ {
		c, err := zkConnect(ctx, z.servers[i%len(z.servers)].clientAddr())
		if err != nil {
			return nil, err
		}
		z.conns = append(z.conns, c)
	}
	return z.conns[:n], nil
}

func (z *zkSystem) Close() {
	z.mu.Lock()
	defer z.mu.Unlock()
	for _, c := range z.conns {
		c.Close()
	}
	z.conns = nil
}

// ensure creates path (and its ancestors) when missing, holding data.
func zkEnsure(c *zk.Conn, path string, data []byte) error {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := range parts {
		p := "/" + strings.Join(parts[:i+1], "/")
		d := []byte(nil)
		if i == len(parts)-1 {
			d = data
		}
		if _, err := c.Create(p, d, 0, worldACL); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return fmt.Errorf("create %s: %w", p, err)
		}
	}
	_, err := c.Set(path, data, -1)
	return err
}

// zkKind is a ZooKeeper error's kind for the error table.
func zkKind(err error) (string, string) {
	if err == nil {
		return "", ""
	}
	return strings.TrimPrefix(err.Error(), "zk: "), err.Error()
}

func (z *zkSystem) Throughput(ctx context.Context, wl string, n int) (loadgen.Op, func(), error) {
	conns, err := z.pool(ctx, n)
	if err != nil {
		return nil, nil, err
	}
	c0 := conns[0]
	nothing := func() {}
	switch wl {
	case wlCreate:
		parent := fmt.Sprintf("/compare/create-%s-x%d", strconv.FormatInt(time.Now().UnixNano(), 36), n)
		if err := zkEnsure(c0, parent, nil); err != nil {
			return nil, nil, err
		}
		return func(_ context.Context, id int, seq uint64) (string, string) {
			_, err := conns[id].Create(parent+"/c"+strconv.Itoa(id)+"-"+strconv.FormatUint(seq, 10), z.data, 0, worldACL)
			return zkKind(err)
		}, nothing, nil
	case wlSet, wlMixed:
		paths := make([]string, n)
		for i := range paths {
			paths[i] = fmt.Sprintf("/compare/%s-c%d", wl, i)
			if err := zkEnsure(c0, paths[i], z.data); err != nil {
				return nil, nil, err
			}
		}
		return func(_ context.Context, id int, seq uint64) (string, string) {
			if wl == wlSet || seq%10 == 9 {
				_, err := conns[id].Set(paths[id], z.data, -1)
				return zkKind(err)
			}
			_, _, err := conns[id].Get(paths[id])
			return zkKind(err)
		}, nothing, nil
	case wlGet, wlStaleGet:
		p := "/compare/get-data"
		if err := zkEnsure(c0, p, z.data); err != nil {
			return nil, nil, err
		}
		return func(_ context.Context, id int, _ uint64) (string, string) {
			_, _, err := conns[id].Get(p)
			return zkKind(err)
		}, nothing, nil
	case wlSession:
		return func(ctx context.Context, id int, _ uint64) (string, string) {
			c, err := zkConnect(ctx, z.servers[id%len(z.servers)].clientAddr())
			if err != nil {
				return "connect", err.Error()
			}
			c.Close()
			return "", ""
		}, nothing, nil
	}
	return nil, nil, fmt.Errorf("unknown workload %q", wl)
}

func (z *zkSystem) Watch(ctx context.Context) (loadgen.TimedOp, func(), error) {
	leader, err := zkLeader(z.servers)
	if err != nil {
		return nil, nil, err
	}
	follower := (leader + 1) % len(z.servers)
	wr, err := zkConnect(ctx, z.servers[leader].clientAddr())
	if err != nil {
		return nil, nil, err
	}
	wc, err := zkConnect(ctx, z.servers[follower].clientAddr())
	if err != nil {
		wr.Close()
		return nil, nil, err
	}
	path := "/compare/watched"
	if err := zkEnsure(wr, path, z.data); err != nil {
		wr.Close()
		wc.Close()
		return nil, nil, err
	}
	// The watcher re-arms its one-shot watch before telling the writer, so
	// the next write cannot slip between the event and the new watch.
	fired := make(chan time.Time, 16)
	_, _, ch, err := wc.GetW(path)
	if err != nil {
		wr.Close()
		wc.Close()
		return nil, nil, err
	}
	wctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			var ev zk.Event
			select {
			case ev = <-ch:
			case <-wctx.Done():
				return
			}
			at := time.Now()
			var err error
			for {
				if _, _, ch, err = wc.GetW(path); err == nil || wctx.Err() != nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if wctx.Err() != nil {
				return
			}
			if ev.Type == zk.EventNodeDataChanged {
				fired <- at
			}
		}
	}()
	op := func(ctx context.Context, _ int, _ uint64) (time.Duration, string, string) {
		drainTimes(fired)
		t0 := time.Now()
		if _, err := wr.Set(path, z.data, -1); err != nil {
			k, m := zkKind(err)
			return 0, k, m
		}
		return waitFired(ctx, fired, t0)
	}
	done := func() {
		cancel()
		wr.Close()
		wc.Close()
		wg.Wait()
	}
	return op, done, nil
}

// drainTimes empties a channel of event times left by a timed-out round.
func drainTimes(ch chan time.Time) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

// waitFired waits for the watcher's event and returns its latency from t0.
func waitFired(ctx context.Context, fired <-chan time.Time, t0 time.Time) (time.Duration, string, string) {
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case at := <-fired:
		return at.Sub(t0), "", ""
	case <-t.C:
		return 0, "no event", "no watch event within 5 s of the write"
	case <-ctx.Done():
		return 0, "cancelled", ctx.Err().Error()
	}
}

// zkLock is ZooKeeper's lock recipe: an ephemeral sequential node under
// dir; the lowest holds; a waiter watches the node just before its own.
type zkLock struct {
	c    *zk.Conn
	dir  string
	node string
}

func (l *zkLock) acquire(ctx context.Context) error {
	p, err := l.c.Create(l.dir+"/lock-", nil, zk.FlagEphemeral|zk.FlagSequence, worldACL)
	if err != nil {
		return err
	}
	l.node = p
	me := p[len(l.dir)+1:]
	for {
		kids, _, err := l.c.Children(l.dir)
		if err != nil {
			return err
		}
		sort.Strings(kids)
		i := sort.SearchStrings(kids, me)
		if i >= len(kids) || kids[i] != me {
			return errors.New("lock node vanished")
		}
		if i == 0 {
			return nil
		}
		ok, _, ch, err := l.c.ExistsW(l.dir + "/" + kids[i-1])
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (l *zkLock) release(context.Context) error {
	err := l.c.Delete(l.node, -1)
	l.node = ""
	return err
}

func (z *zkSystem) Lock(ctx context.Context) (loadgen.TimedOp, func(), error) {
	leader, err := zkLeader(z.servers)
	if err != nil {
		return nil, nil, err
	}
	var conns []*zk.Conn
	done := func() {
		for _, c := range conns {
			c.Close()
		}
	}
	for k := 1; k <= 2; k++ { // the two followers
		c, err := zkConnect(ctx, z.servers[(leader+k)%len(z.servers)].clientAddr())
		if err != nil {
			done()
			return nil, nil, err
		}
		conns = append(conns, c)
	}
	dir := "/compare/lock"
	if err := zkEnsure(conns[0], dir, nil); err != nil {
		done()
		return nil, nil, err
	}
	h := &handoff{
		lk: [2]locker{&zkLock{c: conns[0], dir: dir}, &zkLock{c: conns[1], dir: dir}},
		waiting: func(context.Context) (int, error) {
			kids, _, err := conns[0].Children(dir)
			return len(kids), err
		},
	}
	if err := h.lk[0].acquire(ctx); err != nil {
		done()
		return nil, nil, err
	}
	return h.op, done, nil
}
