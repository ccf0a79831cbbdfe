package signals_test

import (
	"regexp"
	"testing"
	"time"

	"emgd/internal/testrec"
)

// The old backend's signal answer (SignalDataResponse): channel_name as
// asked, rms_envelope unless include_rms=false (its default was true),
// generated_at as Python's UTC isoformat, channel names matched ignoring
// case when none matches exactly.
func TestOldSignalKeys(t *testing.T) {
	e := newEnv(t, testrec.Ghostly(testrec.Options{Seed: 8}))
	before := time.Now().UTC().Add(-time.Second)
	code, a, _ := e.get(t, e.path("CH1 Raw", "max_points=50"))
	if code != 200 || a.ChannelName != "CH1 Raw" || len(a.RMS) != len(a.Data) || len(a.RMS) == 0 {
		t.Fatalf("default: %d name %q, %d RMS values for %d samples", code, a.ChannelName, len(a.RMS), len(a.Data))
	}
	re := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{6})?\+00:00$`)
	at, err := time.Parse("2006-01-02T15:04:05.999999-07:00", a.GeneratedAt)
	if !re.MatchString(a.GeneratedAt) || err != nil || at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("generated_at %q (%v)", a.GeneratedAt, err)
	}
	if code, a, _ := e.get(t, e.path("CH1 Raw", "max_points=50&include_rms=false")); code != 200 || a.RMS != nil || len(a.Data) == 0 {
		t.Errorf("include_rms=false: %d, %d RMS values", code, len(a.RMS))
	}
	// Names ignoring case, when no name matches exactly; the answer names
	// the channel as asked, as the old one did.
	for _, name := range []string{"ch1 raw", "CH2 RAW", "ch1 processed"} {
		code, a, _ := e.get(t, e.path(name, "max_points=50&include_rms=false"))
		if code != 200 || a.ChannelName != name || len(a.Data) == 0 {
			t.Errorf("%s: %d %q %s", name, code, a.ChannelName, a.Error)
		}
	}
	exact, _, _ := e.get(t, e.path("CH1 Processed", "max_points=50&include_rms=false"))
	_, folded, _ := e.get(t, e.path("ch1 processed", "max_points=50&include_rms=false"))
	_, exactA, _ := e.get(t, e.path("CH1 Processed", "max_points=50&include_rms=false"))
	if exact != 200 || len(folded.Data) != len(exactA.Data) || *folded.Data[10] != *exactA.Data[10] {
		t.Errorf("ch1 processed is not CH1 Processed")
	}
	if code, _, _ := e.get(t, e.path("ch9 raw", "")); code != 404 {
		t.Errorf("unknown channel: %d", code)
	}
}
