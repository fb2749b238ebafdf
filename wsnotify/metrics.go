package wsnotify

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the watch machinery's Prometheus figures.
type Metrics struct {
	subscribers prometheus.Gauge
	watchesVec  *prometheus.GaugeVec
	delivered   prometheus.Counter
	dropped     *prometheus.CounterVec
	frames      *prometheus.CounterVec
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
	}
	if reg != nil {
		reg.MustRegister(m.subscribers, m.watchesVec, m.delivered, m.dropped, m.frames)
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
