package loadgen

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one request of load client id (0..Clients-1), its seq-th. It
// returns "" on success, else a short kind for the error table ("timeout",
// "503 Unavailable") and a message.
type Op func(ctx context.Context, id int, seq uint64) (kind, msg string)

// TimedOp is an Op that measures its own latency: a watch's or a lock
// handoff's is not the call's duration. A negative d means the call's.
type TimedOp func(ctx context.Context, id int, seq uint64) (d time.Duration, kind, msg string)

// Window is how long a run loads and how long it measures.
type Window struct {
	Clients  int           // concurrent closed-loop clients
	Warmup   time.Duration // load applied, not measured, before the window
	Duration time.Duration // measured window; 0 = until Requests are done
	Requests int64         // measured requests in total; 0 = until Duration ends
	Timeout  time.Duration // per request: no request outlives the window by more
}

// Outcome is what a run measured.
type Outcome struct {
	Hist    *Histogram
	Elapsed time.Duration     // the measured window as it ran
	Errors  map[string]uint64 // by kind
	First   string            // the first error's message
	Steal   float64           // % of all CPUs' time stolen by the hypervisor in the window; -1 unknown
}

// ErrorCount is the number of measured errors.
func (o Outcome) ErrorCount() uint64 {
	var n uint64
	for _, v := range o.Errors {
		n += v
	}
	return n
}

type clientStats struct {
	hist    *Histogram
	errs    map[string]uint64
	first   string
	lastEnd time.Time
}

// Run drives w.Clients closed-loop clients, each calling op, sends the next
// once the previous returned. Requests that start in the warm-up or end
// after the window are not counted, neither as successes nor as errors.
func Run(ctx context.Context, w Window, op Op) Outcome {
	return RunTimed(ctx, w, func(ctx context.Context, id int, seq uint64) (time.Duration, string, string) {
		kind, msg := op(ctx, id, seq)
		return -1, kind, msg
	})
}

// RunTimed is Run for operations that time themselves.
func RunTimed(ctx context.Context, w Window, op TimedOp) Outcome {
	t0 := time.Now()
	mstart := t0.Add(w.Warmup)
	var mend time.Time // zero: no time limit
	if w.Duration > 0 {
		mend = mstart.Add(w.Duration)
	}
	runCtx := ctx
	if !mend.IsZero() && w.Timeout > 0 {
		var c context.CancelFunc
		runCtx, c = context.WithDeadline(ctx, mend.Add(w.Timeout))
		defer c()
	}
	// Steal is sampled at the window's edges by a goroutine of its own, so
	// a slow client does not move them.
	stealDone := make(chan float64, 1)
	go func() {
		if !sleepUntil(runCtx, mstart) {
			stealDone <- -1
			return
		}
		a, okA := ReadCPU()
		end := mend
		if end.IsZero() {
			<-runCtx.Done()
		} else if !sleepUntil(runCtx, end) {
			stealDone <- -1
			return
		}
		b, okB := ReadCPU()
		if !okA || !okB {
			stealDone <- -1
			return
		}
		stealDone <- StealPercent(a, b)
	}()

	var tokens atomic.Int64
	stats := make([]*clientStats, w.Clients)
	var wg sync.WaitGroup
	for id := 0; id < w.Clients; id++ {
		st := &clientStats{hist: NewHistogram(), errs: map[string]uint64{}}
		stats[id] = st
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			loadClient(runCtx, w, op, id, mstart, mend, &tokens, st)
		}(id)
	}
	wg.Wait()

	out := Outcome{Hist: NewHistogram(), Errors: map[string]uint64{}}
	var lastEnd time.Time
	for _, st := range stats {
		out.Hist.Merge(st.hist)
		for k, v := range st.errs {
			out.Errors[k] += v
		}
		if out.First == "" {
			out.First = st.first
		}
		if st.lastEnd.After(lastEnd) {
			lastEnd = st.lastEnd
		}
	}
	elapsed := w.Duration
	if w.Requests > 0 && (mend.IsZero() || lastEnd.Before(mend)) {
		elapsed = lastEnd.Sub(mstart)
	}
	if ctx.Err() != nil { // interrupted: report what was measured
		if end := time.Now(); mend.IsZero() || end.Before(mend) {
			elapsed = end.Sub(mstart)
		}
	}
	if elapsed < 0 {
		elapsed = 0
	}
	out.Elapsed = elapsed
	if mend.IsZero() || ctx.Err() != nil {
		out.Steal = -1
	} else {
		out.Steal = <-stealDone
	}
	return out
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func loadClient(ctx context.Context, w Window, op TimedOp, id int,
	mstart, mend time.Time, tokens *atomic.Int64, st *clientStats) {
	var seq uint64
	for ctx.Err() == nil {
		start := time.Now()
		if !mend.IsZero() && !start.Before(mend) {
			return
		}
		measured := !start.Before(mstart)
		if measured && w.Requests > 0 && tokens.Add(1) > w.Requests {
			return
		}
		d, kind, msg := op(ctx, id, seq)
		seq++
		end := time.Now()
		if !measured || (!mend.IsZero() && end.After(mend)) {
			continue
		}
		if kind != "" {
			if ctx.Err() != nil && w.Requests == 0 {
				return // cut off at the end of the run, not a server failure
			}
			st.errs[kind]++
			if st.first == "" {
				st.first = msg
			}
			st.lastEnd = end
			continue
		}
		if d < 0 {
			d = end.Sub(start)
		}
		st.hist.Record(d)
		st.lastEnd = end
	}
}
