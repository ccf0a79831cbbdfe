//go:build !linux

package metrics

// ProcessCollector writes the process's metrics; outside Linux it has none.
type ProcessCollector struct{}

// NewProcessCollector returns the collector of this process's metrics.
func NewProcessCollector() *ProcessCollector { return &ProcessCollector{} }

func (ProcessCollector) names() []string   { return nil }
func (ProcessCollector) collect() []family { return nil }
