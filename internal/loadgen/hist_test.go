package loadgen

import (
	"math"
	"math/rand"
	"sort"
	"testing"
	"time"
)

// exactPercentile is the nearest-rank percentile of sorted samples.
func exactPercentile(sorted []int64, p float64) int64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func TestBucketRoundTrip(t *testing.T) {
	vals := []int64{0, 1, 127, 128, 129, 255, 256, 257, 1000, 4095, 4096, 1e6, 123456789, 1 << 40, math.MaxInt64}
	for _, v := range vals {
		i := bucketOf(v)
		if i < 0 || i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d out of range", v, i)
		}
		lo, hi := bucketRange(i)
		if v < lo || v > hi {
			t.Errorf("value %d in bucket %d = [%d,%d]", v, i, lo, hi)
		}
		if v >= subCount && float64(hi-lo) > float64(lo)/subCount {
			t.Errorf("bucket %d [%d,%d] is wider than 1/%d of its value", i, lo, hi, subCount)
		}
	}
	// Buckets tile the value space without gaps or overlaps.
	prevHi := int64(-1)
	for i := 0; i < numBuckets; i++ {
		lo, hi := bucketRange(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d [%d,%d] does not map back", i, lo, hi)
		}
		prevHi = hi
		if hi == math.MaxInt64 {
			break
		}
	}
}

func TestPercentilesSmallExact(t *testing.T) {
	h := NewHistogram()
	for v := 1; v <= 100; v++ { // 1..100 ns: below subCount, kept exactly
		h.Record(time.Duration(v))
	}
	cases := map[float64]time.Duration{50: 50, 99: 99, 100: 100, 1: 1, 0.5: 1}
	for p, want := range cases {
		if got := h.Percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if h.Max() != 100 || h.n != 100 {
		t.Errorf("max %v n %d", h.Max(), h.n)
	}
	if got := h.Mean(); got != 50 { // 50.5 truncated
		t.Errorf("mean = %v", got)
	}
	if e := NewHistogram(); e.Percentile(50) != 0 || e.Max() != 0 || e.Mean() != 0 {
		t.Error("empty histogram should report zeros")
	}
}

func TestPercentilesAgainstSortedSamples(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var samples []int64
	parts := []*Histogram{NewHistogram(), NewHistogram(), NewHistogram()}
	for i := 0; i < 200000; i++ {
		// Log-normal-ish latencies between ~10 µs and ~1 s, as a server gives.
		v := int64(math.Exp(rng.NormFloat64()*1.5 + 12))
		samples = append(samples, v)
		parts[i%3].Record(time.Duration(v))
	}
	h := NewHistogram()
	for _, p := range parts {
		h.Merge(p)
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	for _, p := range []float64{1, 10, 50, 90, 99, 99.9, 100} {
		want := exactPercentile(samples, p)
		got := int64(h.Percentile(p))
		if got < want || float64(got-want) > float64(want)/subCount+1 {
			t.Errorf("p%v = %d, exact %d (allowed +%.1f%%)", p, got, want, 100.0/subCount)
		}
	}
	if int64(h.Max()) != samples[len(samples)-1] {
		t.Errorf("max = %d, want %d", h.Max(), samples[len(samples)-1])
	}
	if h.n != uint64(len(samples)) {
		t.Errorf("n = %d", h.n)
	}
}
