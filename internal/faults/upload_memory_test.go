package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	"emgd/c3d"
)

// uploadRecording is a legal GHOSTLY-like recording of about 28 MB: two raw
// EMG channels at 5900 Hz for 590 s (under the profile's 600 s limit), float
// samples, contraction bursts every 20 s.
func uploadRecording(t *testing.T) []byte {
	t.Helper()
	const rate, pointRate, seconds = 5900.0, 50.0, 590
	spf := int(rate / pointRate)
	frames := int(seconds * pointRate)
	groups := []*c3d.Group{
		{Name: "INFO", Params: []*c3d.Parameter{
			c3d.NewStrings("SYSTEM", "", "OpenFeasyo"),
			c3d.NewStrings("GAME_NAME", "", "Ghostly"),
			c3d.NewFloats("GAME_LEVEL", "", []float64{1}),
		}},
		{Name: "SUBJECTS", Params: []*c3d.Parameter{
			c3d.NewStrings("PLAYER_NAME", "", "Default"),
			c3d.NewFloats("GAME_SCORE", "", []float64{10}),
		}},
	}
	var buf bytes.Buffer
	buf.Grow(29 << 20)
	w, err := c3d.NewWriter(&buf, c3d.WriterConfig{Frames: frames, PointRate: pointRate, PointLabels: []string{"PlayerPosition"},
		AnalogLabels: []string{"CH1 Raw", "CH2 Raw"}, AnalogRate: rate, Groups: groups})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(28, 7))
	frame := make([]float64, 2*spf)
	pts := []c3d.Point{{Valid: true}}
	for f := 0; f < frames; f++ {
		for s := 0; s < spf; s++ {
			tm := float64(f*spf+s) / rate
			amp := 2e-5
			if math.Mod(tm, 20) >= 5 && math.Mod(tm, 20) < 8 {
				amp = 3e-4
			}
			frame[2*s], frame[2*s+1] = amp*rng.NormFloat64(), 1.2*amp*rng.NormFloat64()
		}
		if err := w.WriteFrame(pts, frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// uploadVmHWM is the peak resident set size of a process in bytes
// (VmHWM in /proc/PID/status).
func uploadVmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	return sigStatusKB(t, pid, "VmHWM") << 10
}

// readSkippingSignals decodes a JSON object read from r, except its
// emg_signals member, whose top-level keys it only counts (as
// "emg_signals_count"): an upload's answer with its signals, without
// holding them.
func readSkippingSignals(r io.Reader) (map[string]any, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var kept bytes.Buffer
	const member = `"emg_signals":`
	depth, inString, escaped := 0, false, false
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		kept.WriteByte(c)
		if inString {
			if escaped {
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case ':':
			if depth != 1 || !bytes.HasSuffix(kept.Bytes(), []byte(member)) {
				continue
			}
			// Skip the value, counting the keys at its first level.
			n, d, str, esc, started := 0, 0, false, false, false
			for !started || d > 0 {
				c, err := br.ReadByte()
				if err != nil {
					return nil, fmt.Errorf("emg_signals cut short: %v", err)
				}
				switch {
				case str && esc:
					esc = false
				case str && c == '\\':
					esc = true
				case str && c == '"':
					str = false
				case str:
				case c == '"':
					str = true
					if d == 1 {
						n++ // a key or a string value at the first level: keys only here
					}
				case c == '{' || c == '[':
					d++
					started = true
				case c == '}' || c == ']':
					d--
				}
			}
			fmt.Fprintf(&kept, "%d", n)
		}
	}
	var out map[string]any
	if err := json.Unmarshal(kept.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("answer %.200q: %v", kept.Bytes(), err)
	}
	out["emg_signals_count"] = int(out["emg_signals"].(float64))
	return out, nil
}

// Twenty concurrent uploads of a 28 MB recording are queued, not shed: all
// are answered 200 with their analysis, and the server's peak RSS stays
// under 600 MB, because bodies wait on disk rather than in memory and the
// analyses take turns.
func TestConcurrentUploadsMemory(t *testing.T) {
	emgdBinary(t)
	if runtime.GOOS != "linux" {
		t.Skip("peak RSS is read from /proc (Linux)")
	}
	data := uploadRecording(t)
	t.Logf("recording: %.1f MB", float64(len(data))/1e6)
	srv := startEmgd(t, nil, "serve", "--data-dir", t.TempDir(), "--workers", "0")
	before := uploadVmHWM(t, srv.cmd.Process.Pid)

	var head, tail bytes.Buffer
	mw := multipart.NewWriter(&head)
	mw.WriteField("patient_id", "P001")
	if _, err := mw.CreateFormFile("file", "P001_long.c3d"); err != nil {
		t.Fatal(err)
	}
	ct := mw.FormDataContentType()
	tw := multipart.NewWriter(&tail)
	tw.SetBoundary(mw.Boundary())
	tw.Close() // the closing boundary
	size := int64(head.Len() + len(data) + tail.Len())

	const n = 20
	client := &http.Client{Timeout: 10 * time.Minute}
	var wg sync.WaitGroup
	codes := make([]int, n)
	answers := make([]map[string]any, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := io.MultiReader(bytes.NewReader(head.Bytes()), bytes.NewReader(data), bytes.NewReader(tail.Bytes()))
			req, err := http.NewRequest("POST", srv.base+"/upload", body)
			if err != nil {
				errs[i] = err
				return
			}
			req.ContentLength = size
			req.Header.Set("Content-Type", ct)
			resp, err := client.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			codes[i] = resp.StatusCode
			// The answer holds every channel's samples (about 1 GB of
			// JSON here): read as it streams, keeping all but emg_signals.
			answers[i], errs[i] = readSkippingSignals(resp.Body)
		}()
	}
	wg.Wait()
	peak := uploadVmHWM(t, srv.cmd.Process.Pid)
	for i := 0; i < n; i++ {
		if errs[i] != nil || codes[i] != 200 || answers[i]["success"] != true {
			t.Errorf("upload %d: %d %v %.300v", i, codes[i], errs[i], answers[i])
		}
	}
	if n, _ := answers[0]["emg_signals_count"].(int); n != 4 {
		t.Errorf("emg_signals: %d channels, want 4 (2 raw, 2 Processed)", n)
	}
	md, _ := answers[0]["metadata"].(map[string]any)
	if d, _ := md["duration_seconds"].(float64); d != 590 {
		t.Errorf("duration_seconds %v, want 590", md["duration_seconds"])
	}
	t.Logf("peak RSS: %d MB before, %d MB after %d concurrent %.0f MB uploads", before>>20, peak>>20, n, float64(len(data))/1e6)
	if peak > 600<<20 {
		t.Errorf("peak RSS %d MB, want under 600 MB", peak>>20)
	}
	if !srv.alive() {
		t.Error("server down")
	}
}
