package recipe_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/client/recipe"
)

// BenchmarkLockHandoff: contenders, each with its own session, take turns
// on one lock on a real node (fsync on). b.N is the number of acquisitions;
// it reports acquisitions/s and the handoff latency, from one holder's
// Release call to the next holder's Acquire returning. Run with e.g.
//
//	go test ./client/recipe -run '^$' -bench LockHandoff -benchtime 2000x
func BenchmarkLockHandoff(b *testing.B) {
	for _, contenders := range []int{1, 8} {
		b.Run(fmt.Sprintf("contenders=%d", contenders), func(b *testing.B) {
			c := newClient(b)
			ctx := context.Background()
			path := fmt.Sprintf("/bench-lock-%d-%d", contenders, time.Now().UnixNano())
			var mu sync.Mutex
			var released time.Time // when the last Release was called
			var handoffs []time.Duration
			left := b.N
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < contenders; i++ {
				s, err := c.NewSession(ctx, 10*time.Second)
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close(ctx)
				wg.Add(1)
				go func() {
					defer wg.Done()
					l := recipe.NewLock(s, path)
					for {
						if _, err := l.Acquire(ctx); err != nil {
							b.Error(err)
							return
						}
						mu.Lock()
						if !released.IsZero() {
							handoffs = append(handoffs, time.Since(released))
						}
						done := left <= 0
						left--
						released = time.Now()
						mu.Unlock()
						if err := l.Release(ctx); err != nil {
							b.Error(err)
							return
						}
						if done {
							return
						}
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			sort.Slice(handoffs, func(i, j int) bool { return handoffs[i] < handoffs[j] })
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "acquisitions/s")
			if n := len(handoffs); n > 0 {
				b.ReportMetric(float64(handoffs[n/2].Microseconds())/1000, "p50-handoff-ms")
				b.ReportMetric(float64(handoffs[n*99/100].Microseconds())/1000, "p99-handoff-ms")
			}
		})
	}
}
