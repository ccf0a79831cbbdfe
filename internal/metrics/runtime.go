package metrics

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
)

// GoCollector writes the Go runtime's metrics under client_golang's names
// (go_goroutines, go_threads, go_info, go_gc_duration_seconds,
// go_memstats_*, go_gc_gogc_percent, go_gc_gomemlimit_bytes,
// go_sched_gomaxprocs_threads), read from runtime.ReadMemStats and
// debug.ReadGCStats at each collection.
type GoCollector struct{ gogc float64 }

// NewGoCollector returns the Go runtime's collector.
func NewGoCollector() *GoCollector { return &GoCollector{gogc: gogcPercent(os.Getenv("GOGC"))} }

// gogcPercent is the collection target the runtime read from GOGC at start
// (emgd's servers do not change it): 100 unless set, -1 when "off".
func gogcPercent(v string) float64 {
	if v == "off" {
		return -1
	}
	if n, err := strconv.ParseInt(v, 10, 32); err == nil {
		return float64(n)
	}
	return 100
}

type memstat struct {
	name, help, typ string
	value           func(*runtime.MemStats) float64
}

var goMemstats = []memstat{
	{"go_memstats_alloc_bytes", "Bytes of allocated heap objects (MemStats.Alloc).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.Alloc) }},
	{"go_memstats_alloc_bytes_total", "Bytes allocated for heap objects since start, freed or not (MemStats.TotalAlloc).", "counter", func(m *runtime.MemStats) float64 { return float64(m.TotalAlloc) }},
	{"go_memstats_buck_hash_sys_bytes", "Bytes of the profiling bucket hash table (MemStats.BuckHashSys).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.BuckHashSys) }},
	{"go_memstats_frees_total", "Heap objects freed since start (MemStats.Frees).", "counter", func(m *runtime.MemStats) float64 { return float64(m.Frees) }},
	{"go_memstats_gc_sys_bytes", "Bytes of garbage collection metadata (MemStats.GCSys).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.GCSys) }},
	{"go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects, as go_memstats_alloc_bytes (MemStats.HeapAlloc).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.HeapAlloc) }},
	{"go_memstats_heap_idle_bytes", "Bytes in idle heap spans (MemStats.HeapIdle).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.HeapIdle) }},
	{"go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans (MemStats.HeapInuse).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.HeapInuse) }},
	{"go_memstats_heap_objects", "Allocated heap objects (MemStats.HeapObjects).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.HeapObjects) }},
	{"go_memstats_heap_released_bytes", "Bytes of heap returned to the operating system (MemStats.HeapReleased).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.HeapReleased) }},
	{"go_memstats_heap_sys_bytes", "Bytes of heap memory obtained from the operating system (MemStats.HeapSys).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.HeapSys) }},
	{"go_memstats_last_gc_time_seconds", "Time of the last garbage collection, seconds since 1970 (MemStats.LastGC).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.LastGC) / 1e9 }},
	{"go_memstats_mallocs_total", "Heap objects allocated since start (MemStats.Mallocs).", "counter", func(m *runtime.MemStats) float64 { return float64(m.Mallocs) }},
	{"go_memstats_mcache_inuse_bytes", "Bytes of allocated mcache structures (MemStats.MCacheInuse).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.MCacheInuse) }},
	{"go_memstats_mcache_sys_bytes", "Bytes obtained from the operating system for mcache structures (MemStats.MCacheSys).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.MCacheSys) }},
	{"go_memstats_mspan_inuse_bytes", "Bytes of allocated mspan structures (MemStats.MSpanInuse).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.MSpanInuse) }},
	{"go_memstats_mspan_sys_bytes", "Bytes obtained from the operating system for mspan structures (MemStats.MSpanSys).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.MSpanSys) }},
	{"go_memstats_next_gc_bytes", "Heap size at which the next collection starts (MemStats.NextGC).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.NextGC) }},
	{"go_memstats_other_sys_bytes", "Bytes of other runtime allocations (MemStats.OtherSys).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.OtherSys) }},
	{"go_memstats_stack_inuse_bytes", "Bytes in stack spans (MemStats.StackInuse).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.StackInuse) }},
	{"go_memstats_stack_sys_bytes", "Bytes of stack memory obtained from the operating system (MemStats.StackSys).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.StackSys) }},
	{"go_memstats_sys_bytes", "Bytes obtained from the operating system (MemStats.Sys).", "gauge", func(m *runtime.MemStats) float64 { return float64(m.Sys) }},
}

func (c *GoCollector) names() []string {
	ns := []string{"go_gc_duration_seconds", "go_gc_gogc_percent", "go_gc_gomemlimit_bytes", "go_goroutines", "go_info",
		"go_sched_gomaxprocs_threads", "go_threads"}
	for _, m := range goMemstats {
		ns = append(ns, m.name)
	}
	return ns
}

func gauge(name, help string, v float64) family {
	return family{name: name, help: help, typ: "gauge", samples: []sample{{value: v}}}
}

func (c *GoCollector) collect() []family {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&gc)
	threads, _ := runtime.ThreadCreateProfile(nil)
	pauses := family{name: "go_gc_duration_seconds", help: "Stop-the-world pause durations of garbage collections.", typ: "summary"}
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		pauses.samples = append(pauses.samples, sample{labels: []labelPair{{"quantile", q}}, value: gc.PauseQuantiles[i].Seconds()})
	}
	pauses.samples = append(pauses.samples, sample{suffix: "_sum", value: gc.PauseTotal.Seconds()},
		sample{suffix: "_count", value: float64(gc.NumGC)})
	fams := []family{
		pauses,
		gauge("go_gc_gogc_percent", "Heap growth target percentage set by GOGC at start, otherwise 100.", c.gogc),
		gauge("go_gc_gomemlimit_bytes", "Go runtime memory limit (GOMEMLIMIT or debug.SetMemoryLimit), otherwise math.MaxInt64.", float64(debug.SetMemoryLimit(-1))),
		gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine())),
		{name: "go_info", help: "Information about the Go environment.", typ: "gauge",
			samples: []sample{{labels: []labelPair{{"version", runtime.Version()}}, value: 1}}},
		gauge("go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting.", float64(runtime.GOMAXPROCS(0))),
		gauge("go_threads", "Number of OS threads created.", float64(threads)),
	}
	for _, m := range goMemstats {
		fams = append(fams, family{name: m.name, help: m.help, typ: m.typ, samples: []sample{{value: m.value(&ms)}}})
	}
	return fams
}
