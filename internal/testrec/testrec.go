// Package testrec generates GHOSTLY-like C3D recordings for tests that must
// run without the shared test data: Intel float, one point at 33 Hz, four
// analog channels (CH1 Raw, CH2 Raw, CH1 activated, CH2 activated) at 990 Hz,
// with surface-EMG-like noise and contraction bursts.
package testrec

import (
	"bytes"
	"math"
	"math/rand/v2"

	"emgd/c3d"
)

// Options shape a recording.
type Options struct {
	Seconds float64 // default 20
	// Bursts are contraction intervals [start, end) in seconds on both
	// channels; default: 2-5 s, 8-9 s, 12-16 s.
	Bursts [][2]float64
	Seed   uint64
	// Activated writes the "activated" channels (true by default via
	// NoActivated = false).
	NoActivated bool
	// GameScore sets SUBJECTS:GAME_SCORE when > 0.
	GameScore float64
	// TherapistID sets INFO:THERAPIST_ID when not "".
	TherapistID string
}

// Ghostly returns the bytes of a recording.
func Ghostly(o Options) []byte {
	if o.Seconds == 0 {
		o.Seconds = 20
	}
	if o.Bursts == nil {
		o.Bursts = [][2]float64{{2, 5}, {8, 9}, {12, 16}}
	}
	const rate, spf = 990.0, 30
	frames := int(o.Seconds * 33)
	labels := []string{"CH1 Raw", "CH2 Raw", "CH1 activated", "CH2 activated"}
	if o.NoActivated {
		labels = labels[:2]
	}
	groups := []*c3d.Group{
		{Name: "INFO", Params: []*c3d.Parameter{
			c3d.NewStrings("SYSTEM", "", "OpenFeasyo"),
			c3d.NewStrings("GAME_NAME", "", "Ghostly"),
			c3d.NewFloats("GAME_LEVEL", "", []float64{2}),
			c3d.NewStrings("VERSION", "", "OpenFeasyo.Android"),
			c3d.NewStrings("TIME", "", "2023", "3", "21", "17", "50"),
		}},
		{Name: "SUBJECTS", Params: []*c3d.Parameter{
			c3d.NewStrings("PLAYER_NAME", "", "Default"),
			c3d.NewFloats("GAME_SCORE", "", []float64{o.GameScore}),
		}},
	}
	if o.TherapistID != "" {
		groups[0].Params = append(groups[0].Params, c3d.NewStrings("THERAPIST_ID", "", o.TherapistID))
	}
	var buf bytes.Buffer
	w, err := c3d.NewWriter(&buf, c3d.WriterConfig{Frames: frames, PointRate: 33, PointLabels: []string{"PlayerPosition"},
		AnalogLabels: labels, AnalogRate: rate, Groups: groups})
	if err != nil {
		panic(err)
	}
	rng := rand.New(rand.NewPCG(o.Seed, 7))
	in := func(t float64) bool {
		for _, b := range o.Bursts {
			if t >= b[0] && t < b[1] {
				return true
			}
		}
		return false
	}
	n := len(labels)
	frame := make([]float64, n*spf)
	pts := []c3d.Point{{X: 0, Y: 0, Z: 0, Valid: true}}
	for f := 0; f < frames; f++ {
		for s := 0; s < spf; s++ {
			k := f*spf + s
			t := float64(k) / rate
			act := in(t)
			for ch := 0; ch < 2; ch++ {
				amp := 2e-5
				if act {
					amp = 3e-4 * (1 + 0.2*float64(ch))
				}
				frame[s*n+ch] = amp*rng.NormFloat64() + 1e-6*math.Sin(2*math.Pi*50*t)
			}
			if n == 4 {
				v := 0.0
				if act {
					v = 1
				}
				frame[s*n+2], frame[s*n+3] = v, v
			}
		}
		if err := w.WriteFrame(pts, frame); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}
