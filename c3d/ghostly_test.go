package c3d_test

import (
	"os"
	"path/filepath"
	"testing"

	"emgd/internal/testenv"
)

// The GHOSTLY game's recordings: Intel float, 4 analog channels at 990 Hz,
// 30 samples per frame, one point, data from byte 1536 (see the MANIFEST).
func TestGhostlyFiles(t *testing.T) {
	dir := testenv.Testdata(t, "ghostly")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.c3d"))
	if len(paths) == 0 {
		testenv.Require(t, "no GHOSTLY recordings in "+dir)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			f := openPath(t, p)
			st, _ := os.Stat(p)
			want := []string{"CH1 Raw", "CH2 Raw", "CH1 activated", "CH2 activated"}
			if len(f.Analog.Labels) != 4 {
				t.Fatalf("labels %q", f.Analog.Labels)
			}
			for i, l := range want {
				if f.Analog.Labels[i] != l {
					t.Errorf("label %d = %q, want %q", i, f.Analog.Labels[i], l)
				}
			}
			if f.Analog.Rate != 990 || f.Analog.SamplesPerFrame != 30 || f.Point.Count != 1 || f.Point.Rate != 33 {
				t.Errorf("layout: %+v %+v", f.Analog, f.Point)
			}
			if f.DataStart != 1536 || f.FrameBytes() != 496 {
				t.Errorf("data start %d, frame bytes %d", f.DataStart, f.FrameBytes())
			}
			// The data section fills the file up to the padding of its last block.
			end := f.DataStart + int64(f.Frames)*int64(f.FrameBytes())
			if end > st.Size() || st.Size()-end >= 512 {
				t.Errorf("%d frames end at byte %d of %d", f.Frames, end, st.Size())
			}
			if f.SamplesPerChannel() != 30*f.Frames {
				t.Errorf("samples %d for %d frames", f.SamplesPerChannel(), f.Frames)
			}
			if len(f.Warnings) > 0 {
				t.Errorf("warnings on a well-formed file: %q", f.Warnings)
			}
			raw, err := f.ReadAnalog(0)
			if err != nil {
				t.Fatal(err)
			}
			var peak float64
			for _, v := range raw {
				peak = max(peak, v, -v)
			}
			if peak == 0 || peak > 1 { // surface EMG in volts
				t.Errorf("CH1 Raw peak %g V", peak)
			}
		})
	}
}
