package loadgen

import (
	"math"
	"math/bits"
	"time"
)

// Histogram is a small HDR-like latency histogram: values (nanoseconds)
// below 2^subBits are kept exactly; above, each power of two is split into
// 2^subBits equal buckets, so a reported percentile is within 1/2^subBits
// (0.8 %) of the true value. Memory is fixed (about 60 KB), recording is
// O(1) and histograms merge by adding counts, so every client keeps its own
// and they are merged once at the end.
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
	min    int64
	max    int64
	sum    float64 // nanoseconds, for the mean
}

const (
	subBits    = 7
	subCount   = 1 << subBits // 128
	numBuckets = subCount + (64-subBits)*subCount
)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{min: math.MaxInt64} }

// bucketOf maps a value to its bucket index.
func bucketOf(v int64) int {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if u < subCount {
		return int(u)
	}
	shift := bits.Len64(u) - subBits - 1 // u>>shift is in [subCount, 2*subCount)
	return subCount + shift*subCount + int(u>>uint(shift)) - subCount
}

// bucketRange returns the smallest and largest value that map to bucket i.
func bucketRange(i int) (lo, hi int64) {
	if i < subCount {
		return int64(i), int64(i)
	}
	shift := uint((i - subCount) / subCount)
	m := uint64((i-subCount)%subCount + subCount)
	lo64 := m << shift
	hi64 := lo64 + (uint64(1) << shift) - 1
	if hi64 > math.MaxInt64 {
		hi64 = math.MaxInt64
	}
	return int64(lo64), int64(hi64)
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := int64(d)
	if v < 0 {
		v = 0
	}
	h.counts[bucketOf(v)]++
	h.n++
	h.sum += float64(v)
	if v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
}

// Merge adds o's samples to h.
func (h *Histogram) Merge(o *Histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.sum += o.sum
	if o.n > 0 {
		if o.min < h.min {
			h.min = o.min
		}
		if o.max > h.max {
			h.max = o.max
		}
	}
}

// Percentile returns the latency at percentile p (0 < p <= 100): the value
// below or at which p % of the samples lie (nearest-rank definition). It
// reports the top of the bucket holding that rank, clamped to the observed
// min and max, so p100 is exactly the maximum. Zero when empty.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	if p <= 0 {
		return time.Duration(h.min)
	}
	rank := uint64(math.Ceil(p / 100 * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			_, hi := bucketRange(i)
			if hi > h.max {
				hi = h.max
			}
			if hi < h.min {
				hi = h.min
			}
			return time.Duration(hi)
		}
	}
	return time.Duration(h.max)
}

// Mean is the average latency; zero when empty.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Max is the largest latency; zero when empty.
func (h *Histogram) Max() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.max)
}

// Count is the number of latencies recorded.
func (h *Histogram) Count() uint64 { return h.n }
