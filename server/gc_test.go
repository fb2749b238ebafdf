package server

import (
	"context"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestGCPercentGivesSmallHeapsRoomAndLargeOnesHalf(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 50},         // not measured yet: the safe side
		{4 << 20, 1600}, // 4 MB live: collect at 68 MB, not at 8 MB
		{64 << 20, 100}, // 64 MB: Go's default
		{128 << 20, 50}, // from here on, half the live heap
		{400 << 20, 50}, // 1M nodes: collect at 600 MB, not 800 MB
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d MB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

func gcPercent() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}

func TestTuneGCSetsThePercentAfterEachCollection(t *testing.T) {
	defer debug.SetGCPercent(gcPercent())
	ctx, cancel := context.WithCancel(context.Background())
	TuneGC(ctx)
	// This test binary's live heap is a few MB: after a collection the
	// percent must give it about 64 MB of room.
	deadline := time.Now().Add(10 * time.Second)
	for gcPercent() < 500 {
		if time.Now().After(deadline) {
			t.Fatalf("GC percent %d after collections, want the small-heap room (> 500)", gcPercent())
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	// Once stopped, it leaves the percent alone.
	debug.SetGCPercent(77)
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if p := gcPercent(); p != 77 {
		t.Fatalf("GC percent %d after TuneGC stopped, want the 77 set by hand", p)
	}
}
