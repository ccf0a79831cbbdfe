package service

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the pipeline's Prometheus metrics.
type Metrics struct {
	Requests *prometheus.CounterVec   // by route and status code
	Latency  *prometheus.HistogramVec // by route
	Phase    *prometheus.HistogramVec // phase1, phase2 durations
	Failures prometheus.Counter       // sessions marked failed
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "emgd_http_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "emgd_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"route"}),
		Phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "emgd_phase_duration_seconds", Help: "Duration of phase 1 (webhook) and phase 2 (analysis).",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"phase"}),
		Failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "emgd_analysis_failures_total", Help: "Sessions whose analysis failed."}),
	}
	reg.MustRegister(m.Requests, m.Latency, m.Phase, m.Failures)
	return m
}
