package server

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
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
// half of it when that is more: GOGC = max(50, 100*gcHeadroom/live).
const (
	gcHeadroom     = 64 << 20
	gcMinPercent   = 50
	gcTuneInterval = 2 * time.Second
)

// gcPercentFor is the GC percent for a live heap of live bytes.
func gcPercentFor(live uint64) int {
	if live == 0 {
		return 100 * gcHeadroom / (4 << 20)
	}
	return max(gcMinPercent, int(100*gcHeadroom/live))
}

// TuneGC sets the GC percent from the live heap now and every few seconds
// until ctx ends. The canopy binary runs it unless GOGC is set.
func TuneGC(ctx context.Context) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	current := -1
	for {
		metrics.Read(sample)
		var live uint64
		if sample[0].Value.Kind() == metrics.KindUint64 {
			live = sample[0].Value.Uint64()
		}
		// Change it only when it moves by a fifth: setting it is not free.
		if want := gcPercentFor(live); current < 0 || want*5 < current*4 || want*4 > current*5 {
			debug.SetGCPercent(want)
			current = want
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(gcTuneInterval):
		}
	}
}
