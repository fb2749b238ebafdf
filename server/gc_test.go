package server

import "testing"

func TestGCPercentGivesSmallHeapsRoomAndLargeOnesHalf(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 1600},       // before the first collection: as for 4 MB
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
