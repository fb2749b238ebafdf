package wsnotify

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the watch machinery's Prometheus figures.
type Metrics struct {
	subscribers prometheus.Gauge
	watchesVec  *prometheus.GaugeVec
	delivered   prometheus.Counter
	dropped     *prometheus.CounterVec
	frames      *prometheus.CounterVec
	lifetimes   *prometheus.HistogramVec
}

// NewMetrics makes the metrics and registers them on reg (when not nil).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		subscribers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "canopy_watch_connections", Help: "Open WebSocket connections and SSE streams.",
		}),
		watchesVec: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "canopy_watches", Help: "Live watches by kind.",
		}, []string{"kind"}),
		delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "canopy_watch_events_sent_total", Help: "Events queued to connections and streams.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canopy_watch_connections_dropped_total", Help: "Connections closed by the server, by reason.",
		}, []string{"reason"}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "canopy_ws_frames_total", Help: "WebSocket request frames by op and outcome.",
		}, []string{"op", "code"}),
		// Connections are not requests: their lifetimes have their own
		// histogram, apart from canopy_http_request_duration_seconds.
		lifetimes: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "canopy_watch_connection_duration_seconds",
			Help:    "How long WebSocket connections and SSE streams stayed open, by transport.",
			Buckets: prometheus.ExponentialBuckets(0.1, 4, 10), // 100 ms to about 7 hours
		}, []string{"transport"}),
	}
	if reg != nil {
		reg.MustRegister(m.subscribers, m.watchesVec, m.delivered, m.dropped, m.frames, m.lifetimes)
	}
	return m
}

type hubMetrics struct {
	*Metrics
	watches [kindCount]prometheus.Gauge
}

func (m *Metrics) hub() *hubMetrics {
	if m == nil {
		m = NewMetrics(nil)
	}
	h := &hubMetrics{Metrics: m}
	for k := Kind(0); k < kindCount; k++ {
		h.watches[k] = m.watchesVec.WithLabelValues(k.String())
	}
	return h
}

// connection records one WebSocket connection's or SSE stream's life: its
// duration, and a debug log line (the access log of a connection) when it
// ends. Call the function it returns when the connection ends.
func (h *Handler) connection(transport string, r *http.Request) func() {
	start := time.Now()
	return func() {
		took := time.Since(start)
		h.cfg.Metrics.lifetimes.WithLabelValues(transport).Observe(took.Seconds())
		if e := h.cfg.Logger.Debug(); e.Enabled() {
			e.Str("transport", transport).Str("path", r.URL.EscapedPath()).Str("remote", r.RemoteAddr).
				Dur("duration", took).Msg("connection closed")
		}
	}
}
