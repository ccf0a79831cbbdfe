// Package metrics is emgd's Prometheus instrumentation: counters, histograms
// and gauges with labels, the Go runtime's and the process's metrics under
// the names client_golang gives them, and a registry that writes them in
// the Prometheus text exposition format (version 0.0.4); the HTTP side
// (internal/api) serves what it writes.
//
// It replaces client_golang, whose package initialisers (a default
// registry with its collectors, procfs, protobuf descriptors, runtime/metrics
// descriptions) every emgd command paid at start, --help included. Nothing
// here does work at package init; it imports the standard library only.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Opts names a metric and says what it measures.
type Opts struct {
	Name string
	Help string
}

// HistogramOpts are a histogram's name, help and bucket upper bounds
// (ascending; +Inf is implied).
type HistogramOpts struct {
	Name    string
	Help    string
	Buckets []float64
}

// Collector writes one or more metric families.
type Collector interface {
	// names are the metric family names it writes.
	names() []string
	// collect returns its families at the time of the call.
	collect() []family
}

// family is one metric family as written: # HELP, # TYPE and its samples.
type family struct {
	name, help, typ string
	samples         []sample
}

// sample is one line: the family's name plus suffix, labels (sorted by
// name) and value.
type sample struct {
	suffix string
	labels []labelPair
	value  float64
}

type labelPair struct{ name, value string }

// Registry holds collectors and writes their metrics.
type Registry struct {
	mu         sync.Mutex
	collectors []Collector
	names      map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{names: map[string]bool{}} }

// MustRegister adds collectors; it panics on a metric name already
// registered, as client_golang does.
func (r *Registry) MustRegister(cs ...Collector) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range cs {
		for _, n := range c.names() {
			if r.names[n] {
				panic(fmt.Sprintf("metrics: %s registered twice", n))
			}
			if !validName(n) {
				panic(fmt.Sprintf("metrics: invalid metric name %q", n))
			}
			r.names[n] = true
		}
		r.collectors = append(r.collectors, c)
	}
}

