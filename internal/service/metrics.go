package service

import "emgd/internal/metrics"

// Metrics are the pipeline's Prometheus metrics.
type Metrics struct {
	Requests *metrics.CounterVec   // by route and status code
	Latency  *metrics.HistogramVec // by route
	Phase    *metrics.HistogramVec // phase1, phase2 durations
	Failures *metrics.Counter      // sessions marked failed
}

// NewMetrics registers the metrics on reg.
func NewMetrics(reg *metrics.Registry) *Metrics {
	m := &Metrics{
		Requests: metrics.NewCounterVec(metrics.Opts{Name: "emgd_http_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
		Latency: metrics.NewHistogramVec(metrics.HistogramOpts{Name: "emgd_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"route"}),
		Phase: metrics.NewHistogramVec(metrics.HistogramOpts{Name: "emgd_phase_duration_seconds", Help: "Duration of phase 1 (webhook) and phase 2 (analysis).",
			Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}, []string{"phase"}),
		Failures: metrics.NewCounter(metrics.Opts{Name: "emgd_analysis_failures_total", Help: "Sessions whose analysis failed."}),
	}
	reg.MustRegister(m.Requests, m.Latency, m.Phase, m.Failures)
	return m
}
