package signals

import (
	"testing"
	"time"
)

// generated_at is written as Python's datetime.isoformat() wrote the old
// one: microseconds unless they are 0, and the UTC offset as +00:00.
func TestGeneratedAtIsPythonIsoformat(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for in, want := range map[time.Time]string{
		time.Date(2025, 9, 23, 14, 5, 6, 123456789, time.UTC): "2025-09-23T14:05:06.123456+00:00",
		time.Date(2025, 9, 23, 14, 5, 6, 0, time.UTC):         "2025-09-23T14:05:06+00:00",
		time.Date(2025, 9, 23, 14, 5, 6, 999, time.UTC):       "2025-09-23T14:05:06+00:00",
		time.Date(2025, 9, 23, 15, 5, 6, 1000, paris):         "2025-09-23T14:05:06.000001+00:00",
	} {
		if got := generatedAt(in); got != want {
			t.Errorf("generatedAt(%v) = %s, want %s", in, got, want)
		}
	}
}