func validName(n string) bool {
	if n == "" {
		return false
	}
	for i, c := range n {
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ContentType is the media type WriteText writes.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText writes every registered metric in the text exposition format,
// families sorted by name and samples by label values.
func (r *Registry) WriteText(w io.Writer) error {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	var fams []family
	for _, c := range cs {
		fams = append(fams, c.collect()...)
	}
	sort.Slice(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		if len(f.samples) == 0 {
			continue // a family with labels and no series yet, left out as client_golang does
		}
		bw.WriteString("# HELP ")
		bw.WriteString(f.name)
		bw.WriteByte(' ')
		bw.WriteString(escapeHelp(f.help))
		bw.WriteString("\n# TYPE ")
		bw.WriteString(f.name)
		bw.WriteByte(' ')
		bw.WriteString(f.typ)
		bw.WriteByte('\n')
		for _, s := range f.samples {
			bw.WriteString(f.name)
			bw.WriteString(s.suffix)
			if len(s.labels) > 0 {
				bw.WriteByte('{')
				for i, l := range s.labels {
					if i > 0 {
						bw.WriteByte(',')
					}
					bw.WriteString(l.name)
					bw.WriteString(`="`)
					bw.WriteString(escapeLabel(l.value))
					bw.WriteByte('"')
				}
				bw.WriteByte('}')
			}
			bw.WriteByte(' ')
			bw.WriteString(formatFloat(s.value))
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = sync.OnceValue(func() *strings.Replacer { return strings.NewReplacer(`\`, `\\`, "\n", `\n`) })
	labelEscaper = sync.OnceValue(func() *strings.Replacer { return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`) })
)

func escapeHelp(s string) string {
	if !strings.ContainsAny(s, "\\\n") {
		return s
	}
	return helpEscaper().Replace(s)
}

func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\n\"") {
		return s
	}
	return labelEscaper().Replace(s)
}

// atomicFloat is a float64 updated without a lock.
type atomicFloat struct{ bits atomic.Uint64 }

func (a *atomicFloat) add(v float64) {
	for {
		old := a.bits.Load()
		if a.bits.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

func (a *atomicFloat) load() float64 { return math.Float64frombits(a.bits.Load()) }

// Counter is a value that only goes up.
type Counter struct {
	opts Opts
	v    atomicFloat
}

// NewCounter returns a counter without labels.
func NewCounter(o Opts) *Counter { return &Counter{opts: o} }

// Inc adds 1.
func (c *Counter) Inc() { c.v.add(1) }

// Add adds v, which must not be negative.
func (c *Counter) Add(v float64) {
	if v < 0 {
		panic("metrics: a counter cannot decrease")
	}
	c.v.add(v)
}

func (c *Counter) names() []string { return []string{c.opts.Name} }

func (c *Counter) collect() []family {
	return []family{{name: c.opts.Name, help: c.opts.Help, typ: "counter", samples: []sample{{value: c.v.load()}}}}
}

// vec holds one child per combination of label values.
type vec[T any] struct {
	labels   []string // as given
	order    []int    // indexes of labels sorted by name
	newChild func() *T
	mu       sync.RWMutex
	children map[string]*vecChild[T]
}

type vecChild[T any] struct {
	values []string
	m      *T
}

func newVec[T any](labels []string, newChild func() *T) vec[T] {
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return labels[order[i]] < labels[order[j]] })
	return vec[T]{labels: labels, order: order, newChild: newChild, children: map[string]*vecChild[T]{}}
}

func (v *vec[T]) with(values []string) *T {
	if len(values) != len(v.labels) {
		panic(fmt.Sprintf("metrics: %d label values for labels %v", len(values), v.labels))
	}
	key := strings.Join(values, "\xff")
	v.mu.RLock()
	c := v.children[key]
	v.mu.RUnlock()
	if c != nil {
		return c.m
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if c = v.children[key]; c == nil {
		c = &vecChild[T]{values: slices.Clone(values), m: v.newChild()}
		v.children[key] = c
	}
	return c.m
}

// sorted returns the children with their labels sorted by name, ordered by
// those labels' values.
func (v *vec[T]) sorted() ([][]labelPair, []*T) {
	v.mu.RLock()
	type kv struct {
		labels []labelPair
		m      *T
	}
	all := make([]kv, 0, len(v.children))
	for _, c := range v.children {
		ls := make([]labelPair, len(v.order))
		for i, j := range v.order {
			ls[i] = labelPair{v.labels[j], c.values[j]}
		}
		all = append(all, kv{ls, c.m})
	}
	v.mu.RUnlock()
	sort.Slice(all, func(a, b int) bool {
		for i := range all[a].labels {
			if x, y := all[a].labels[i].value, all[b].labels[i].value; x != y {
				return x < y
			}
		}
		return false
	})
	labels, ms := make([][]labelPair, len(all)), make([]*T, len(all))
	for i, e := range all {
		labels[i], ms[i] = e.labels, e.m
	}
	return labels, ms
}

// CounterVec is a counter per combination of label values.
type CounterVec struct {
	opts Opts
	vec[Counter]
}

// NewCounterVec returns a counter family with the given label names.
func NewCounterVec(o Opts, labels []string) *CounterVec {
	return &CounterVec{opts: o, vec: newVec(labels, func() *Counter { return &Counter{} })}
}

// WithLabelValues returns the counter of these label values (in the order
// the labels were given), creating it at 0.
func (v *CounterVec) WithLabelValues(values ...string) *Counter { return v.with(values) }

func (v *CounterVec) names() []string { return []string{v.opts.Name} }

func (v *CounterVec) collect() []family {
	labels, cs := v.sorted()
	f := family{name: v.opts.Name, help: v.opts.Help, typ: "counter"}
	for i, c := range cs {
		f.samples = append(f.samples, sample{labels: labels[i], value: c.v.load()})
	}
	return []family{f}
}

// Histogram counts observations in buckets.
type Histogram struct {
	upper  []float64
	counts []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	count  atomic.Uint64
	sum    atomicFloat
}

func newHistogram(buckets []float64) *Histogram {
	return &Histogram{upper: buckets, counts: make([]atomic.Uint64, len(buckets)+1)}
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i := sort.SearchFloat64s(h.upper, v) // the first bucket whose bound is >= v
	h.counts[i].Add(1)
	h.sum.add(v)
	h.count.Add(1)
}

func (h *Histogram) samples(labels []labelPair) []sample {
	out := make([]sample, 0, len(h.upper)+3)
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		le := "+Inf"
		if i < len(h.upper) {
			le = formatFloat(h.upper[i])
		}
		out = append(out, sample{suffix: "_bucket", labels: append(slices.Clip(labels), labelPair{"le", le}), value: float64(cum)})
	}
	return append(out, sample{suffix: "_sum", labels: labels, value: h.sum.load()},
		sample{suffix: "_count", labels: labels, value: float64(h.count.Load())})
}

// HistogramVec is a histogram per combination of label values.
type HistogramVec struct {
	opts HistogramOpts
	vec[Histogram]
}

// NewHistogramVec returns a histogram family with the given label names.
func NewHistogramVec(o HistogramOpts, labels []string) *HistogramVec {
	b := slices.Clone(o.Buckets)
	if !slices.IsSorted(b) {
		panic(fmt.Sprintf("metrics: %s: buckets not ascending", o.Name))
	}
	return &HistogramVec{opts: o, vec: newVec(labels, func() *Histogram { return newHistogram(b) })}
}

// WithLabelValues returns the histogram of these label values.
func (v *HistogramVec) WithLabelValues(values ...string) *Histogram { return v.with(values) }

func (v *HistogramVec) names() []string { return []string{v.opts.Name} }

func (v *HistogramVec) collect() []family {
	labels, hs := v.sorted()
	f := family{name: v.opts.Name, help: v.opts.Help, typ: "histogram"}
	for i, h := range hs {
		f.samples = append(f.samples, h.samples(labels[i])...)
	}
	return []family{f}
}

// GaugeFunc is a gauge whose value a function gives at each collection.
type GaugeFunc struct {
	opts Opts
	fn   func() float64
}

// NewGaugeFunc returns a gauge read from fn.
func NewGaugeFunc(o Opts, fn func() float64) *GaugeFunc { return &GaugeFunc{opts: o, fn: fn} }

func (g *GaugeFunc) names() []string { return []string{g.opts.Name} }

func (g *GaugeFunc) collect() []family {
	return []family{{name: g.opts.Name, help: g.opts.Help, typ: "gauge", samples: []sample{{value: g.fn()}}}}
}
