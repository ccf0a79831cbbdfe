package signals

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// TestEncodersWriteTheirTypes holds the hand-written encoders of the
// signals answers to the types the API document is derived from: every
// key they write is a field of the type and every field is written.
func TestEncodersWriteTheirTypes(t *testing.T) {
	pts := points{idx: []int{0, 2, 4}, data: []float64{1, math.NaN(), 3}, rms: []float64{0.5, 0.6, math.Inf(1)}}
	check := func(name string, body []byte, typ any) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		v := reflect.New(reflect.TypeOf(typ)).Interface()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("%s: the encoder writes what %T does not have: %v\n%s", name, typ, err, body)
		}
		var written map[string]any
		json.Unmarshal(body, &written)
		var want []string
		rt := reflect.TypeOf(typ)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			want = append(want, name)
		}
		var got []string
		for k := range written {
			got = append(got, k)
		}
		sort.Strings(want)
		sort.Strings(got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s writes %v, %T has %v", name, got, typ, want)
		}
	}
	check("encodeChannels", []byte(encodeChannels("s1", 1000, math.NaN(), []string{"CH1 Raw", "CH1 Processed"})), ChannelsResponse{})
	check("encode", encode("CH1 Raw", "s1", 1000, 2.5, pts, 2), SignalResponse{})
	if b := encode("CH1 Raw", "s1", 1000, 2.5, points{idx: pts.idx, data: pts.data}, 2); bytes.Contains(b, []byte("rms_envelope")) {
		t.Errorf("rms_envelope without include_rms: %s", b)
	}
}
