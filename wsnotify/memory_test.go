package wsnotify

import (
	"context"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/internal/testkit"
)

// rssKB reads a field (VmRSS, VmHWM) of /proc/self/status, in KiB; 0 when
// it cannot.
func rssKB(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return v
		}
	}
	return 0
}

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A thousand clients that set a recursive watch and then never read must
// not make the server's memory grow with the events that flow: each costs
// at most its bounded queue, then is dropped. The process holds both the
// server and the clients; the clients that never read allocate nothing.
func TestThousandStalledClientsKeepTheHeapBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 sockets; skipped with -short")
	}
	const clients = 1000
	const maxEvents = 40000
	// The server's send buffers are kept small as well (as a host with a
	// lower net.ipv4.tcp_wmem would): otherwise each stalled socket parks
	// up to 4 MiB in the kernel before the queue even starts to fill.
	tn := startNode(t, func(o *nodeOptions) { o.listen = smallWriteBuffers })
	c := connect(t, tn)
	c.create("/mem", "")
	c.create("/mem/x", "")

	// Dial them all, a few at a time; each sets its watch and stops reading.
	// A small receive buffer makes each stall after kilobytes, not megabytes
	// of kernel memory.
	conns := make([]*websocket.Conn, clients)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= clients {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				ws, _, err := websocket.Dial(ctx, tn.wsURL(), slowDialOptions())
				if err == nil {
					err = ws.Write(ctx, websocket.MessageText, []byte(`{"id":1,"op":"addWatch","path":"/mem","mode":"persistentRecursive"}`))
				}
				cancel()
				if err != nil {
					errs <- err
					return
				}
				conns[i] = ws
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, ws := range conns {
			if ws != nil {
				ws.CloseNow()
			}
		}
	})
	select {
	case err := <-errs:
		t.Fatalf("dial: %v", err)
	default:
	}
	testkit.WaitFor(t, 20*time.Second, "1,000 watches", func() bool { return tn.hub.WatchCount() == clients })

	base := heapAfterGC()
	baseRSS := rssKB("VmRSS")

	// Sample the heap while the events flow.
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	ops := make([]req, 200)
	for i := range ops {
		ops[i] = req{"op": "set", "path": "/mem/x", "data": "0123456789"}
	}
	events := 0
	start := time.Now()
	dropped := func() int { return int(tn.counter("canopy_watch_connections_dropped_total", "reason", "resync")) }
	for dropped() < clients && events < maxEvents {
		// Under the race detector on a loaded machine, 200 events for
		// 1,000 connections can take longer than the server's 10 s bound
		// for a frame: the answer is then Unavailable, and the multi most
		// likely still applies (it was proposed), so it counts toward the
		// bound on events like any other.
		if f := c.call(req{"op": "multi", "ops": ops}); f.Error != nil && f.Error.Code != api.CodeUnavailable {
			t.Fatalf("multi: %+v", *f.Error)
		}
		events += len(ops)
	}
	took := time.Since(start)
	close(stop)
	<-sampled
	after := heapAfterGC()
	rss, hwm := rssKB("VmRSS"), rssKB("VmHWM")

	mb := func(v uint64) float64 { return float64(v) / (1 << 20) }
	growth := int64(after) - int64(base)
	peakGrowth := int64(peak.Load()) - int64(base)
	t.Logf("%d stalled clients, %d events in %v: %d dropped", clients, events, took.Round(time.Millisecond), dropped())
	t.Logf("heap after GC: %.1f MiB before, %.1f MiB after (growth %+.1f MiB); peak sampled heap %.1f MiB (%+.1f MiB)",
		mb(base), mb(after), float64(growth)/(1<<20), mb(peak.Load()), float64(peakGrowth)/(1<<20))
	t.Logf("RSS: %.1f MiB before, %.1f MiB after, high-water %.1f MiB", float64(baseRSS)/1024, float64(rss)/1024, float64(hwm)/1024)

	if d := dropped(); d < clients {
		t.Errorf("after %d events only %d of %d stalled clients were dropped", events, d, clients)
	}
	if tn.hub.WatchCount() != 0 {
		t.Errorf("%d watches remain after every stalled client was dropped", tn.hub.WatchCount())
	}
	// Bound: the queues are preallocated (in the baseline); what remains is
	// the shared history of these events (~0.5 KiB each) and transient
	// frames: far less than 1,000 clients x events would be.
	const limit = 128 << 20
	if peakGrowth > limit {
		t.Errorf("the heap grew by %.1f MiB at its peak with %d stalled clients, over the %d MiB bound", float64(peakGrowth)/(1<<20), clients, limit>>20)
	}

	// Closing them lets the server release them.
	for _, ws := range conns {
		ws.CloseNow()
	}
	deadline := time.Now().Add(20 * time.Second)
	for tn.inflight.Load() > 1 && time.Now().Before(deadline) { // c is still open
		time.Sleep(10 * time.Millisecond)
	}
	if n := tn.inflight.Load() - 1; n > 0 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%d server connections still open 20 s after their clients closed; goroutines:\n%.20000s", n, buf)
	}
	released := heapAfterGC()
	t.Logf("heap after the clients closed: %.1f MiB", mb(released))
	if v := tn.counter("canopy_watch_connections"); v != 1 {
		t.Errorf("canopy_watch_connections %v after every stalled client closed, want 1 (c)", v)
	}
}

// smallWriteBuffers sets an 8 KiB kernel send buffer on every accepted
// connection.
func smallWriteBuffers(ln net.Listener) net.Listener { return smallBufListener{ln} }

type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}
