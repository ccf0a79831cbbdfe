package analysis

import (
	"reflect"
	"testing"
)

func TestChannels(t *testing.T) {
	// CH1 has a Raw and an activated channel, CH2 only a channel named the
	// base, CH3 only an activated one (no raw channel); a blank label and a
	// repeated label get keys of their own.
	c := NewChannels([]string{"CH1 Raw", "CH1 activated", "CH2", "CH3 activated", "", "CH2"})
	wantKeys := []string{"CH1 Raw", "CH1 activated", "CH2", "CH3 activated", "analog_5", "CH2#6"}
	if !reflect.DeepEqual(c.Keys, wantKeys) {
		t.Errorf("keys %q, want %q", c.Keys, wantKeys)
	}
	// A channel whose key is its own base counts as raw.
	if want := map[string]int{"CH1": 0, "CH2": 2, "analog_5": 4, "CH2#6": 5}; !reflect.DeepEqual(c.Raw, want) {
		t.Errorf("raw %v, want %v", c.Raw, want)
	}
	for _, tc := range []struct {
		name      string
		ch        int
		processed bool
		ok        bool
	}{
		{"CH1 Raw", 0, false, true},
		{"CH1 activated", 1, false, true},
		{"CH2", 2, false, true}, // the first channel of a label
		{"CH2#6", 5, false, true},
		{"analog_5", 4, false, true},
		{"CH1 Processed", 0, true, true},
		{"CH2 Processed", 2, true, true},
		{"CH3 Processed", 0, false, false},
		{"CH1", 0, false, false},
		{"nonesuch", 0, false, false},
		// No exact match: case is ignored, as the old backend did.
		{"ch1 raw", 0, false, true},
		{"CH1 ACTIVATED", 1, false, true},
		{"ch2", 2, false, true},
		{"ch2#6", 5, false, true},
		{"ch1 processed", 0, true, true},
		{"Ch2 PROCESSED", 2, true, true},
		{"ch3 processed", 0, false, false},
		{"ch1", 0, false, false},
	} {
		ch, processed, ok := c.Resolve(tc.name)
		if ch != tc.ch || processed != tc.processed || ok != tc.ok {
			t.Errorf("Resolve(%q) = %d %v %v, want %d %v %v", tc.name, ch, processed, ok, tc.ch, tc.processed, tc.ok)
		}
	}
	wantNames := append(append([]string{}, wantKeys...), "CH1 Processed", "CH2 Processed", "analog_5 Processed", "CH2#6 Processed")
	if got := c.Names(); !reflect.DeepEqual(got, wantNames) {
		t.Errorf("names %q, want %q", got, wantNames)
	}
	// An exact match wins over one ignoring case, whatever their order;
	// of several channels equal but for case, the first.
	c = NewChannels([]string{"emg Raw", "EMG Raw", "Emg raw"})
	for name, want := range map[string]int{"EMG Raw": 1, "emg Raw": 0, "Emg raw": 2, "EMG RAW": 0, "EMG Processed": 1, "eMG processed": 0} {
		if ch, _, ok := c.Resolve(name); ch != want || !ok {
			t.Errorf("Resolve(%q) = %d %v, want %d", name, ch, ok, want)
		}
	}
	// A channel labelled "<base> Processed" is that channel, not an envelope.
	c = NewChannels([]string{"CH1 Raw", "CH1 Processed"})
	if ch, processed, ok := c.Resolve("CH1 Processed"); ch != 1 || processed || !ok {
		t.Errorf("labelled Processed channel: %d %v %v", ch, processed, ok)
	}
}
