package metrics

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// ProcessCollector writes the process's metrics under client_golang's names
// (process_cpu_seconds_total, process_open_fds, process_max_fds,
// process_virtual_memory_bytes, process_virtual_memory_max_bytes,
// process_resident_memory_bytes, process_start_time_seconds,
// process_network_receive_bytes_total, process_network_transmit_bytes_total),
// read from /proc at each collection. A value that cannot be read is left
// out.
type ProcessCollector struct{}

// NewProcessCollector returns the collector of this process's metrics.
func NewProcessCollector() *ProcessCollector { return &ProcessCollector{} }

// userHZ is the unit of /proc/PID/stat's times (USER_HZ, 100 on Linux).
const userHZ = 100

func (ProcessCollector) names() []string {
	return []string{"process_cpu_seconds_total", "process_max_fds", "process_network_receive_bytes_total",
		"process_network_transmit_bytes_total", "process_open_fds", "process_resident_memory_bytes",
		"process_start_time_seconds", "process_virtual_memory_bytes", "process_virtual_memory_max_bytes"}
}

func (ProcessCollector) collect() []family {
	var fams []family
	if st, ok := readStat(); ok {
		fams = append(fams,
			family{name: "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds.", typ: "counter",
				samples: []sample{{value: float64(st.utime+st.stime) / userHZ}}},
			gauge("process_resident_memory_bytes", "Resident memory size in bytes.", float64(st.rss*int64(os.Getpagesize()))),
			gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", float64(st.vsize)))
		if boot, ok := bootTime(); ok {
			fams = append(fams, gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
				float64(boot)+float64(st.starttime)/userHZ))
		}
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		fams = append(fams, gauge("process_open_fds", "Number of open file descriptors.", float64(len(ents))))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		fams = append(fams, gauge("process_max_fds", "Maximum number of open file descriptors.", float64(lim.Cur)))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		fams = append(fams, gauge("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", float64(lim.Cur)))
	}
	if rx, tx, ok := netDev(); ok {
		fams = append(fams,
			family{name: "process_network_receive_bytes_total", help: "Number of bytes received by the process over the network.", typ: "counter",
				samples: []sample{{value: float64(rx)}}},
			family{name: "process_network_transmit_bytes_total", help: "Number of bytes sent by the process over the network.", typ: "counter",
				samples: []sample{{value: float64(tx)}}})
	}
	return fams
}

type procStat struct {
	utime, stime, starttime, vsize, rss int64
}

// readStat reads /proc/self/stat: after the command in parentheses, field 3
// is the state; utime and stime are fields 14 and 15, starttime 22, vsize
// 23 and rss (pages) 24.
func readStat() (procStat, bool) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3
	if len(f) < 22 {
		return procStat{}, false
	}
	field := func(n int) int64 {
		v, _ := strconv.ParseInt(f[n-3], 10, 64)
		return v
	}
	return procStat{utime: field(14), stime: field(15), starttime: field(22), vsize: field(23), rss: field(24)}, true
}

// bootTime is the btime line of /proc/stat: the boot time in seconds since
// 1970.
func bootTime() (int64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// netDev sums the received and sent bytes of every interface in the
// process's network namespace (/proc/self/net/dev).
func netDev() (rx, tx uint64, ok bool) {
	b, err := os.ReadFile("/proc/self/net/dev")
	if err != nil {
		return 0, 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		_, counts, found := strings.Cut(line, ":")
		f := strings.Fields(counts)
		if !found || len(f) < 9 {
			continue // the two header lines
		}
		r, err1 := strconv.ParseUint(f[0], 10, 64)
		t, err2 := strconv.ParseUint(f[8], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		rx, tx, ok = rx+r, tx+t, true
	}
	return rx, tx, ok
}
