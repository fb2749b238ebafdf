package zkcompat

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// rawZK is a minimal ZooKeeper client speaking the wire protocol (jute
// records over TCP) itself, for what go-zookeeper v1.0.4 lacks: addWatch
// (opcode 106, ZooKeeper 3.6), which sets persistent and persistent
// recursive watches. It also sends getData, exists and getChildren with the
// watch flag, and sync, so that a connection can mix both kinds of watch.
//
// It records every watch notification (xid -1) the server sends, in
// order: the connection-level stream that watchers are compared on.
type rawZK struct {
	conn    net.Conn
	wmu     sync.Mutex // guards writes to conn and xid
	xid     int32
	mu      sync.Mutex
	pending map[int32]chan rawReply
	events  []zkWireEvent
	readErr error
	done    chan struct{}
	quit    chan struct{}
	closeMu sync.Once
}

type rawReply struct {
	zxid int64
	err  int32
	body []byte
}

// zkWireEvent is one WatcherEvent as it came off the wire.
type zkWireEvent struct {
	Type  int32
	State int32
	Path  string
}

// ZooKeeper opcodes and error codes used here (ZooDefs.OpCode,
// KeeperException.Code).
const (
	rawOpExists      = 3
	rawOpGetData     = 4
	rawOpGetChildren = 8
	rawOpSync        = 9
	rawOpPing        = 11
	rawOpAddWatch    = 106
	rawOpClose       = -11

	rawErrNoNode = -101

	// ZooDefs.AddWatchModes.
	addWatchPersistent          = 0
	addWatchPersistentRecursive = 1
)

// jute encoding: big-endian int/long, bool as one byte, buffer and ustring
// as an int length followed by the bytes.
type juteW struct{ b []byte }

func (w *juteW) int(v int32)  { w.b = binary.BigEndian.AppendUint32(w.b, uint32(v)) }
func (w *juteW) long(v int64) { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)) }
func (w *juteW) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}
func (w *juteW) buf(v []byte) { w.int(int32(len(v))); w.b = append(w.b, v...) }
func (w *juteW) str(s string) { w.buf([]byte(s)) }

type juteR struct {
	b   []byte
	err error
}

func (r *juteR) need(n int) bool {
	if r.err != nil {
		return false
	}
	if len(r.b) < n {
		r.err = io.ErrUnexpectedEOF
		return false
	}
	return true
}

func (r *juteR) int() int32 {
	if !r.need(4) {
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b))
	r.b = r.b[4:]
	return v
}

