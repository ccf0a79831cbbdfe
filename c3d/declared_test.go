package c3d_test

import (
	"bytes"
	"errors"
	"testing"

	"emgd/c3d"
)

// A file whose header and parameters declare far more frames than its bytes
// hold is refused by Open (ErrTruncated), whichever count declares them, so
// that no reader allocates for samples the file cannot hold.
func TestOpenRefusesFramesTheFileCannotHold(t *testing.T) {
	for _, frames := range []int{60_000, 7_500_000} { // 16-bit counts; POINT:LONG_FRAMES and a float POINT:FRAMES
		var buf bytes.Buffer
		w, err := c3d.NewWriter(&buf, c3d.WriterConfig{Frames: frames, PointRate: 100, AnalogLabels: []string{"CH1 Raw", "CH2 Raw"}, AnalogRate: 2000})
		if err != nil {
			t.Fatal(err)
		}
		zero := make([]float64, 40)
		for buf.Len() == 0 {
			if err := w.WriteFrame(nil, zero); err != nil {
				t.Fatal(err)
			}
		}
		for _, size := range []int{4096, buf.Len()} {
			b := buf.Bytes()[:size]
			f, err := c3d.Open(bytes.NewReader(b), int64(len(b)))
			if !errors.Is(err, c3d.ErrTruncated) {
				if f != nil {
					t.Errorf("%d frames declared in %d bytes: opened with %d frames (%d samples per channel)", frames, size, f.Frames, f.SamplesPerChannel())
				} else {
					t.Errorf("%d frames declared in %d bytes: %v, want ErrTruncated", frames, size, err)
				}
			}
		}
	}
}
