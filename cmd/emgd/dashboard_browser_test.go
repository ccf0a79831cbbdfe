package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"emgd/internal/testrec"
)

// chromium finds Debian's Chromium: $EMGD_CHROMIUM, /usr/bin/chromium, or
// chromium on the PATH.
func chromium() string {
	if p := os.Getenv("EMGD_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// artifactDir is where screenshots go: $EMGD_ARTIFACTS when set, else the
// test's temporary folder.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("EMGD_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// requestLog keeps the URLs the page requested.
type requestLog struct {
	mu   sync.Mutex
	urls []string
}

func (l *requestLog) add(u string) {
	l.mu.Lock()
	l.urls = append(l.urls, u)
	l.mu.Unlock()
}

func (l *requestLog) matching(substr string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, u := range l.urls {
		if strings.Contains(u, substr) {
			out = append(out, u)
		}
	}
	return out
}

func (l *requestLog) reset() {
	l.mu.Lock()
	l.urls = nil
	l.mu.Unlock()
}

// pixelsJS counts, on a chart canvas, the pixels drawn at all, the shaded
// contraction spans (translucent green or orange) and the MVC threshold
// line's opaque red.
const pixelsJS = `(() => {
  const c = document.querySelector(%q);
  if (!c) return null;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let drawn = 0, shaded = 0, red = 0;
  for (let i = 0; i < d.length; i += 4) {
    const a = d[i + 3];
    if (a === 0) continue;
    drawn++;
    const r = d[i], g = d[i + 1], b = d[i + 2];
    if (a < 100 && ((g > r + 50 && g > b + 50) || (r > g + 80 && r > b + 80))) shaded++;
    if (a > 200 && r > 150 && g < 90 && b < 80) red++;
  }
  return {drawn, shaded, red, width: c.width, height: c.height};
})()`

type pixels struct {
	Drawn, Shaded, Red, Width, Height int
}

// The dashboard in a real browser: upload a recording through the page,
// wait for its analysis, open it, see the charts drawn and zoom them.
func TestDashboardInBrowser(t *testing.T) {
	srv := startDashServer(t, serverConfig{ReadToken: "tok-123", UploadLimitMB: 1})
	dir, base := srv.dir, srv.base
	sample := filepath.Join(t.TempDir(), "Ghostly_Emg_20240105_09-30-00-0001.c3d")
	sampleBytes := testrec.Ghostly(testrec.Options{Seed: 9, GameScore: 40})
	if err := os.WriteFile(sample, sampleBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	b := openBrowser(t, 1280, 800)
	ctx, reqs, shot, do, text, poll, count := b.ctx, b.reqs, b.shot, b.do, b.text, b.poll, b.count

	// The token is asked for, then kept for the tab's session.
	do("open the dashboard", chromedp.Navigate(base+"/"), chromedp.WaitVisible(css("#notice")))
	if n := text("#notice"); !strings.Contains(n, "access token") {
		t.Errorf("without the token the page says %q", n)
	}
	do("enter the token", chromedp.SendKeys(css("#token"), "tok-123"), chromedp.Click(css("#token-form button")),
		chromedp.WaitNotVisible(css("#notice")))
	if stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem('emgd.token')`)); err != nil || stored != "tok-123" {
		t.Errorf("token kept as %q (%v)", stored, err)
	}

	// Upload through the page: the patient field, the file, the button.
	do("upload", chromedp.Click(css("#nav-upload")), chromedp.WaitVisible(css("#u-file")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#u-patient').value = ''`), chromedp.SendKeys(css("#u-patient"), "p021"),
		chromedp.SetUploadFiles(css("#u-file"), []string{sample}),
		chromedp.Click(css("#u-send")),
		chromedp.WaitVisible(css("#u-open")))
	if state := text("#u-state"); !strings.Contains(state, "P021/Ghostly_Emg_20240105_09-30-00-0001.c3d") || !strings.Contains(state, "P021S001") {
		t.Errorf("upload state %q", state)
	}
	if v, _ := chromedp.Run(ctx, chromedp.Value(css("#u-patient"))); v != "P021" {
		t.Errorf("patient field %q", v)
	}
	if _, err := os.Stat(filepath.Join(dir, "storage", "c3d-examples", "P021", "Ghostly_Emg_20240105_09-30-00-0001.c3d")); err != nil {
		t.Errorf("stored file: %v", err)
	}
	if up := reqs.matching("/upload?store=true"); len(up) != 1 {
		t.Errorf("upload requests %v", up)
	}
	// The progress bar followed the request body's upload events.
	if sent, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#u-progress').dataset.sent || ''`)); err != nil || sent == "" {
		t.Errorf("no upload progress seen (%q, %v)", sent, err)
	} else if n, _ := strconv.Atoi(sent); n < len(sampleBytes) {
		t.Errorf("progress reached %d bytes of a %d-byte file", n, len(sampleBytes))
	}

	// Dropping a file on the drop zone chooses it too.
	do("drop a file", chromedp.Evaluate[chromedp.Void](`document.querySelector('#u-patient').value = ''`), chromedp.SendKeys(css("#u-patient"), "P022"),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
  const bin = atob(%q);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const dt = new DataTransfer();
  dt.items.add(new File([bytes], 'dropped.c3d'));
  document.querySelector('#drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));
})()`, base64.StdEncoding.EncodeToString(sampleBytes))),
		poll(`document.querySelector('#u-chosen').textContent.startsWith('dropped.c3d')`, 10*time.Second),
		chromedp.Click(css("#u-send")),
		poll(`(document.querySelector('#u-state').textContent || '').includes('P022S001')`, 30*time.Second))
	if _, err := os.Stat(filepath.Join(dir, "storage", "c3d-examples", "P022", "dropped.c3d")); err != nil {
		t.Errorf("dropped file: %v", err)
	}

	shot("dashboard-upload.png")

	// A file that is not a C3D: a readable error.
	bad := filepath.Join(t.TempDir(), "notes.c3d")
	os.WriteFile(bad, []byte("these are notes, not a recording"), 0o644)
	do("upload a bad file", chromedp.SetUploadFiles(css("#u-file"), []string{bad}), chromedp.Click(css("#u-send")),
		poll(`document.querySelector('#u-error').textContent.length > 0`, 20*time.Second))
	if e := text("#u-error"); !strings.Contains(e, "cannot be analysed") || !strings.Contains(e, "not a readable C3D") {
		t.Errorf("error shown %q", e)
	}

	// A file over the limit: the page says so.
	big := filepath.Join(t.TempDir(), "long.c3d")
	os.WriteFile(big, testrec.Ghostly(testrec.Options{Seed: 2, Seconds: 90}), 0o644)
	do("upload a file over the limit", chromedp.Evaluate[chromedp.Void](`document.querySelector('#u-error').textContent = ''`),
		chromedp.SetUploadFiles(css("#u-file"), []string{big}), chromedp.Click(css("#u-send")),
		poll(`document.querySelector('#u-error').textContent.length > 0`, 20*time.Second))
	if e := text("#u-error"); !strings.Contains(e, "too large") || !strings.Contains(e, "1 MiB") {
		t.Errorf("error shown %q", e)
	}

	// The list shows it, its status updating by itself until completed.
	do("list", chromedp.Click(css("#nav-sessions")), chromedp.WaitVisible(css(`#sessions tbody tr`)),
		chromedp.WaitVisible(css(`#sessions tr[data-code="P021S001"][data-status="completed"]`)))
	if row := text(`#sessions tr[data-code="P021S001"][data-status="completed"]`); !strings.Contains(row, "P021S001") || !strings.Contains(row, "2024-01-05 09:30") ||
		!strings.Contains(row, "CH1 ") || !strings.Contains(row, "completed") {
		t.Errorf("row %q", row)
	}
	shot("dashboard-list.png")
	// Filters.
	do("filter by status", chromedp.SetValue(css("#f-status"), "failed"), chromedp.Click(css(`#filters button[type="submit"]`)),
		poll(`document.querySelector('#list-state').textContent.includes('match the filter')`, 10*time.Second))
	if n := count("#sessions tbody tr"); n != 0 {
		t.Errorf("failed filter shows %d rows", n)
	}
	if len(reqs.matching("status=failed")) == 0 {
		t.Error("the status filter sent no status=failed")
	}
	do("filter by patient", chromedp.Click(css("#f-clear")), chromedp.SendKeys(css("#f-patient"), "P021"), chromedp.Click(css(`#filters button[type="submit"]`)),
		chromedp.WaitVisible(css(`#sessions tr[data-code="P021S001"][data-status="completed"]`)),
		poll(`!document.querySelector('#list-state').textContent.startsWith('Loading')`, 10*time.Second))
	if n := count("#sessions tbody tr"); n != 1 || len(reqs.matching("patient=P021")) == 0 {
		t.Errorf("patient filter: %d rows, requests %v", n, reqs.matching("/sessions?"))
	}

	// The session: metadata, analytics, charts.
	reqs.reset()
	do("open the session", chromedp.Click(css(`#sessions tr[data-code="P021S001"][data-status="completed"] a.code`)),
		chromedp.WaitVisible(css(`#view-session`)),
		chromedp.WaitVisible(css(`canvas[data-kind="processed"][data-drawn]`)),
		chromedp.WaitVisible(css(`canvas[data-kind="raw"][data-drawn]`)),
		chromedp.WaitVisible(css(`canvas[data-kind="activated"][data-drawn]`)))
	if title, meta, an := text("#s-title"), text("#s-meta"), text("#s-analytics"); title != "Session P021S001" ||
		!strings.Contains(meta, "990 Hz") || !strings.Contains(an, "CH1") || !strings.Contains(an, "CH2") {
		t.Errorf("title %q, metadata %q, analytics %q", title, meta, an)
	}
	for _, kind := range []string{"raw", "activated", "processed"} {
		px, err := chromedp.Run(ctx, chromedp.Evaluate[pixels](fmt.Sprintf(pixelsJS, `canvas[data-kind="`+kind+`"]`)))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s chart: %+v", kind, px)
		if px.Drawn < 2000 {
			t.Errorf("%s chart: %d pixels drawn", kind, px.Drawn)
		}
		if px.Shaded < 500 {
			t.Errorf("%s chart: %d pixels of contraction spans", kind, px.Shaded)
		}
		if kind == "processed" && px.Red < 100 {
			t.Errorf("processed chart: %d pixels of the MVC threshold line", px.Red)
		}
	}
	first := signalRequests(reqs)
	if len(first) != 3 || len(reqs.matching("/channels")) != 1 {
		t.Errorf("signal requests %v", reqs.matching("/signals/jit/"))
	}
	for _, u := range first {
		if q := query(t, u); q.Get("max_points") == "" || q.Has("start_s") || q.Get("include_rms") != "false" {
			t.Errorf("whole-recording request %s (the dashboard draws no RMS envelope: include_rms=false)", u)
		}
	}
	shot("dashboard-session.png")

	// Zoom with the button: every chart re-fetched with a window.
	reqs.reset()
	do("zoom in", chromedp.Click(css("#z-in")),
		poll(`document.querySelector('#z-range').textContent.startsWith('Showing')`, 10*time.Second),
		poll(`[...document.querySelectorAll('canvas[data-drawn]')].every(c => +c.dataset.drawn >= 2)`, 20*time.Second))
	zoomed := waitSignalRequests(reqs, 3)
	if len(zoomed) != 3 {
		t.Fatalf("zoom requests %v", zoomed)
	}
	for _, u := range zoomed {
		if q := query(t, u); q.Get("start_s") != "5.000" || q.Get("end_s") != "15.000" || q.Get("max_points") == "" {
			t.Errorf("zoomed request %s: want start_s=5.000 end_s=15.000 with max_points", u)
		}
	}

	// Drag across the Processed chart: the window becomes what was dragged.
	reqs.reset()
	do("scroll", chromedp.ScrollIntoView(css(`canvas[data-kind="processed"]`)))
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector('canvas[data-kind="processed"]').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`))
	if err != nil || len(box) != 4 {
		t.Fatalf("chart box %v %v", box, err)
	}
	y := box[1] + box[3]/2
	x0, x1 := box[0]+64+(box[2]-76)*0.25, box[0]+64+(box[2]-76)*0.5
	do("drag", chromedp.DragAndDropXY(x0, y, x1, y, 8),
		poll(`[...document.querySelectorAll('canvas[data-drawn]')].every(c => +c.dataset.drawn >= 3)`, 20*time.Second))
	dragged := waitSignalRequests(reqs, 3)
	if len(dragged) != 3 {
		t.Fatalf("drag requests %v", dragged)
	}
	if q := query(t, dragged[0]); q.Get("start_s") != "7.500" || q.Get("end_s") != "10.000" {
		t.Errorf("dragged window %s: want 7.500-10.000 s", dragged[0])
	}
	shot("dashboard-zoomed.png")

	// Keyboard: with a chart focused, 0 shows the whole recording again.
	reqs.reset()
	do("keyboard reset", chromedp.Focus(css(`canvas[data-kind="raw"]`)), chromedp.KeyEvent("0"),
		poll(`document.querySelector('#z-range').textContent.startsWith('Whole')`, 10*time.Second),
		poll(`[...document.querySelectorAll('canvas[data-drawn]')].every(c => +c.dataset.drawn >= 4)`, 20*time.Second))
	for _, u := range signalRequests(reqs) {
		if query(t, u).Has("start_s") {
			t.Errorf("after the reset %s", u)
		}
	}

	// Another channel: its three charts are fetched.
	reqs.reset()
	do("channel CH2", chromedp.SetValue(css("#c-base"), "CH2"),
		chromedp.WaitVisible(css(`canvas[data-channel="CH2 Processed"][data-drawn]`)),
		chromedp.WaitVisible(css(`canvas[data-channel="CH2 Raw"][data-drawn]`)),
		chromedp.WaitVisible(css(`canvas[data-channel="CH2 activated"][data-drawn]`)))
	if ch2 := waitSignalRequests(reqs, 3); len(ch2) != 3 || !strings.Contains(strings.Join(ch2, " "), "CH2%20Processed") {
		t.Errorf("CH2 requests %v", ch2)
	}

	// Tablet and desktop: nothing wider than the screen.
	for _, size := range [][2]int64{{1280, 800}, {800, 1280}} {
		do("layout", chromedp.EmulateViewport(size[0], size[1]), chromedp.Sleep(300*time.Millisecond))
		overflow, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || overflow {
			t.Errorf("%dx%d: the page is wider than the screen (%v)", size[0], size[1], err)
		}
		if size[0] == 800 {
			shot("dashboard-tablet.png")
		}
	}
	b.checkNoErrors()
}

// browser is a headless Chromium on a page of the dashboard, with the
// helpers the tests use.
type browser struct {
	t         *testing.T
	ctx       context.Context
	reqs      *requestLog
	artifacts string

	mu     sync.Mutex
	jsErrs []string
}

// openBrowser starts Chromium (skipped, or failed under
// EMGD_REQUIRE_SERVICES, without it) with a window of w x h; it stops with
// the test.
func openBrowser(t *testing.T, w, h int) *browser {
	t.Helper()
	exe := requireChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(w, h),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(cancelCtx)
	// Start the browser on a context without a deadline (a deadline on the
	// first run would bound the browser's life); each step gets its own.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	b := &browser{t: t, ctx: ctx, reqs: &requestLog{}, artifacts: artifactDir(t)}
	requests := chromedp.Events(ctx, network.RequestWillBeSent)
	exceptions := chromedp.Events(ctx, runtime.ExceptionThrown)
	go func() {
		for ev, err := range requests {
			if err != nil {
				return
			}
			b.reqs.add(ev.Request.URL)
		}
	}()
	go func() {
		for ev, err := range exceptions {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.jsErrs = append(b.jsErrs, ev.ExceptionDetails.Text+" "+describeException(ev.ExceptionDetails))
			b.mu.Unlock()
		}
	}()
	return b
}

// shot saves a screenshot of the whole page as name in the artifacts.
func (b *browser) shot(name string) {
	t := b.t
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	p := filepath.Join(b.artifacts, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(png))
}

// do runs a step's actions within a minute, or fails the test with a
// screenshot.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		b.shot("failed.png")
		b.t.Fatalf("%s: %v", step, err)
	}
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (b *browser) poll(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(timeout))
}

func (b *browser) count(sel string) int {
	b.t.Helper()
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		b.t.Fatal(err)
	}
	return n
}

// eval evaluates a JavaScript expression to a T, failing the test on error.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("%s: %v", expr, err)
	}
	return v
}

// checkNoErrors fails the test if the page threw.
func (b *browser) checkNoErrors() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.jsErrs) > 0 {
		b.t.Errorf("JavaScript errors: %v", b.jsErrs)
	}
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

func describeException(d *runtime.ExceptionDetails) string {
	if d == nil {
		return ""
	}
	s := fmt.Sprintf("at %s:%d:%d", d.URL, d.LineNumber, d.ColumnNumber)
	if d.Exception != nil && d.Exception.Description != "" {
		s += ": " + d.Exception.Description
	}
	return s
}

// waitSignalRequests waits (up to 5 s) until n signal requests are logged:
// the browser reports requests asynchronously, sometimes after the chart
// that used the answer has been drawn.
func waitSignalRequests(l *requestLog, n int) []string {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := signalRequests(l)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func signalRequests(l *requestLog) []string {
	var out []string
	for _, u := range l.matching("/signals/jit/") {
		if !strings.Contains(u, "/channels") {
			out = append(out, u)
		}
	}
	return out
}

func query(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}
