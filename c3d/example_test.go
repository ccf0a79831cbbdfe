package c3d_test

import (
	"bytes"
	"fmt"
	"log"

	"emgd/c3d"
)

// Write a two-channel EMG recording, then open it and read one channel.
func Example() {
	var buf bytes.Buffer
	w, err := c3d.NewWriter(&buf, c3d.WriterConfig{
		Frames:       3,
		PointRate:    100,
		AnalogLabels: []string{"CH1 Raw", "CH2 Raw"},
		AnalogUnits:  []string{"V", "V"},
		AnalogRate:   200, // two samples per frame
	})
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		// Sample by sample: CH1, CH2, CH1, CH2.
		if err := w.WriteFrame(nil, []float64{float64(i), -1, float64(i) + 0.5, -1}); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	f, err := c3d.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Processor, f.Storage, f.Analog.Labels, f.Analog.Rate, "Hz")
	fmt.Println(f.SamplesPerChannel(), "samples,", f.Duration(), "s")
	ch1, err := f.ReadAnalog(f.ChannelIndex("CH1 Raw"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ch1)
	// Output:
	// intel float [CH1 Raw CH2 Raw] 200 Hz
	// 6 samples, 0.03 s
	// [0 0.5 1 1.5 2 2.5]
}

// Parameters are typed; counts stored in 16 bits read unsigned.
func ExampleParameters_Param() {
	var buf bytes.Buffer
	w, _ := c3d.NewWriter(&buf, c3d.WriterConfig{
		Frames: 1, AnalogLabels: []string{"EMG"}, AnalogRate: 1000,
		Groups: []*c3d.Group{{Name: "SUBJECTS", Params: []*c3d.Parameter{
			c3d.NewStrings("PLAYER_NAME", "", "P001"),
			c3d.NewInts("GAME_SCORE", "", []int{40000}),
		}}},
	})
	_ = w.WriteFrame(nil, []float64{0})
	_ = w.Close()
	f, _ := c3d.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	score := f.Params.Param("SUBJECTS", "GAME_SCORE")
	fmt.Println(f.Params.Param("SUBJECTS", "PLAYER_NAME").String(), score.Ints(), score.Uints())
	// Output: P001 [-25536] [40000]
}
