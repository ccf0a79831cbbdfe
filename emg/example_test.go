package emg_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"emgd/emg"
)

func Example() {
	// 30 s at 1 kHz: a raw EMG channel with a 2 s contraction every 10 s and
	// the activation channel a GHOSTLY recorder writes beside it.
	const fs = 1000.0
	n := int(30 * fs)
	raw := make([]float64, n)
	act := make([]float64, n)
	for i := range raw {
		t := float64(i) / fs
		on := math.Mod(t, 10) >= 3 && math.Mod(t, 10) < 5
		amp := 5e-6
		if on {
			amp = 1e-4
			act[i] = 1
		}
		raw[i] = amp * (math.Sin(2*math.Pi*83*t) + 0.5*math.Sin(2*math.Pi*151*t+1))
	}
	rec := emg.Recording{Rate: fs, Channels: []emg.Channel{
		{Label: "CH1 Raw", Samples: raw},
		{Label: "CH1 activated", Samples: act},
	}}
	rpe := 5.0
	res, err := emg.Analyze(rec, emg.Params{RPE: &rpe})
	if err != nil {
		panic(err)
	}
	ch := res.Analytics["CH1"]
	fmt.Println(res.ProcessingVersion, res.AvailableChannels)
	fmt.Printf("%d contractions, %d meet 2000 ms, threshold by %s\n",
		ch.ContractionCount, ch.DurationCompliantCount, ch.MVCEstimationMethod)
	for _, c := range ch.Contractions {
		fmt.Printf("%.0f..%.0f ms\n", c.StartTimeMs, c.EndTimeMs)
	}
	b, _ := json.Marshal(ch.Contractions[0])
	fmt.Println(len(b) > 0, *res.PerformanceAnalysis.EffortScore)
	// Output:
	// ghostly/1 [CH1 Raw CH1 activated CH1 Processed]
	// 3 contractions, 3 meet 2000 ms, threshold by backend_estimation
	// 2956..5045 ms
	// 12956..15045 ms
	// 22956..25045 ms
	// true 100
}

func ExampleReadParams() {
	p, err := emg.ReadParams(stringsReader(`{"mvc": {"CH1": 0.00015}, "threshold_pct": 70, "rpe": 4}`))
	if err != nil {
		panic(err)
	}
	fmt.Println(p.MVC["CH1"], *p.ThresholdPct, *p.RPE)
	_, err = emg.ReadParams(stringsReader(`{"rpe": 11}`))
	fmt.Println(err)
	// Output:
	// 0.00015 70 4
	// invalid parameter rpe: must be an integer from 0 to 10 (Borg CR-10), got 11
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }

// A caller tells invalid parameters (the client's fault) from other errors
// with errors.As; a service answers them with its own status.
func ExampleParamError() {
	rec := emg.Recording{Rate: 1000, Channels: []emg.Channel{{Label: "CH1 Raw", Samples: make([]float64, 20000)}}}
	_, err := emg.Analyze(rec, emg.Params{MVC: map[string]float64{"CH7": 1e-4}})
	var pe *emg.ParamError
	fmt.Println(errors.As(err, &pe), pe.Field)
	fmt.Println(err)

	// A flat channel is not a parameter error: every channel failed.
	_, err = emg.Analyze(rec, emg.Params{})
	fmt.Println(errors.As(err, &pe), errors.Is(err, emg.ErrAllChannelsFailed))
	// Output:
	// true mvc
	// invalid parameter mvc: no channel "CH7" in the recording
	// false true
}

// An FFT plan is made once per length and reused; powers of two run the
// radix-4 transform, other lengths Bluestein's algorithm.
func ExampleFFT() {
	for _, n := range []int{8, 6} {
		x := make([]complex128, n)
		x[1] = 1 // a unit impulse at j = 1: X[k] = exp(-2 pi i k/n)
		emg.NewFFT(n).Forward(x)
		k := n / 4
		fmt.Printf("n=%d X[%d] = (%.3f, %.3f)\n", n, k, real(x[k]), imag(x[k]))
	}
	// Output:
	// n=8 X[2] = (0.000, -1.000)
	// n=6 X[1] = (0.500, -0.866)
}
