package metrics_test

import (
	"bytes"
	"io"
	"math"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"emgd/internal/metrics"
)

// parse reads the exposition with Prometheus's own text parser.
func parse(t *testing.T, r io.Reader) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("the exposition does not parse: %v", err)
	}
	return fams
}

func text(t *testing.T, reg *metrics.Registry) string {
	t.Helper()
	var b bytes.Buffer
	if err := reg.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestExposition(t *testing.T) {
	reg := metrics.NewRegistry()
	req := metrics.NewCounterVec(metrics.Opts{Name: "emgd_http_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	lat := metrics.NewHistogramVec(metrics.HistogramOpts{Name: "emgd_http_request_duration_seconds", Help: "Latency.\nSecond line \\ backslash.",
		Buckets: []float64{.001, .01, 1}}, []string{"route"})
	fail := metrics.NewCounter(metrics.Opts{Name: "emgd_analysis_failures_total", Help: "Sessions whose analysis failed."})
	depth := metrics.NewGaugeFunc(metrics.Opts{Name: "emgd_queue_depth", Help: "Jobs."}, func() float64 { return 7 })
	unused := metrics.NewHistogramVec(metrics.HistogramOpts{Name: "emgd_phase_duration_seconds", Buckets: []float64{1}}, []string{"phase"})
	reg.MustRegister(req, lat, fail, depth, unused)

	req.WithLabelValues("GET /healthz", "200").Inc()
	req.WithLabelValues("GET /healthz", "200").Inc()
	req.WithLabelValues("POST /x \"quoted\"\n", "503").Add(3)
	for _, v := range []float64{0.0005, 0.001, 0.005, 0.5, 2} {
		lat.WithLabelValues("GET /healthz").Observe(v)
	}
	fail.Inc()

	out := text(t, reg)
	want := `# HELP emgd_analysis_failures_total Sessions whose analysis failed.
# TYPE emgd_analysis_failures_total counter
emgd_analysis_failures_total 1
# HELP emgd_http_request_duration_seconds Latency.\nSecond line \\ backslash.
# TYPE emgd_http_request_duration_seconds histogram
emgd_http_request_duration_seconds_bucket{route="GET /healthz",le="0.001"} 2
emgd_http_request_duration_seconds_bucket{route="GET /healthz",le="0.01"} 3
emgd_http_request_duration_seconds_bucket{route="GET /healthz",le="1"} 4
emgd_http_request_duration_seconds_bucket{route="GET /healthz",le="+Inf"} 5
emgd_http_request_duration_seconds_sum{route="GET /healthz"} 2.5065
emgd_http_request_duration_seconds_count{route="GET /healthz"} 5
# HELP emgd_http_requests_total HTTP requests by route and status code.
# TYPE emgd_http_requests_total counter
emgd_http_requests_total{code="200",route="GET /healthz"} 2
emgd_http_requests_total{code="503",route="POST /x \"quoted\"\n"} 3
# HELP emgd_queue_depth Jobs.
# TYPE emgd_queue_depth gauge
emgd_queue_depth 7
`
	if out != want {
		t.Errorf("exposition:\n%s\nwant:\n%s", out, want)
	}
	fams := parse(t, strings.NewReader(out))
	if got := fams["emgd_http_requests_total"].GetMetric()[1].GetLabel()[1].GetValue(); got != "POST /x \"quoted\"\n" {
		t.Errorf("escaped label read back as %q", got)
	}
	h := fams["emgd_http_request_duration_seconds"].GetMetric()[0].GetHistogram()
	if h.GetSampleCount() != 5 || math.Abs(h.GetSampleSum()-2.5065) > 1e-12 || len(h.GetBucket()) != 4 {
		t.Errorf("histogram read back: %v", h)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	for name, second := range map[string]metrics.Collector{
		"same name":    metrics.NewCounter(metrics.Opts{Name: "x_total"}),
		"invalid name": metrics.NewCounter(metrics.Opts{Name: "1-bad"}),
		"runtime name": metrics.NewCounter(metrics.Opts{Name: "go_goroutines"}),
	} {
		t.Run(name, func(t *testing.T) {
			reg := metrics.NewRegistry()
			reg.MustRegister(metrics.NewCounter(metrics.Opts{Name: "x_total"}), metrics.NewGoCollector())
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			reg.MustRegister(second)
		})
	}
}

func TestConcurrentUpdates(t *testing.T) {
	reg := metrics.NewRegistry()
	c := metrics.NewCounterVec(metrics.Opts{Name: "c_total"}, []string{"k"})
	h := metrics.NewHistogramVec(metrics.HistogramOpts{Name: "h_seconds", Buckets: []float64{1}}, []string{"k"})
	reg.MustRegister(c, h)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				c.WithLabelValues([]string{"a", "b"}[i%2]).Inc()
				h.WithLabelValues("a").Observe(0.5)
				if i%100 == 0 {
					reg.WriteText(io.Discard)
				}
			}
		}()
	}
	wg.Wait()
	fams := parse(t, strings.NewReader(text(t, reg)))
	for _, m := range fams["c_total"].GetMetric() {
		if m.GetCounter().GetValue() != 4000 {
			t.Errorf("counter %v = %v, want 4000", m.GetLabel(), m.GetCounter().GetValue())
		}
	}
	if hs := fams["h_seconds"].GetMetric()[0].GetHistogram(); hs.GetSampleCount() != 8000 || hs.GetSampleSum() != 4000 {
		t.Errorf("histogram %v", hs)
	}
}

