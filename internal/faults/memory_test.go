package faults

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"emgd/c3d"
	"emgd/internal/storage"
)

// The memory a recording can make emgd use is bounded by configuration, not
// by what the file declares: a sparse file declaring 300 M samples fails
// with a message while the process stays under rssLimit, and recordings of
// the largest legal shapes are analysed.

// rssLimit is the peak RSS (VmHWM) a process may reach on the defaults.
const rssLimit = 300 << 20

// rssGuard kills a child whose RSS passes this, so that a regression does
// not take the shared machine down with it.
const rssGuard = 1200 << 20

// legalShape is a recording shape that must stay analysable on the defaults.
type legalShape struct {
	channels int // half "CHk Raw", half "CHk activated" (one "CH1 Raw", "CH1 activated" pair for 2)
	seconds  float64
	rate     float64
}

func (s legalShape) String() string {
	return fmt.Sprintf("%dch_%gs_%gHz", s.channels, s.seconds, s.rate)
}

// legalShapes are the shapes of the issue, and the one that takes the most
// memory: two muscles, raw and activated, 600 s at 10 kHz (two bases of 6 M
// samples analysed together).
var legalShapes = []legalShape{{16, 600, 2000}, {2, 600, 10000}, {24, 290, 2000}, {4, 600, 10000}}

// perWorkerBound is the stated bound on the peak RSS of a server running
// one analysis job at a time on the defaults (README): about 470 MB live at
// 6 M samples per channel (four channel buffers and four working arrays of
// 8 bytes per sample, a spool of at most 64 MiB). No pool keeps a long
// recording's arrays between jobs and such a job returns its memory at its
// end, so the server stays near that live figure (397 MB measured); the
// bound leaves room for Go's heap headroom only.
const perWorkerBound = 500 << 20

