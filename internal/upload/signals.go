package upload

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"sync"

	"emgd/c3d"
	"emgd/emg"
)

// floats encodes samples as a JSON array, non-finite values as null.
type floats []float64

func (x floats) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(x)*12)
	b = append(b, '[')
	for i, v := range x {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, v)
	}
	return append(b, ']'), nil
}

func appendFloat(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// signalJSON is one channel of emg_signals (EMGChannelSignalData); it
// describes what writeSignals streams.
type signalJSON struct {
	SamplingRate  float64 `json:"sampling_rate"`
	TimeAxis      floats  `json:"time_axis"`
	Data          floats  `json:"data"`
	RMSEnvelope   floats  `json:"rms_envelope" nullable:"true"`
	ActivatedData *floats `json:"activated_data"`
	ProcessedData *floats `json:"processed_data"`
	IsProcessed   bool    `json:"is_processed,omitempty"`
}

// signalMap is emg_signals in AnalysisResponse. Its samples are never
// held: json.Marshal writes a placeholder that writeAnswer replaces with
// the channels streamed from the file (or {}).
type signalMap map[string]signalJSON

// signalsPlaceholder is what a signalMap encodes as: a string no answer
// holds otherwise.
// (made on first use: nothing is built at init).
var signalsPlaceholder = sync.OnceValue(func() string {
	b := make([]byte, 12)
	rand.Read(b)
	return `"emgd-emg-signals-` + hex.EncodeToString(b) + `"`
})

// MarshalJSON writes the placeholder.
func (signalMap) MarshalJSON() ([]byte, error) { return []byte(signalsPlaceholder()), nil }

// writeSignals streams emg_signals: for each channel (one at a time: its
// samples, RMS envelope and, for a base's raw channel, its Processed
// envelope) its entries of signalEntries. progress is called before each
// channel (to extend the write deadline) and may stop the writing.
func writeSignals(ctx context.Context, w *bufio.Writer, f *c3d.File, progress func() error) error {
	fs := f.Analog.Rate
	entries, _ := signalEntries(f.Analog.Labels)
	n := f.SamplesPerChannel()
	sw := &sampleWriter{w: w}
	w.WriteByte('{')
	first := true
	for i := 0; i < len(entries); {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := progress(); err != nil {
			return err
		}
		ch := entries[i].ch
		x, err := f.ReadAnalog(ch)
		if err != nil {
			return err
		}
		rms, err := emg.RMSEnvelope(x, fs)
		if err != nil {
			rms = nil
		}
		var env []float64
		for j := i; j < len(entries) && entries[j].ch == ch; j++ {
			if entries[j].processed {
				if env, err = emg.ProcessedEnvelope(x, fs); err != nil {
					env = nil // too short to filter: the analytics say so
				}
			}
		}
		for ; i < len(entries) && entries[i].ch == ch; i++ {
			e := entries[i]
			if e.processed && env == nil {
				continue
			}
			if !first {
				w.WriteByte(',')
			}
			first = false
			sw.key(e.key)
			if e.processed {
				sw.entry(fs, n, env, env, nil, true)
			} else {
				sw.entry(fs, n, x, rms, env, false)
			}
		}
		if err := w.Flush(); err != nil {
			return err
		}
	}
	w.WriteByte('}')
	return nil
}

// sampleWriter writes signal entries, a number at a time.
type sampleWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (s *sampleWriter) key(k string) {
	b, _ := json.Marshal(k) // a string always encodes
	s.w.Write(b)
	s.w.WriteByte(':')
}

// entry writes one EMGChannelSignalData; processed nil is null.
func (s *sampleWriter) entry(fs float64, n int, data, rms, processed []float64, isProcessed bool) {
	s.w.WriteString(`{"sampling_rate":`)
	s.w.Write(appendFloat(s.buf[:0], fs))
	s.w.WriteString(`,"time_axis":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			s.w.WriteByte(',')
		}
		s.buf = appendFloat(s.buf[:0], float64(i)/fs)
		s.w.Write(s.buf)
	}
	s.w.WriteString(`],"data":`)
	s.array(data)
	s.w.WriteString(`,"rms_envelope":`)
	s.array(rms)
	s.w.WriteString(`,"activated_data":null,"processed_data":`)
	s.array(processed)
	if isProcessed {
		s.w.WriteString(`,"is_processed":true`)
	}
	s.w.WriteByte('}')
}

func (s *sampleWriter) array(x []float64) {
	if x == nil {
		s.w.WriteString("null")
		return
	}
	s.w.WriteByte('[')
	for i, v := range x {
		if i > 0 {
			s.w.WriteByte(',')
		}
		s.buf = appendFloat(s.buf[:0], v)
		s.w.Write(s.buf)
	}
	s.w.WriteByte(']')
}
