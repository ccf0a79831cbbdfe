package c3d_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

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

// countingReader is an io.ReaderAt that counts the bytes read through it,
// as a ranged reader over object storage would be billed for them.
type countingReader struct {
	r io.ReaderAt
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// Read one second of one channel of a minute-long, 8-channel recording
// through an io.ReaderAt: Open reads the header and parameters only, and
// ReadAnalogRange only the frames that hold the samples asked for, decoding
// none of the other channels.
func ExampleFile_ReadAnalogRange() {
	const rate, seconds = 2000, 60
	var buf bytes.Buffer
	w, err := c3d.NewWriter(&buf, c3d.WriterConfig{
		Storage:      c3d.Int,
		Frames:       seconds * 100,
		PointRate:    100, // 20 analog samples per frame
		AnalogLabels: []string{"EMG1", "EMG2", "EMG3", "EMG4", "EMG5", "EMG6", "EMG7", "EMG8"},
		AnalogRate:   rate,
		AnalogScales: []float64{0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5},
	})
	if err != nil {
		log.Fatal(err)
	}
	frame := make([]float64, 20*8)
	for i := 0; i < seconds*100; i++ {
		for s := 0; s < 20; s++ {
			for ch := 0; ch < 8; ch++ {
				frame[s*8+ch] = float64((i*20+s)%1000) / 2 // a sawtooth of period 0.5 s
			}
		}
		if err := w.WriteFrame(nil, frame); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	r := &countingReader{r: bytes.NewReader(buf.Bytes())}
	f, err := c3d.Open(r, int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("file of %d bytes; Open read %d\n", buf.Len(), r.n)
	r.n = 0
	x, err := f.ReadAnalogRange(f.ChannelIndex("EMG3"), 10*rate, 11*rate) // from 10 s to 11 s
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d samples, from %g to %g; read %d bytes (%d frames of %d)\n", len(x), x[0], x[len(x)-1], r.n, r.n/int64(f.FrameBytes()), f.FrameBytes())
	// Output:
	// file of 1921536 bytes; Open read 1540
	// 2000 samples, from 0 to 499.5; read 32000 bytes (100 frames of 320)
}

// Write a long recording of integer samples for a DEC processor. Frame
// counts above 65535 go to TRIAL:ACTUAL_START_FIELD/ACTUAL_END_FIELD,
// POINT:LONG_FRAMES and a float POINT:FRAMES; a sample is stored as value / scale + offset. Scales
// are 32-bit floats in the file, so 0.002 reads back as float32(0.002).
func ExampleNewWriter() {
	var buf bytes.Buffer
	const frames = 70000
	w, err := c3d.NewWriter(&buf, c3d.WriterConfig{
		Processor:     c3d.DEC,
		Storage:       c3d.Int,
		Frames:        frames,
		PointRate:     100,
		AnalogLabels:  []string{"EMG1", "EMG2"},
		AnalogUnits:   []string{"mV", "mV"},
		AnalogRate:    1000, // 10 samples per frame
		AnalogScales:  []float64{0.001, 0.002},
		AnalogOffsets: []float64{2048, 2048},
	})
	if err != nil {
		log.Fatal(err)
	}
	frame := make([]float64, 10*2)
	for i := 0; i < frames; i++ {
		for s := 0; s < 10; s++ {
			frame[2*s] = 0.25 // EMG1: stored as 250 + 2048
			frame[2*s+1] = -1 // EMG2: stored as -500 + 2048
		}
		if err := w.WriteFrame(nil, frame); err != nil {
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
	fmt.Println(f.Processor, f.Storage, f.Frames, "frames,", f.Duration(), "s,", len(f.Warnings), "warnings")
	fmt.Println(f.Analog.Labels, f.Analog.Units, f.Analog.Offsets, f.Analog.Scales[1] == float64(float32(0.002)))
	emg2, err := f.ReadAnalog(1)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d samples of %.6g\n", len(emg2), emg2[len(emg2)-1])
	// Output:
	// dec int 70000 frames, 700 s, 0 warnings
	// [EMG1 EMG2] [mV mV] [2048 2048] true
	// 700000 samples of -1
}

// Open a C3D file on disk: an *os.File is an io.ReaderAt. A file that ends
// before the data its header declares is refused with a *FormatError
// wrapping ErrTruncated.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "c3d-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "rec.c3d")
	out, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	w, err := c3d.NewWriter(out, c3d.WriterConfig{Frames: 1000, PointRate: 100, AnalogLabels: []string{"EMG"}, AnalogRate: 1000})
	if err != nil {
		log.Fatal(err)
	}
	for i := 0; i < 1000; i++ {
		if err := w.WriteFrame(nil, make([]float64, 10)); err != nil {
			log.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	if err := out.Close(); err != nil {
		log.Fatal(err)
	}

	file, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer file.Close() // f reads its data through file: close it after the last read
	st, err := file.Stat()
	if err != nil {
		log.Fatal(err)
	}
	f, err := c3d.Open(file, st.Size())
	if err != nil {
		log.Fatal(err)
	}
	emg, err := f.ReadAnalog(f.ChannelIndex("EMG"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(f.Frames, "frames,", len(emg), "samples at", f.Analog.Rate, "Hz")

	if err := os.Truncate(path, 20000); err != nil {
		log.Fatal(err)
	}
	_, err = c3d.Open(file, 20000)
	var fe *c3d.FormatError
	fmt.Println(errors.Is(err, c3d.ErrTruncated), errors.As(err, &fe) && fe.Where == "data section")
	fmt.Println(err)
	// Output:
	// 1000 frames, 10000 samples at 1000 Hz
	// true true
	// c3d: truncated C3D file: data section at byte 1536: 1000 frames of 40 bytes declared but the file holds 461 whole frames
}
