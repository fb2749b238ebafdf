package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

const (
	// streamWriteTimeout bounds one flush: a peer that stops reading for
	// that long is taken for gone.
	streamWriteTimeout = 10 * time.Second
	// streamInFlight caps the requests one stream has at the leader; past
	// it the leader stops reading, and TCP pushes back on the follower.
	streamInFlight = 4096
	// requestTimeout bounds a forwarded request that carries no deadline.
	requestTimeout = 10 * time.Second
	// noStreamFor is how long a leader that does not serve the stream (an
	// older version, during a rolling upgrade) is reached over plain HTTP.
	noStreamFor = time.Minute
)

// frameWriter owns a connection's writing side: frames queued by any
// goroutine are written back to back and flushed when none is left, so a
// busy stream needs one system call for many frames.
type frameWriter struct {
	conn  net.Conn
	queue chan []byte
	quit  chan struct{}
	once  sync.Once
}

func newFrameWriter(conn net.Conn) *frameWriter {
	w := &frameWriter{conn: conn, queue: make(chan []byte, 256), quit: make(chan struct{})}
	go w.loop()
	return w
}

// send queues one encoded frame; false when the writer has stopped or
// done closed first (the frame was then never sent).
func (w *frameWriter) send(done <-chan struct{}, b []byte) bool {
	select {
	case w.queue <- b:
		return true
	case <-w.quit:
		return false
	case <-done:
		return false
	}
}

// stop ends the writer and closes the connection, which also ends its
// reader.
func (w *frameWriter) stop() {
	w.once.Do(func() {
		close(w.quit)
		w.conn.Close()
	})
}

func (w *frameWriter) loop() {
	bw := bufio.NewWriterSize(w.conn, 64<<10)
	for {
		var b []byte
		select {
		case b = <-w.queue:
		case <-w.quit:
			return
		}
		w.conn.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		_, err := bw.Write(b)
	more:
		for err == nil {
			select {
			case b = <-w.queue:
				_, err = bw.Write(b)
			default:
				break more
			}
		}
		if err == nil {
			err = bw.Flush()
		}
		if err != nil {
			w.stop()
			return
		}
	}
}

// Leader is what a leader does for its followers: propose their commands
// and give them read indexes (consensus.Node).
type Leader interface {
	LeaderPropose(ctx context.Context, cmd []byte) (fsm.Result, int64, error)
	LeaderReadIndex(ctx context.Context) (int64, error)
	LeaderKeepAlive(ids []api.ID) []api.ID
	Applied() int64
}

// StreamServer is the leader's side of the forwarding stream: it answers
// each forwarded proposal and read-index request, many at a time.
type StreamServer struct {
	leader     Leader
	maxPayload int
	log        zerolog.Logger
	open       prometheus.Gauge
	requests   *prometheus.CounterVec

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

// NewStreamServer serves streams whose requests go to leader; a command
// over maxPayload bytes is refused alone. Its metrics go to reg, if not
// nil.
func NewStreamServer(leader Leader, maxPayload int, log zerolog.Logger, reg prometheus.Registerer) *StreamServer {
	s := &StreamServer{
		leader: leader, maxPayload: maxPayload, log: log, conns: map[net.Conn]struct{}{},
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "canopy_forward_streams", Help: "Forwarding streams open from followers to this node.",
		}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canopy_forwarded_requests_total",
			Help: "Followers' requests answered over forwarding streams, by kind (propose, readindex) and outcome (ok, or error: for a proposal, not made or not known to have applied).",
		}, []string{"kind", "outcome"}),
	}
	if reg != nil {
		reg.MustRegister(s.open, s.requests)
	}
	return s
}

// Close ends every stream (the HTTP server does not track hijacked
// connections) and refuses new ones. Proposals already made still commit.
func (s *StreamServer) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
}

// Upgrade answers an HTTP request for the stream with 101 and serves the
// stream on its connection until either side closes it. Its error means
// the connection could not be taken over, and w can still answer; bad
// requests are the caller's to refuse first.
func (s *StreamServer) Upgrade(w http.ResponseWriter) error {
	h := w.Header().Clone() // what the middleware set, e.g. Canopy-Zxid
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return err
	}
	h.Set("Connection", "Upgrade")
	h.Set("Upgrade", StreamProtocol)
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\n")
	h.Write(rw)
	rw.WriteString("\r\n")
	if err := rw.Flush(); err != nil {
		conn.Close()
		return nil
	}
	s.serve(conn, rw.Reader)
	return nil
}