func (r *juteR) long() int64 {
	if !r.need(8) {
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *juteR) str() string {
	n := r.int()
	if n <= 0 || !r.need(int(n)) {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func readFrame(br *bufio.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > 16<<20 {
		return nil, fmt.Errorf("frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(br, b)
	return b, err
}

// dialRawZK opens a new session on the test's ZooKeeper.
func dialRawZK() (*rawZK, error) {
	conn, err := net.DialTimeout("tcp", zkAddr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	// ConnectRequest{protocolVersion, lastZxidSeen, timeOut, sessionId, passwd, readOnly}
	var w juteW
	w.int(0)
	w.long(0)
	w.int(10000)
	w.long(0)
	w.buf(make([]byte, 16))
	w.bool(false)
	var frame juteW
	frame.buf(w.b)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write(frame.b); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReader(conn)
	b, err := readFrame(br)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect response: %w", err)
	}
	// ConnectResponse{protocolVersion, timeOut, sessionId, passwd, readOnly}
	r := juteR{b: b}
	r.int()
	timeout := r.int()
	session := r.long()
	if r.err != nil || timeout <= 0 || session == 0 {
		conn.Close()
		return nil, fmt.Errorf("connect refused (timeout %d, session %#x, %v)", timeout, session, r.err)
	}
	_ = conn.SetDeadline(time.Time{})
	z := &rawZK{conn: conn, pending: map[int32]chan rawReply{}, done: make(chan struct{}), quit: make(chan struct{})}
	go z.readLoop(br)
	go z.pingLoop(time.Duration(timeout) * time.Millisecond / 3)
	return z, nil
}

func (z *rawZK) readLoop(br *bufio.Reader) {
	defer close(z.done)
	for {
		b, err := readFrame(br)
		if err != nil {
			z.fail(err)
			return
		}
		// ReplyHeader{xid, zxid, err}
		r := juteR{b: b}
		xid, zxid, code := r.int(), r.long(), r.int()
		if r.err != nil {
			z.fail(fmt.Errorf("short reply header: %v", r.err))
			return
		}
		switch xid {
		case -1: // WatcherEvent{type, state, path}
			ev := zkWireEvent{Type: r.int(), State: r.int(), Path: r.str()}
			if r.err != nil {
				z.fail(fmt.Errorf("bad watcher event: %v", r.err))
				return
			}
			z.mu.Lock()
			z.events = append(z.events, ev)
			z.mu.Unlock()
		case -2: // ping
		default:
			z.mu.Lock()
			ch := z.pending[xid]
			delete(z.pending, xid)
			z.mu.Unlock()
			if ch != nil {
				ch <- rawReply{zxid: zxid, err: code, body: r.b}
			}
		}
	}
}

func (z *rawZK) fail(err error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.readErr == nil {
		z.readErr = err
	}
	for xid, ch := range z.pending {
		close(ch)
		delete(z.pending, xid)
	}
}

func (z *rawZK) pingLoop(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-z.quit:
			return
		case <-t.C:
			var w juteW
			w.int(-2)
			w.int(rawOpPing)
			z.send(w.b)
		}
	}
}

func (z *rawZK) send(payload []byte) error {
	var frame juteW
	frame.buf(payload)
	z.wmu.Lock()
	defer z.wmu.Unlock()
	_ = z.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := z.conn.Write(frame.b)
	return err
}

// call sends one request and waits for its reply. The reply's error code
// is returned as is (0 = ok).
func (z *rawZK) call(op int32, body func(*juteW)) (rawReply, error) {
	ch := make(chan rawReply, 1)
	z.wmu.Lock()
	z.xid++
	xid := z.xid
	z.wmu.Unlock()
	z.mu.Lock()
	if z.readErr != nil {
		err := z.readErr
		z.mu.Unlock()
		return rawReply{}, err
	}
	z.pending[xid] = ch
	z.mu.Unlock()
	var w juteW
	w.int(xid)
	w.int(op)
	if body != nil {
		body(&w)
	}
	if err := z.send(w.b); err != nil {
		return rawReply{}, err
	}
	select {
	case rep, ok := <-ch:
		if !ok {
			z.mu.Lock()
			err := z.readErr
			z.mu.Unlock()
			return rawReply{}, fmt.Errorf("connection lost: %v", err)
		}
		return rep, nil
	case <-time.After(10 * time.Second):
		return rawReply{}, errors.New("no reply within 10 s")
	}
}

func pathWatch(p string, watch bool) func(*juteW) {
	return func(w *juteW) { w.str(p); w.bool(watch) }
}

// rawCode maps a reply's error code to Canopy's codes.
func rawCode(rep rawReply, err error) string {
	switch {
	case err != nil:
		return "transport(" + err.Error() + ")"
	case rep.err == 0:
		return ""
	case rep.err == rawErrNoNode:
		return "NoNode"
	}
	return fmt.Sprintf("zk-error(%d)", rep.err)
}

func (z *rawZK) getData(p string, watch bool) string {
	return rawCode(z.call(rawOpGetData, pathWatch(p, watch)))
}

// exists answers whether p exists; a missing node is not an error.
func (z *rawZK) exists(p string, watch bool) (bool, string) {
	rep, err := z.call(rawOpExists, pathWatch(p, watch))
	if err == nil && rep.err == rawErrNoNode {
		return false, ""
	}
	return err == nil && rep.err == 0, rawCode(rep, err)
}

func (z *rawZK) getChildren(p string, watch bool) string {
	return rawCode(z.call(rawOpGetChildren, pathWatch(p, watch)))
}

// addWatch sends AddWatchRequest{path, mode}.
func (z *rawZK) addWatch(p string, mode int32) string {
	return rawCode(z.call(rawOpAddWatch, func(w *juteW) { w.str(p); w.int(mode) }))
}

func (z *rawZK) sync(p string) error {
	rep, err := z.call(rawOpSync, func(w *juteW) { w.str(p) })
	if c := rawCode(rep, err); c != "" {
		return errors.New(c)
	}
	return nil
}

// takeEvents returns the notifications received since the last call.
func (z *rawZK) takeEvents() ([]zkWireEvent, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	evs := z.events
	z.events = nil
	return evs, z.readErr
}

// close ends the session (closeSession) and the connection.
func (z *rawZK) close() {
	z.closeMu.Do(func() {
		close(z.quit)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = z.call(rawOpClose, nil)
		}()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		z.conn.Close()
		<-z.done
	})
}
