package c3d_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"emgd/c3d"
	"emgd/internal/testenv"
)

// refFile mirrors the per-file objects of shared/testdata/c3d/reference.json.
type refFile struct {
	Processor string `json:"processor"`
	Storage   string `json:"storage"`
	Header    struct {
		ParameterBlock int     `json:"parameter_block"`
		PointCount     int     `json:"point_count"`
		AnalogWords    int     `json:"analog_words_per_frame"`
		FirstFrame     int     `json:"first_frame"`
		LastFrame      int     `json:"last_frame"`
		ScaleFactor    float64 `json:"scale_factor"`
		DataStartBlock int     `json:"data_start_block"`
		AnalogSPF      int     `json:"analog_samples_per_frame"`
		FrameRate      float64 `json:"frame_rate"`
		Events         struct {
			Count        int       `json:"count"`
			Labels       []string  `json:"labels"`
			Times        []float64 `json:"times"`
			DisplayFlags []int     `json:"display_flags"`
		} `json:"events"`
	} `json:"header"`
	PointCount     int       `json:"point_count"`
	PointRate      float64   `json:"point_rate"`
	PointScale     float64   `json:"point_scale"`
	NFrames        int       `json:"n_frames"`
	AnalogCount    int       `json:"analog_count"`
	AnalogSPF      int       `json:"analog_samples_per_frame"`
	AnalogRate     float64   `json:"analog_rate"`
	NAnalogFrames  int       `json:"n_analog_frames"`
	AnalogGenScale float64   `json:"analog_gen_scale_applied"`
	AnalogScale    []float64 `json:"analog_scale"`
	AnalogOffset   []float64 `json:"analog_offset"`
	AnalogLabels   []string  `json:"analog_labels"`
	AnalogChannels []refChannel
	PointLabels    []string `json:"point_labels"`
	Points         []refPoint
	EventGroup     *struct {
		Used         int       `json:"used"`
		Labels       []string  `json:"labels"`
		Contexts     []string  `json:"contexts"`
		TimesSeconds []float64 `json:"times_seconds"`
	} `json:"event_group"`
}

type refChannel struct {
	Index  int       `json:"index"`
	Label  string    `json:"label"`
	N      int       `json:"n"`
	Sum    float64   `json:"sum"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
	First5 []float64 `json:"first5"`
	Last   float64   `json:"last"`
}

type refPoint struct {
	Index  int       `json:"index"`
	Label  string    `json:"label"`
	NValid int       `json:"n_valid"`
	SumX   float64   `json:"sum_x"`
	SumY   float64   `json:"sum_y"`
	SumZ   float64   `json:"sum_z"`
	First  []float64 `json:"first_valid_frame_xyz"`
}

func (r *refFile) UnmarshalJSON(b []byte) error {
	type plain refFile
	var aux struct {
		plain
		AC []refChannel `json:"analog_channels"`
		P  []refPoint   `json:"points"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*r = refFile(aux.plain)
	r.AnalogChannels, r.Points = aux.AC, aux.P
	return nil
}

