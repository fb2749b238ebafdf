// Package ctxtime holds the one context-aware sleep that the client, its
// recipes and the examples share.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits d, or less if ctx ends first (then false). A d of zero or
// less returns at once, true unless ctx has ended.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