// writeShape writes a GHOSTLY-like recording of that shape (Intel float, no
// points, 100 Hz frames) to path: noise with a 5 s contraction every 20 s on
// the raw channels, 0/1 on the activated ones.
func writeShape(t *testing.T, path string, s legalShape) {
	t.Helper()
	const pointRate = 100.0
	spf := int(s.rate / pointRate)
	frames := int(s.seconds * pointRate)
	bases := s.channels / 2
	var labels []string
	for k := 1; k <= bases; k++ {
		labels = append(labels, fmt.Sprintf("CH%d Raw", k))
	}
	for k := 1; k <= bases; k++ {
		labels = append(labels, fmt.Sprintf("CH%d activated", k))
	}
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	bw := bufio.NewWriterSize(fh, 1<<20)
	w, err := c3d.NewWriter(bw, c3d.WriterConfig{Frames: frames, PointRate: pointRate, AnalogLabels: labels, AnalogRate: s.rate})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(s.channels), uint64(s.rate)))
	n := len(labels)
	frame := make([]float64, n*spf)
	for f := 0; f < frames; f++ {
		for i := 0; i < spf; i++ {
			k := f*spf + i
			tt := float64(k) / s.rate
			act := math.Mod(tt, 20) >= 5 && math.Mod(tt, 20) < 10
			for b := 0; b < bases; b++ {
				amp := 2e-5
				if act {
					amp = 3e-4
				}
				frame[i*n+b] = amp * rng.NormFloat64()
				v := 0.0
				if act {
					v = 1
				}
				frame[i*n+bases+b] = v
			}
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

// hostileSamples is what the sparse file declares: 300 M samples.
const hostileSamples = 300_000_000

// writeSparseHostile writes a recording whose header and parameters declare
// 150 M samples on each of two channels (2 kHz, int16 storage) and whose
// data section is a hole: a file of about 600 MB that holds 4 KB on disk.
func writeSparseHostile(t *testing.T, path string) {
	t.Helper()
	const pointRate, rate, channels = 100.0, 2000.0, 2
	spf := int(rate / pointRate)
	frames := hostileSamples / channels / spf
	var head headBuffer
	w, err := c3d.NewWriter(&head, c3d.WriterConfig{Storage: c3d.Int, Frames: frames, PointRate: pointRate,
		AnalogLabels: []string{"CH1 Raw", "CH2 Raw"}, AnalogRate: rate})
	if err != nil {
		t.Fatal(err)
	}
	// Write zero frames until the writer's 64 KiB buffer has flushed the
	// header and parameters; the rest of the file stays a hole.
	zero := make([]float64, channels*spf)
	for i := 0; i < 2000; i++ {
		if err := w.WriteFrame(nil, zero); err != nil {
			t.Fatal(err)
		}
	}
	dataStart := (int(head.b[16]) | int(head.b[17])<<8 - 1) * 512
	size := int64(dataStart) + int64(frames)*int64(channels*spf*2)
	if err := os.WriteFile(path, head.b[:dataStart], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// headBuffer collects what a Writer flushes.
type headBuffer struct{ b []byte }

func (h *headBuffer) Write(p []byte) (int, error) { h.b = append(h.b, p...); return len(p), nil }

// procStatusKB returns a field of /proc/PID/status in kB (VmHWM, VmRSS).
func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB"))
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// guardRSS polls a running process and kills it once its RSS passes
// rssGuard; the returned stop function ends the polling and reports whether
// it killed the process.
func guardRSS(pid int) (stop func() bool) {
	done := make(chan struct{})
	killed := make(chan bool, 1)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				killed <- false
				return
			case <-tick.C:
			}
			if kb, err := procStatusKB(pid, "VmRSS"); err == nil && kb<<10 > rssGuard {
				syscall.Kill(pid, syscall.SIGKILL)
				killed <- true
				return
			}
		}
	}()
	return func() bool { close(done); return <-killed }
}

// runAnalyze runs `emgd analyze args...` and returns its exit code, output
// and peak RSS (the child's rusage maxrss).
func runAnalyze(t *testing.T, args ...string) (code int, out string, peak int64) {
	t.Helper()
	cmd := exec.Command(emgdBinary(t), append([]string{"analyze"}, args...)...)
	cmd.Env = cleanEnv()
	var buf syncBuffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := guardRSS(cmd.Process.Pid)
	err := cmd.Wait()
	if stop() {
		t.Errorf("emgd analyze passed %d MB of RSS and was killed", rssGuard>>20)
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peak = ru.Maxrss << 10 // kB on Linux
	}
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Logf("emgd analyze: %v", err)
	}
	return code, buf.String(), peak
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

// A sparse file declaring 300 M samples: `emgd analyze` exits 1 with a
// message naming the limit, without allocating for the declared samples.
func TestHostileSparseFileAnalyzeCLI(t *testing.T) {
	emgdBinary(t)
	path := filepath.Join(t.TempDir(), "sparse.c3d")
	writeSparseHostile(t, path)
	code, out, peak := runAnalyze(t, path)
	t.Logf("emgd analyze sparse file declaring %d samples: exit %d, peak RSS %s\n%s", hostileSamples, code, mb(peak), firstLine(out))
	if code != 1 {
		t.Errorf("exit status %d, want 1:\n%s", code, out)
	}
	if !strings.Contains(out, "limit") {
		t.Errorf("the message does not name the limit:\n%s", out)
	}
	if peak > rssLimit {
		t.Errorf("peak RSS %s, want under %s", mb(peak), mb(rssLimit))
	}
}

// The same file delivered through the webhook of a running server: the
// session ends failed with a message after a single attempt (no retry), the
// server stays up, and its peak RSS stays under the limit.
func TestHostileSparseFileWebhook(t *testing.T) {
	emgdBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	stg, err := storage.Open(ctx, "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	stg.CreateBucket(ctx, storage.DefaultBucket)
	bucketDir := filepath.Join(dataDir, "storage", storage.DefaultBucket, "P001")
	os.MkdirAll(bucketDir, 0o755)
	writeSparseHostile(t, filepath.Join(bucketDir, "sparse.c3d"))

	srv := startEmgd(t, nil, "serve", "--data-dir", dataDir)
	stop := guardRSS(srv.cmd.Process.Pid)
	code, out := srv.webhook(t, supabaseEvent(storage.DefaultBucket, "P001/sparse.c3d", "", 0))
	if code != 200 && code != 201 && code != 202 {
		stop()
		t.Fatalf("webhook: %d %v", code, out)
	}
	id, _ := out["session_id"].(string)
	if id == "" {
		stop()
		t.Fatalf("webhook answered no session: %v", out)
	}
	st := srv.waitDone(t, id, 3*time.Minute)
	// The signals of the failed session decode nothing the limits forbid.
	for _, ch := range []string{"CH1%20Raw", "CH1%20Processed", "CH1%20Raw?max_points=100&include_rms=true"} {
		code, out := request(t, "GET", srv.base+"/signals/jit/"+id+"/"+ch, "", nil)
		msg, _ := out["error"].(string)
		t.Logf("signals %s: %d %q", ch, code, msg)
		if code < 400 || code >= 500 || !strings.Contains(msg, "limit") {
			t.Errorf("signals %s: %d %q, want a 4xx naming the limit", ch, code, msg)
		}
	}
	if stop() {
		t.Fatalf("emgd serve passed %d MB of RSS and was killed", rssGuard>>20)
	}
	peak, err := procStatusKB(srv.cmd.Process.Pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	peak <<= 10
	msg, _ := st["error"].(string)
	t.Logf("emgd serve, sparse file declaring %d samples by webhook: %v %q, peak RSS %s", hostileSamples, st["status"], msg, mb(peak))
	if st["status"] != "failed" || !strings.Contains(msg, "limit") {
		t.Errorf("session %v with error %q, want failed naming the limit", st["status"], msg)
	}
	if !srv.alive() {
		t.Fatal("the server died")
	}
	if peak > rssLimit {
		t.Errorf("peak RSS %s, want under %s", mb(peak), mb(rssLimit))
	}
	n := queryInt(t, openStore(t, "", dataDir), "SELECT count(*) FROM river_job WHERE attempt > 1")
	if n != 0 {
		t.Errorf("%d jobs were retried; a file over the limits fails at once", n)
	}
	srv.stop()
}

// The largest legal shapes are analysed on the defaults, by `emgd analyze`
// and by a server's worker; one job at a time stays within the stated bound.
func TestLegalLongRecordingsAnalyse(t *testing.T) {
	emgdBinary(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	ctx := context.Background()
	stg, err := storage.Open(ctx, "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	stg.CreateBucket(ctx, storage.DefaultBucket)
	bucketDir := filepath.Join(dataDir, "storage", storage.DefaultBucket, "P001")
	os.MkdirAll(bucketDir, 0o755)
	for _, s := range legalShapes {
		writeShape(t, filepath.Join(bucketDir, s.String()+".c3d"), s)
	}
	for _, s := range legalShapes {
		t.Run("analyze/"+s.String(), func(t *testing.T) {
			code, out, peak := runAnalyze(t, "--json", filepath.Join(bucketDir, s.String()+".c3d"))
			t.Logf("emgd analyze %s: exit %d, peak RSS %s", s, code, mb(peak))
			if code != 0 {
				t.Fatalf("exit status %d:\n%s", code, tail(out, 2000))
			}
			if !strings.Contains(out, `"contraction_count"`) {
				t.Errorf("no analytics in the output:\n%s", tail(out, 2000))
			}
		})
	}
	// One job at a time (the files are delivered one after the other), so
	// that the server's peak is one worker's.
	srv := startEmgd(t, nil, "serve", "--data-dir", dataDir)
	stop := guardRSS(srv.cmd.Process.Pid)
	for _, s := range legalShapes {
		code, out := srv.webhook(t, supabaseEvent(storage.DefaultBucket, "P001/"+s.String()+".c3d", "", 0))
		id, _ := out["session_id"].(string)
		if code != 200 || id == "" {
			t.Errorf("webhook %s: %d %v", s, code, out)
			continue
		}
		st := srv.waitDone(t, id, 3*time.Minute)
		if st["status"] != "completed" {
			t.Errorf("serve %s: %v %v", s, st["status"], st["error"])
		}
		peak, _ := procStatusKB(srv.cmd.Process.Pid, "VmHWM")
		t.Logf("emgd serve after %s: %v, peak RSS so far %s", s, st["status"], mb(peak<<10))
	}
	if stop() {
		t.Fatalf("emgd serve passed %d MB of RSS and was killed", rssGuard>>20)
	}
	peak, err := procStatusKB(srv.cmd.Process.Pid, "VmHWM")
	if err != nil {
		t.Fatal(err)
	}
	if peak<<10 > perWorkerBound {
		t.Errorf("peak RSS %s running one job at a time, over the stated bound of %s per worker", mb(peak<<10), mb(perWorkerBound))
	}
	srv.stop()
}
