package analysis

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"emgd/c3d"
)

// Parameters holding NaN or ±Inf are left out of the metadata with a
// warning naming them, so that the metadata always encodes as JSON; the
// file's own warnings are copied, not shared.
func TestReadMetadataNonFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		var buf bytes.Buffer
		w, err := c3d.NewWriter(&buf, c3d.WriterConfig{Frames: 10, PointRate: 10, AnalogLabels: []string{"CH1 Raw"}, AnalogRate: 100,
			Groups: []*c3d.Group{
				{Name: "INFO", Params: []*c3d.Parameter{c3d.NewFloats("DURATION", "", []float64{v}), c3d.NewFloats("GAME_LEVEL", "", []float64{v})}},
				{Name: "SUBJECTS", Params: []*c3d.Parameter{c3d.NewFloats("GAME_SCORE", "", []float64{v})}},
			}})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			if err := w.WriteFrame(nil, make([]float64, 10)); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := c3d.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		fileWarnings := len(f.Warnings)
		m := ReadMetadata(f, "a.c3d")
		if m.GameScore != nil || m.GameDuration != nil || m.Level != "" {
			t.Errorf("%v: score %v, duration %v, level %q; want all absent", v, m.GameScore, m.GameDuration, m.Level)
		}
		all := strings.Join(m.Warnings, "\n")
		for _, p := range []string{"SUBJECTS:GAME_SCORE", "INFO:DURATION", "INFO:GAME_LEVEL"} {
			if !strings.Contains(all, p) {
				t.Errorf("%v: no warning names %s: %q", v, p, m.Warnings)
			}
		}
		if len(f.Warnings) != fileWarnings {
			t.Errorf("the file's warnings grew from %d to %d", fileWarnings, len(f.Warnings))
		}
		if _, err := json.Marshal(m); err != nil {
			t.Errorf("%v: %v", v, err)
		}
	}
}