// TestRuntimeMetricsAsClientGolang checks that the Go and process
// collectors write the families client_golang's collectors write, with the
// same types, and plausible values.
func TestRuntimeMetricsAsClientGolang(t *testing.T) {
	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewGoCollector(), metrics.NewProcessCollector())
	runtime.GC() // a pause to report
	ours := parse(t, strings.NewReader(text(t, reg)))

	theirs := prometheus.NewRegistry()
	theirs.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	fams, err := theirs.Gather()
	if err != nil {
		t.Fatal(err)
	}
	typesOf := func(fs map[string]*dto.MetricFamily) []string {
		var s []string
		for n, f := range fs {
			s = append(s, n+" "+f.GetType().String())
		}
		sort.Strings(s)
		return s
	}
	want := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		want[f.GetName()] = f
	}
	if runtime.GOOS != "linux" {
		for n := range want {
			if strings.HasPrefix(n, "process_") {
				delete(want, n)
			}
		}
	}
	if g, w := strings.Join(typesOf(ours), "\n"), strings.Join(typesOf(want), "\n"); g != w {
		t.Errorf("families:\n%s\nclient_golang's:\n%s", g, w)
	}

	value := func(name string) float64 {
		f := ours[name]
		if f == nil {
			t.Fatalf("no %s", name)
		}
		m := f.GetMetric()[0]
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		}
		return m.GetSummary().GetSampleSum()
	}
	if v := value("go_goroutines"); v < 1 {
		t.Errorf("go_goroutines %v", v)
	}
	if v := value("go_memstats_heap_alloc_bytes"); v <= 0 {
		t.Errorf("heap %v", v)
	}
	if v := ours["go_gc_duration_seconds"].GetMetric()[0].GetSummary().GetSampleCount(); v < 1 {
		t.Errorf("gc count %v after runtime.GC", v)
	}
	if l := ours["go_info"].GetMetric()[0].GetLabel(); len(l) != 1 || l[0].GetValue() != runtime.Version() {
		t.Errorf("go_info %v", l)
	}
	if runtime.GOOS != "linux" {
		return
	}
	if v := value("process_resident_memory_bytes"); v < 1<<20 {
		t.Errorf("resident memory %v", v)
	}
	if v := value("process_open_fds"); v < 3 {
		t.Errorf("open fds %v", v)
	}
	if v := value("process_cpu_seconds_total"); v < 0 {
		t.Errorf("cpu %v", v)
	}
	// the start time: as client_golang reads it, within a second
	var start float64
	for _, f := range fams {
		if f.GetName() == "process_start_time_seconds" {
			start = f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if v := value("process_start_time_seconds"); math.Abs(v-start) > 1 || v > float64(time.Now().Unix())+1 {
		t.Errorf("start time %v, client_golang %v", v, start)
	}
}
