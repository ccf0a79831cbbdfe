package faults

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"emgd/c3d"
	"emgd/internal/storage"
)

// signalsGrowthLimit is how much six concurrent cold signals requests on a
// 600 s x 10 kHz recording may grow a server's peak RSS.
const signalsGrowthLimit = 400 << 20

// signalsRSSGuard kills a server whose RSS passes this, so that a
// regression does not take the shared machine down with it.
const signalsRSSGuard = 3 << 30

// sigStatusKB is procStatusKB, failing the test on error.
func sigStatusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	n, err := procStatusKB(pid, field)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func sigMB(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

// writeLongRecording writes a 2-channel ("CH1 Raw", "CH1 activated")
// recording of seconds at rate Hz (Intel float, 100 Hz frames): noise with a
// contraction every 20 s.
func writeLongRecording(t *testing.T, path string, seconds, rate float64) {
	t.Helper()
	const pointRate = 100.0
	spf := int(rate / pointRate)
	frames := int(seconds * pointRate)
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	bw := bufio.NewWriterSize(fh, 1<<20)
	w, err := c3d.NewWriter(bw, c3d.WriterConfig{Frames: frames, PointRate: pointRate,
		AnalogLabels: []string{"CH1 Raw", "CH1 activated"}, AnalogRate: rate})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	frame := make([]float64, 2*spf)
	for f := 0; f < frames; f++ {
		for i := 0; i < spf; i++ {
			tt := float64(f*spf+i) / rate
			act := math.Mod(tt, 20) >= 5 && math.Mod(tt, 20) < 10
			amp, v := 2e-5, 0.0
			if act {
				amp, v = 3e-4, 1
			}
			frame[2*i], frame[2*i+1] = amp*rng.NormFloat64(), v
		}
		if err := w.WriteFrame(nil, frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
}

// Six concurrent cold requests for a channel of a 600 s x 10 kHz recording,
// each with its own max_points and include_rms=true, are all answered 200
// while the server's peak RSS (VmHWM) grows by less than
// signalsGrowthLimit: cold decodes are bounded in number, the raw channel is
// reduced while it streams from the file, and the Processed envelope of a
// channel is computed once for all the requests that want it.
func TestSignalsConcurrentColdRequestsMemory(t *testing.T) {
	emgdBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	stg, err := storage.Open(ctx, "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	stg.CreateBucket(ctx, storage.DefaultBucket)
	dir := filepath.Join(dataDir, "storage", storage.DefaultBucket, "P001")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	const seconds, rate = 600.0, 10000.0
	writeLongRecording(t, filepath.Join(dir, "long.c3d"), seconds, rate)
	for _, channel := range []string{"CH1 Raw", "CH1 Processed"} {
		t.Run(strings.ReplaceAll(channel, " ", "_"), func(t *testing.T) {
			coldSignalsRequests(t, dataDir, channel, seconds, rate)
		})
	}
}

// coldSignalsRequests starts a server on dataDir (holding P001/long.c3d),
// sends six concurrent cold requests for channel and checks the answers and
// the growth of the peak RSS.
func coldSignalsRequests(t *testing.T, dataDir, channel string, seconds, rate float64) {
	// No workers: phase 2 would analyse the recording in the same process
	// and its memory would hide the signals'.
	srv := startEmgd(t, nil, "serve", "--data-dir", dataDir, "--workers", "0")
	pid := srv.cmd.Process.Pid
	stopGuard := make(chan struct{})
	var guardWG sync.WaitGroup
	guardWG.Add(1)
	var killed bool
	go func() {
		defer guardWG.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopGuard:
				return
			case <-tick.C:
			}
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
			if err != nil {
				return
			}
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
					kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
					if kb<<10 > signalsRSSGuard {
						killed = true
						syscall.Kill(pid, syscall.SIGKILL)
						return
					}
				}
			}
		}
	}()
	endGuard := func() bool { close(stopGuard); guardWG.Wait(); return killed }

	code, out := srv.webhook(t, supabaseEvent(storage.DefaultBucket, "P001/long.c3d", "", 0))
	id, _ := out["session_id"].(string)
	if code/100 != 2 || id == "" {
		endGuard()
		t.Fatalf("webhook: %d %v", code, out)
	}
	// Warm the code paths with a short window, then take the baseline.
	base := srv.base + "/signals/jit/" + id + "/" + strings.ReplaceAll(channel, " ", "%20")
	// (of another channel: the Processed envelope would be computed whole).
	if code, _ := request(t, "GET", srv.base+"/signals/jit/"+id+"/CH1%20activated?start_s=1&end_s=2", "", nil); code != 200 {
		endGuard()
		t.Fatalf("short window: %d", code)
	}
	before := sigStatusKB(t, pid, "VmHWM") << 10

	maxPoints := []int{1000, 2000, 5000, 10000, 20000, 50000}
	type result struct {
		code        int
		points, rms int
		duration    float64
		err         error
	}
	results := make([]result, len(maxPoints))
	var wg sync.WaitGroup
	for i, m := range maxPoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 5 * time.Minute}
			resp, err := c.Get(fmt.Sprintf("%s?include_rms=true&max_points=%d", base, m))
			if err != nil {
				results[i].err = err
				return
			}
			defer resp.Body.Close()
			var a struct {
				Duration float64    `json:"duration_seconds"`
				Time     []float64  `json:"time_axis"`
				Data     []*float64 `json:"data"`
				RMS      []*float64 `json:"rms_envelope"`
			}
			b, _ := io.ReadAll(resp.Body)
			results[i].code = resp.StatusCode
			if err := json.Unmarshal(b, &a); err != nil {
				results[i].err = fmt.Errorf("%v: %.200s", err, b)
				return
			}
			results[i].points, results[i].rms, results[i].duration = len(a.Data), len(a.RMS), a.Duration
		}()
	}
	wg.Wait()
	if endGuard() {
		t.Fatalf("emgd serve passed %d MB of RSS and was killed", signalsRSSGuard>>20)
	}
	after := sigStatusKB(t, pid, "VmHWM") << 10
	t.Logf("six concurrent cold requests for %s (include_rms, max_points %v) on %g s x %g Hz: peak RSS %s -> %s (+%s)",
		channel, maxPoints, seconds, rate, sigMB(before), sigMB(after), sigMB(after-before))
	for i, r := range results {
		switch {
		case r.err != nil:
			t.Errorf("max_points=%d: %v", maxPoints[i], r.err)
		case r.code != 200:
			t.Errorf("max_points=%d: %d", maxPoints[i], r.code)
		case r.points < maxPoints[i]/2 || r.points > maxPoints[i] || r.rms != r.points || r.duration != seconds:
			t.Errorf("max_points=%d: %d points, %d RMS, %g s", maxPoints[i], r.points, r.rms, r.duration)
		}
	}
	if after-before > signalsGrowthLimit {
		t.Errorf("peak RSS grew by %s, want under %s", sigMB(after-before), sigMB(signalsGrowthLimit))
	}
	if !srv.alive() {
		t.Fatal("the server died")
	}
	srv.stop()
}