func (s *StreamServer) serve(conn net.Conn, r *bufio.Reader) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		conn.Close()
		return
	}
	s.conns[conn] = struct{}{}
	s.mu.Unlock()
	s.open.Inc()
	defer func() {
		s.open.Dec()
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
	}()

	w := newFrameWriter(conn)
	defer w.stop()
	conn.SetReadDeadline(time.Time{}) // the HTTP server's deadlines no longer apply
	slots := make(chan struct{}, streamInFlight)
	for {
		f, err := readFrame(r, s.maxPayload)
		if errors.Is(err, errFrameTooLarge) && f.kind.request() {
			s.requests.WithLabelValues(f.kind.String(), "error").Inc()
			w.send(nil, appendFrame(nil, frame{kind: frameError, id: f.id, payload: errorPayload(&api.Error{
				Code: api.CodeTooLarge, Message: fmt.Sprintf("forwarded command over the limit of %d bytes", s.maxPayload)})}))
			continue
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.log.Warn().Err(err).Str("remote", conn.RemoteAddr().String()).Msg("forwarding stream ended")
			}
			return
		}
		if !f.kind.request() {
			s.log.Warn().Str("remote", conn.RemoteAddr().String()).Int("kind", int(f.kind)).Msg("forwarding stream: unexpected frame; closing it")
			return
		}
		slots <- struct{}{}
		go func() {
			defer func() { <-slots }()
			out := s.answer(f)
			outcome := "ok"
			if out.kind == frameError {
				outcome = "error"
			}
			s.requests.WithLabelValues(f.kind.String(), outcome).Inc()
			w.send(nil, appendFrame(nil, out))
		}()
	}
}

// answer serves one forwarded request. A panic becomes an error answer:
// what a follower sends is input like any other.
func (s *StreamServer) answer(f frame) (out frame) {
	out.id = f.id
	defer func() {
		if p := recover(); p != nil {
			s.log.Error().Interface("panic", p).Str("kind", f.kind.String()).Msg("forwarded request panicked")
			out.kind, out.payload = frameError, errorPayload(&api.Error{Code: api.CodeSystemError, Message: "internal error"})
		}
	}()
	timeout := time.Duration(f.arg) * time.Millisecond
	if timeout <= 0 || timeout > requestTimeout {
		timeout = requestTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var result any
	var err error
	if f.kind == frameReadIndex {
		var index int64
		index, err = s.leader.LeaderReadIndex(ctx)
		result = ReadIndexResult{Index: index}
	} else {
		var res fsm.Result
		var zxid int64
		res, zxid, err = s.leader.LeaderPropose(ctx, f.payload)
		result = FromResult(res, zxid)
	}
	if err != nil {
		var ae *api.Error
		if !errors.As(err, &ae) {
			ae = &api.Error{Code: api.CodeSystemError, Message: err.Error()}
		}
		out.kind, out.payload = frameError, errorPayload(ae)
		return out
	}
	out.kind = frameResult
	out.payload, _ = json.Marshal(result)
	return out
}

func errorPayload(e *api.Error) []byte {
	b, _ := json.Marshal(e)
	return b
}

// errNoStream: the leader does not serve the stream; use plain HTTP.
var errNoStream = errors.New("the leader does not serve the forwarding stream")

// stream is a follower's connection to one leader's forwarding stream.
type stream struct {
	addr string
	w    *frameWriter

	mu      sync.Mutex
	pending map[uint64]chan frame
	next    uint64
	err     error // why the stream broke; nil while it works
}

// dialStream connects to addr's stream and starts reading answers; over
// TLS when tlsConfig is set (scheme "https").
func dialStream(ctx context.Context, scheme, addr string, tlsConfig *tls.Config, onBroken func(*stream)) (*stream, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, unreachable(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	conn.SetDeadline(deadline)
	if tlsConfig != nil {
		if conn, err = tlsHandshake(ctx, conn, addr, tlsConfig); err != nil {
			return nil, unreachable(err)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, scheme+"://"+addr+StreamPath, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", StreamProtocol)
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, unreachable(err)
	}
	r := bufio.NewReaderSize(conn, 64<<10)
	resp, err := http.ReadResponse(r, req)
	if err != nil {
		conn.Close()
		return nil, unreachable(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			return nil, errNoStream
		}
		return nil, answerError(resp.Status, data)
	}
	if !strings.EqualFold(resp.Header.Get("Upgrade"), StreamProtocol) {
		conn.Close()
		return nil, api.Unavailable("the leader upgraded to %s", resp.Header.Get("Upgrade"))
	}
	conn.SetDeadline(time.Time{})
	s := &stream{addr: addr, w: newFrameWriter(conn), pending: map[uint64]chan frame{}}
	go s.readLoop(r, onBroken)
	return s, nil
}

// tlsHandshake secures conn to addr, as HTTP/1.1: the stream is an
// upgrade, which HTTP/2 does not have. conn is closed on failure.
func tlsHandshake(ctx context.Context, conn net.Conn, addr string, config *tls.Config) (net.Conn, error) {
	config = config.Clone()
	config.NextProtos = []string{"http/1.1"}
	if config.ServerName == "" {
		config.ServerName, _, _ = net.SplitHostPort(addr)
	}
	tc := tls.Client(conn, config)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}

func unreachable(err error) error {
	return api.Unavailable("cannot reach the leader: %v", err)
}

func (s *stream) readLoop(r *bufio.Reader, onBroken func(*stream)) {
	var err error
	for {
		var f frame
		// An answer carries at most a multi's results: far less than this.
		if f, err = readFrame(r, 64<<20); err != nil {
			break
		}
		if f.kind.request() {
			err = errors.New("the leader sent a request")
			break
		}
		s.mu.Lock()
		ch := s.pending[f.id]
		delete(s.pending, f.id)
		s.mu.Unlock()
		if ch != nil {
			ch <- f
		}
	}
	s.w.stop()
	s.mu.Lock()
	s.err = err
	pending := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, ch := range pending {
		ch <- frame{} // kind 0: the stream broke
	}
	onBroken(s)
}

// broken reports whether the stream can no longer be used.
func (s *stream) broken() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err != nil
}

// idle reports whether no request waits on the stream.
func (s *stream) idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending) == 0
}

