package service

import "time"

// Limits are DESIGN §8's limits, each a flag of `canopy serve`. One value,
// filled from the flags once, is what every layer reads.
type Limits struct {
	MaxDataBytes int64 // per node
	MaxPathBytes int   // per path, in bytes
	MaxBodyBytes int64 // per request body or WebSocket frame
	MaxMultiOps  int   // per multi
	MaxWatches   int   // per connection
	WatchHistory int   // events kept for since_zxid replay
	WatchQueue   int   // frames queued per connection before a slow one is dropped
	// ReadTimeout bounds a read's wait for its consistency (the
	// linearizable check, or min_zxid when the request gives no
	// timeout_ms), and RequestTimeout a request or frame that carries no
	// deadline of its own.
	ReadTimeout    time.Duration
	RequestTimeout time.Duration
	// The abuse limits (issue 12), each off at 0: ephemerals one session
	// may own, sessions one client address may hold open, and the bytes
	// of data the whole tree may hold (past it writes are 507
	// QuotaExceeded, deletes still work). They are checked before a write
	// is proposed, against this node's replica, so concurrent writes may
	// pass a limit by a few: soft limits, as ZooKeeper's quotas are.
	MaxEphemeralsPerSession int
	MaxSessionsPerClient    int
	MaxTreeBytes            int64
}

// DefaultLimits are DESIGN §8's defaults.
func DefaultLimits() Limits {
	return Limits{
		MaxDataBytes:   1 << 20,
		MaxPathBytes:   4096,
		MaxBodyBytes:   2 << 20,
		MaxMultiOps:    1000,
		MaxWatches:     100_000,
		WatchHistory:   100_000,
		WatchQueue:     1024,
		ReadTimeout:    10 * time.Second,
		RequestTimeout: 10 * time.Second,
	}
}

// WithDefaults fills every unset (zero or negative) limit with its default.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	set := func(v *int, def int) {
		if *v <= 0 {
			*v = def
		}
	}
	set64 := func(v *int64, def int64) {
		if *v <= 0 {
			*v = def
		}
	}
	setDur := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	set64(&l.MaxDataBytes, d.MaxDataBytes)
	set(&l.MaxPathBytes, d.MaxPathBytes)
	set64(&l.MaxBodyBytes, d.MaxBodyBytes)
	set(&l.MaxMultiOps, d.MaxMultiOps)
	set(&l.MaxWatches, d.MaxWatches)
	set(&l.WatchHistory, d.WatchHistory)
	set(&l.WatchQueue, d.WatchQueue)
	setDur(&l.ReadTimeout, d.ReadTimeout)
	setDur(&l.RequestTimeout, d.RequestTimeout)
	return l
}