func loadReference(t *testing.T) (string, map[string]refFile) {
	t.Helper()
	dir := testenv.Testdata(t, "c3d")
	raw, err := os.ReadFile(filepath.Join(dir, "reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	out := map[string]refFile{}
	for name, msg := range all {
		if name == "_about" {
			continue
		}
		var r refFile
		if err := json.Unmarshal(msg, &r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = r
	}
	if len(out) < 20 {
		t.Fatalf("reference.json lists only %d files", len(out))
	}
	return dir, out
}

func openPath(t testing.TB, path string) *c3d.File {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	f, err := c3d.Open(fh, st.Size())
	if err != nil {
		t.Fatalf("Open(%s): %v", filepath.Base(path), err)
	}
	return f
}

// close reports whether got is within 1e-6 relative (plus a small absolute
// tolerance near zero, scaled to the channel's magnitude) of want.
func closeTo(got, want, mag float64) bool {
	return math.Abs(got-want) <= 1e-6*math.Abs(want)+1e-9*math.Max(1, mag)
}

func TestReferenceFiles(t *testing.T) {
	dir, ref := loadReference(t)
	names := make([]string, 0, len(ref))
	for n := range ref {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		want := ref[name]
		t.Run(name, func(t *testing.T) {
			f := openPath(t, filepath.Join(dir, name))
			if got := map[c3d.Processor]string{c3d.Intel: "INTEL", c3d.DEC: "DEC", c3d.MIPS: "MIPS"}[f.Processor]; got != want.Processor {
				t.Errorf("processor %s, want %s", got, want.Processor)
			}
			if f.Storage.String() != map[string]string{"float": "float", "integer": "int"}[want.Storage] {
				t.Errorf("storage %s, want %s", f.Storage, want.Storage)
			}
			h := f.Header
			if h.ParameterBlock != want.Header.ParameterBlock || h.PointCount != want.Header.PointCount ||
				h.AnalogWordsPerFrame != want.Header.AnalogWords || h.FirstFrame != want.Header.FirstFrame ||
				h.LastFrame != want.Header.LastFrame || h.DataStartBlock != want.Header.DataStartBlock ||
				h.AnalogSamplesPerFrame != want.Header.AnalogSPF || float64(h.FrameRate) != want.Header.FrameRate ||
				float64(h.ScaleFactor) != want.Header.ScaleFactor {
				t.Errorf("header %+v, want %+v", h, want.Header)
			}
			if len(h.Events) != want.Header.Events.Count {
				t.Errorf("%d header events, want %d", len(h.Events), want.Header.Events.Count)
			} else {
				for i, e := range h.Events {
					if e.Label != want.Header.Events.Labels[i] || float64(e.Time) != want.Header.Events.Times[i] || int(e.Display) != want.Header.Events.DisplayFlags[i] {
						t.Errorf("header event %d = %+v, want %q %v %d", i, e, want.Header.Events.Labels[i], want.Header.Events.Times[i], want.Header.Events.DisplayFlags[i])
					}
				}
			}
			wantScale := want.PointScale
			if f.Params.Param("POINT", "SCALE") == nil && wantScale == 0 {
				wantScale = float64(h.ScaleFactor) // the reference writes 0 for an absent POINT:SCALE
			}
			if f.Point.Count != want.PointCount || f.Point.Rate != want.PointRate || f.Point.Scale != wantScale {
				t.Errorf("points %d @ %g scale %g, want %d @ %g scale %g", f.Point.Count, f.Point.Rate, f.Point.Scale, want.PointCount, want.PointRate, wantScale)
			}
			if f.Frames != want.NFrames {
				t.Errorf("frames %d, want %d", f.Frames, want.NFrames)
			}
			an := f.Analog
			if an.Count != want.AnalogCount || an.Rate != want.AnalogRate || an.SamplesPerFrame != want.AnalogSPF || f.SamplesPerChannel() != want.NAnalogFrames {
				t.Errorf("analog %d ch @ %g Hz, %d/frame, %d samples; want %d @ %g, %d, %d",
					an.Count, an.Rate, an.SamplesPerFrame, f.SamplesPerChannel(), want.AnalogCount, want.AnalogRate, want.AnalogSPF, want.NAnalogFrames)
			}
			if an.GenScale != want.AnalogGenScale {
				t.Errorf("gen scale %g, want %g", an.GenScale, want.AnalogGenScale)
			}
			for i := 0; i < an.Count && i < len(want.AnalogScale); i++ {
				if an.Scales[i] != want.AnalogScale[i] || an.Offsets[i] != want.AnalogOffset[i] {
					t.Errorf("channel %d scale %g offset %g, want %g %g", i, an.Scales[i], an.Offsets[i], want.AnalogScale[i], want.AnalogOffset[i])
					break
				}
			}
			for i, rc := range want.AnalogChannels {
				if an.Labels[i] != c3d.TrimLabel(rc.Label) {
					t.Errorf("label %d = %q, want %q", i, an.Labels[i], rc.Label)
				}
			}
			all, err := f.ReadAllAnalog()
			if err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i, rc := range want.AnalogChannels {
				x := all[i]
				if len(x) != rc.N {
					t.Errorf("channel %d: %d samples, want %d", i, len(x), rc.N)
					continue
				}
				if rc.N == 0 {
					continue
				}
				sum, lo, hi, mag := 0.0, math.Inf(1), math.Inf(-1), 0.0
				for _, v := range x {
					sum += v
					lo, hi = math.Min(lo, v), math.Max(hi, v)
					mag = math.Max(mag, math.Abs(v))
				}
				ok := closeTo(sum, rc.Sum, mag*float64(rc.N)*1e-3) && closeTo(lo, rc.Min, mag) && closeTo(hi, rc.Max, mag) && closeTo(x[len(x)-1], rc.Last, mag)
				for k, v := range rc.First5 {
					ok = ok && closeTo(x[k], v, mag)
				}
				if !ok && bad < 5 {
					bad++
					t.Errorf("channel %d %q: sum %v min %v max %v first %v last %v; want %v %v %v %v %v",
						i, rc.Label, sum, lo, hi, x[:min(5, len(x))], x[len(x)-1], rc.Sum, rc.Min, rc.Max, rc.First5, rc.Last)
				}
			}
			// One channel alone equals the same channel of the full decode.
			if an.Count > 0 {
				ch := an.Count / 2
				one, err := f.ReadAnalog(ch)
				if err != nil {
					t.Fatal(err)
				}
				for k := range one {
					if one[k] != all[ch][k] && !(math.IsNaN(one[k]) && math.IsNaN(all[ch][k])) {
						t.Fatalf("ReadAnalog(%d)[%d] = %v, full decode %v", ch, k, one[k], all[ch][k])
					}
				}
			}
			for _, rp := range want.Points {
				pts, err := f.ReadPoint(rp.Index)
				if err != nil {
					t.Fatal(err)
				}
				n, sx, sy, sz, first := 0, 0.0, 0.0, 0.0, -1
				for k, p := range pts {
					if !p.Valid {
						continue
					}
					if first < 0 {
						first = k
					}
					n++
					sx, sy, sz = sx+p.X, sy+p.Y, sz+p.Z
				}
				mag := math.Max(math.Abs(sx), math.Max(math.Abs(sy), math.Abs(sz)))
				if n != rp.NValid || !closeTo(sx, rp.SumX, mag) || !closeTo(sy, rp.SumY, mag) || !closeTo(sz, rp.SumZ, mag) {
					t.Errorf("point %d %q: %d valid, sums %v %v %v; want %d %v %v %v", rp.Index, rp.Label, n, sx, sy, sz, rp.NValid, rp.SumX, rp.SumY, rp.SumZ)
				}
				if len(rp.First) == 4 && first >= 0 {
					p := pts[first]
					if first != int(rp.First[0]) || !closeTo(p.X, rp.First[1], 1) || !closeTo(p.Y, rp.First[2], 1) || !closeTo(p.Z, rp.First[3], 1) {
						t.Errorf("point %d first valid %d %+v, want %v", rp.Index, first, p, rp.First)
					}
				}
			}
			for i, l := range want.PointLabels {
				if i < len(f.Point.Labels) && f.Point.Labels[i] != c3d.TrimLabel(l) {
					t.Errorf("point label %d = %q, want %q", i, f.Point.Labels[i], l)
					break
				}
			}
			if eg := want.EventGroup; eg != nil {
				if len(f.Events) != eg.Used {
					t.Errorf("%d events, want %d", len(f.Events), eg.Used)
				} else {
					for i, e := range f.Events {
						if e.Label != eg.Labels[i] || e.Context != eg.Contexts[i] || math.Abs(e.Time-eg.TimesSeconds[i]) > 1e-6 {
							t.Errorf("event %d = %+v, want %q %q %v", i, e, eg.Labels[i], eg.Contexts[i], eg.TimesSeconds[i])
						}
					}
				}
			}
			if testing.Verbose() && len(f.Warnings) > 0 {
				t.Logf("warnings: %q", f.Warnings)
			}
		})
	}
}