// propose sends cmd and waits for the leader's answer. When the stream
// breaks or ctx ends first, the command may or may not have been applied:
// the error is Unavailable, like any lost forward.
func (s *stream) propose(ctx context.Context, cmd []byte) (fsm.Result, int64, error) {
	var out ProposeResult
	if err := s.call(ctx, framePropose, cmd, &out); err != nil {
		return fsm.Result{}, 0, err
	}
	return out.ToResult(), out.Zxid, nil
}

// readIndex asks the leader for a read index.
func (s *stream) readIndex(ctx context.Context) (int64, error) {
	var out ReadIndexResult
	err := s.call(ctx, frameReadIndex, nil, &out)
	return out.Index, err
}

// call sends one request and decodes its result into out.
func (s *stream) call(ctx context.Context, kind frameKind, payload []byte, out any) error {
	timeout := requestTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout <= 0 {
		return lostAnswer(kind, "the request's deadline passed before it was sent")
	}
	ch := make(chan frame, 1)
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return lostAnswer(kind, "the stream to the leader broke")
	}
	s.next++
	id := s.next
	s.pending[id] = ch
	s.mu.Unlock()

	b := make([]byte, 0, 4+frameHeader+len(payload))
	b = appendFrame(b, frame{kind: kind, id: id, arg: uint32(min(timeout.Milliseconds()+1, 1<<31)), payload: payload})
	if !s.w.send(ctx.Done(), b) {
		s.forget(id)
		return api.Unavailable("not sent: the stream to the leader is stalled or broken")
	}
	select {
	case f := <-ch:
		switch f.kind {
		case frameResult:
			if err := json.Unmarshal(f.payload, out); err != nil {
				return &api.Error{Code: api.CodeSystemError, Message: "unreadable answer from the leader: " + err.Error()}
			}
			return nil
		case frameError:
			var e api.Error
			if err := json.Unmarshal(f.payload, &e); err != nil || e.Code == "" {
				return &api.Error{Code: api.CodeSystemError, Message: "unreadable error from the leader"}
			}
			return &e
		default:
			return lostAnswer(kind, "the stream to the leader broke")
		}
	case <-ctx.Done():
		s.forget(id)
		return lostAnswer(kind, "no answer from the leader before the deadline")
	}
}

func (s *stream) forget(id uint64) {
	s.mu.Lock()
	delete(s.pending, id)
	s.mu.Unlock()
}

// lostAnswer is the error of a request whose answer will never come: for a
// proposal, its outcome is unknown.
func lostAnswer(kind frameKind, why string) error {
	if kind == framePropose {
		why += "; the write may or may not have happened"
	}
	return api.Unavailable("%s", why)
}

// answerError turns a non-2xx answer from the leader into its error.
func answerError(status string, data []byte) error {
	var e api.ErrorBody
	if json.Unmarshal(data, &e) == nil && e.Error != nil {
		return e.Error
	}
	return api.Unavailable("the leader answered %s", status)
}
