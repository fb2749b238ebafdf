package server

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// GC tuning. Nearly all of a node's heap is the long-lived tree, so what
// the collector costs depends on the tree's size:
//
//   - a small tree (the common case) makes Go's default pacing collect very
//     often, at a few MB of heap: a large share of a busy node's CPU for
//     nothing, as memory is plentiful then;
//   - a large tree makes the default (collect at 2x the live heap) hold
//     twice the tree in RSS (1M nodes: 650 MB instead of under 500 MB).
//
// So the node lets the heap grow by gcHeadroom beyond the live heap, or by
// half of it when that is more: GOGC = max(50, 100*gcHeadroom/live). The
// percent is set again after every collection, from the live heap that
// collection found: set on a timer instead, a heap growing fast (a restore,
// a bulk load) would overshoot by the old percent of the new heap.
const (
	gcHeadroom   = 64 << 20
	gcMinPercent = 50
)

// gcPercentFor is the GC percent for a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMinPercent
	}
	return max(gcMinPercent, int(100*gcHeadroom/live))
}

// TuneGC paces the collector by the live heap, after each collection,
// until ctx ends. The canopy binary runs it unless GOGC is set.
func TuneGC(ctx context.Context) {
	debug.SetGCPercent(gcMinPercent) // until the first collection measures
	t := &gcTuner{ctx: ctx, sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}, current: gcMinPercent}
	t.arm()
}

type gcTuner struct {
	ctx     context.Context
	sample  []metrics.Sample
	current int
}

// sentinel is garbage on purpose: its finalizer runs after the collection
// that finds it unreachable, and arms the next one.
type sentinel struct{ _ *int }

func (t *gcTuner) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) {
		if t.ctx.Err() != nil {
			return
		}
		t.tune()
		t.arm()
	})
}

// tune sets the percent for the live heap the last collection found,
// when it moved by more than a fifth (setting it is not free).
func (t *gcTuner) tune() {
	metrics.Read(t.sample)
	if t.sample[0].Value.Kind() != metrics.KindUint64 {
		return
	}
	want := gcPercentFor(t.sample[0].Value.Uint64())
	if want*5 < t.current*4 || want*4 > t.current*5 {
		debug.SetGCPercent(want)
		t.current = want
	}
}
