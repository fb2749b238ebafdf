package consensus

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	proposeSeconds  prometheus.Histogram
	logStoreSeconds prometheus.Histogram
	applyBatch      prometheus.Histogram
	events          prometheus.Counter
	expired         prometheus.Counter
	reaped          prometheus.Counter
	verifyRounds    prometheus.Counter
	linearizedReads prometheus.Counter
	commitNotices   prometheus.Counter
	verifications   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		proposeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "canopy_raft_propose_seconds",
			Help:    "Time from proposing a command to its result: raft commit plus FSM apply.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		logStoreSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "canopy_raft_log_store_seconds",
			Help:    "Time to write a batch of entries to the raft log on disk (fsyncs included); every commit waits for it.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		applyBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "canopy_raft_apply_batch_entries",
			Help:    "Raft entries applied to the FSM per batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "canopy_fsm_events_total", Help: "Change events produced by applied commands.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "canopy_sessions_expired_total", Help: "Sessions this node expired as leader.",
		}),
		reaped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "canopy_nodes_reaped_total", Help: "Container and TTL nodes this node proposed to delete as leader.",
		}),
		verifyRounds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "canopy_leader_verify_rounds_total", Help: "Leadership checks made for linearizable reads (one serves many reads).",
		}),
		linearizedReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "canopy_linearizable_reads_total", Help: "Reads that waited for a leadership check.",
		}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canopy_raft_log_verifications_total",
			Help: "Raft log ranges checked by the log verifier (--raft-verify-interval), by result: ok, range_mismatch (no verdict: the range is no longer held), checksum_mismatch, error.",
		}, []string{"result"}),
		commitNotices: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "canopy_raft_commit_notices_total", Help: "Times the leader told its followers of a commit no entry in flight would carry (commitnotify.go).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.proposeSeconds, m.logStoreSeconds, m.applyBatch, m.events, m.expired, m.reaped, m.verifyRounds, m.linearizedReads, m.commitNotices, m.verifications)
	}
	return m
}
