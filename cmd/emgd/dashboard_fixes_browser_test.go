package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"

	"emgd/c3d"
	"emgd/internal/testrec"
)

// dashServer is a running server with a read token, and helpers that put
// recordings in its storage and deliver their webhooks.
type dashServer struct {
	t    *testing.T
	dir  string
	base string
}

const dashToken = "tok-fixes"

// deliver writes a recording under key in the server's bucket and posts
// its webhook.
func (s *dashServer) deliver(key string, rec []byte) {
	s.t.Helper()
	s.put(key, rec)
	s.webhook(key, 200)
}

// session is GET /sessions/{code} with the token.
func (s *dashServer) session(code string) map[string]any {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+"/sessions/"+code, nil)
	req.Header.Set("Authorization", "Bearer "+dashToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return out
}

// wait waits up to a minute for session code to end, and returns it.
func (s *dashServer) wait(code string) map[string]any {
	s.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		out := s.session(code)
		if out["status"] == "completed" || out["status"] == "failed" {
			return out
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("session %s: %v", code, out["status"])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// scaledRecording is a recording whose ANALOG:GEN_SCALE is factor: its
// amplitudes are factor times testrec's (1000: millivolt-sized figures, 0.01
// to 1).
func scaledRecording(t *testing.T, factor float32) []byte {
	b := testrec.Ghostly(testrec.Options{Seed: 5})
	i := bytes.Index(b, []byte("GEN_SCALE"))
	// name, offset of the next (2 bytes), type (4: float), dimensions (0)
	if i < 0 || b[i+11] != 4 || b[i+12] != 0 {
		t.Fatal("no scalar float ANALOG:GEN_SCALE in the recording")
	}
	binary.LittleEndian.PutUint32(b[i+13:], math.Float32bits(factor))
	f, err := c3d.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil || f.Analog.GenScale != float64(factor) {
		t.Fatalf("scaled recording: %v, GEN_SCALE %v", err, f.Analog.GenScale)
	}
	return b
}

// nanRecording is a readable recording with about 1.5 s of NaN samples in
// every channel: phase 1 accepts it, its analysis fails.
func nanRecording() []byte {
	b := testrec.Ghostly(testrec.Options{Seconds: 15, Seed: 41})
	dataStart := (int(binary.LittleEndian.Uint16(b[16:])) - 1) * 512
	for i := dataStart + 100_000; i < dataStart+200_000; i++ {
		b[i] = 0xff
	}
	return b
}

// touchDrag moves one finger from (x0, y0) to (x1, y1) in ten steps, as
// a touch screen reports it.
func touchDrag(x0, y0, x1, y1 float64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		one := 1.0
		at := func(f float64) []*input.TouchPoint {
			return []*input.TouchPoint{{X: x0 + (x1-x0)*f, Y: y0 + (y1-y0)*f, RadiusX: &one, RadiusY: &one, Force: &one}}
		}
		if _, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: input.DispatchTouchEventTypeTouchStart, TouchPoints: at(0)}); err != nil {
			return err
		}
		for i := 1; i <= 10; i++ {
			time.Sleep(16 * time.Millisecond) // a frame
			if _, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: input.DispatchTouchEventTypeTouchMove, TouchPoints: at(float64(i) / 10)}); err != nil {
				return err
			}
		}
		_, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: input.DispatchTouchEventTypeTouchEnd, TouchPoints: []*input.TouchPoint{}})
		return err
	})
}

// touchPinch puts two fingers at x-from and x+from and spreads them to
// x-to and x+to in ten steps.
func touchPinch(x, y, from, to float64) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		one := 1.0
		at := func(f float64) []*input.TouchPoint {
			d := from + (to-from)*f
			id0, id1 := 0.0, 1.0
			return []*input.TouchPoint{{X: x - d, Y: y, RadiusX: &one, RadiusY: &one, Force: &one, ID: &id0},
				{X: x + d, Y: y, RadiusX: &one, RadiusY: &one, Force: &one, ID: &id1}}
		}
		if _, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: input.DispatchTouchEventTypeTouchStart, TouchPoints: at(0)}); err != nil {
			return err
		}
		for i := 1; i <= 10; i++ {
			time.Sleep(16 * time.Millisecond)
			if _, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: input.DispatchTouchEventTypeTouchMove, TouchPoints: at(float64(i) / 10)}); err != nil {
				return err
			}
		}
		_, err := cdp.Call(ctx, tg, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: input.DispatchTouchEventTypeTouchEnd, TouchPoints: []*input.TouchPoint{}})
		return err
	})
}

// What a clinician hit, fixed, at desktop and tablet size: the list's
// refresh leaves the filter being typed alone and pauses when the tab is
// hidden, yet shows a new session within 10 s; a vertical swipe over a
// chart scrolls the page and a horizontal drag zooms; values of 0.01-1
// print with their digits; good and not-good contractions differ by more
// than colour; a failed session reads as a message with what to do; a
// replaced session links to its newer one; times say which clock they are.
func TestDashboardClinicFixes(t *testing.T) {
	srv := startDashServer(t, serverConfig{ReadToken: dashToken})

	srv.deliver("P030/Ghostly_Emg_20240105_09-30-00-0001.c3d", scaledRecording(t, 1000))
	srv.deliver("P031/broken.c3d", nanRecording())
	srv.deliver("P032/again.c3d", testrec.Ghostly(testrec.Options{Seed: 1, Seconds: 12}))
	small := srv.wait("P030S001")
	failed := srv.wait("P031S001")
	if failed["status"] != "failed" {
		t.Fatalf("the NaN recording's session: %v", failed["status"])
	}
	t.Logf("failed session's error: %v", failed["error"])
	srv.wait("P032S001")
	srv.deliver("P032/again.c3d", testrec.Ghostly(testrec.Options{Seed: 2, Seconds: 13}))
	newer := srv.wait("P032S002")
	if old := srv.session("P032S001"); old["superseded_by"] != newer["id"] {
		t.Fatalf("P032S001 superseded by %v, want %v", old["superseded_by"], newer["id"])
	}
	// The figures to find on the page: CH1's RMS and MVC threshold, 0.01-1.
	an := small["analysis"].(map[string]any)["analytics_summary"].(map[string]any)["analytics"].(map[string]any)["CH1"].(map[string]any)
	rms, thr := an["rms"].(float64), an["mvc75_threshold"].(float64)
	if rms < 0.01 || rms > 1 || thr < 0.01 || thr > 1 {
		t.Fatalf("CH1 rms %v, threshold %v: not in 0.01-1", rms, thr)
	}

	next := 0
	for _, size := range []struct {
		name string
		w, h int
	}{{"desktop", 1280, 800}, {"tablet", 820, 1180}} {
		t.Run(size.name, func(t *testing.T) {
			b := openBrowser(t, size.w, size.h)
			tablet := size.name == "tablet"
			// The viewer is in New York; the server's times are UTC.
			b.do("viewport and zone", chromedp.EmulateViewport(int64(size.w), int64(size.h), func(p1 *emulation.SetDeviceMetricsOverrideParams, p2 *emulation.SetTouchEmulationEnabledParams) {
				p2.Enabled = true // a touch screen, on a laptop too
				p1.Mobile = tablet
			}), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"})
				return err
			}))
			b.do("open", chromedp.Navigate(srv.base+"/"), chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('emgd.token', '`+dashToken+`')`),
				chromedp.Reload(), chromedp.WaitVisible(css(`#sessions tr[data-code="P030S001"]`)))

			// The icon is served, not a 404.
			if st, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`fetch('/favicon.ico').then(r => r.status)`, chromedp.EvalAwaitPromise)); err != nil || st != 200 {
				t.Errorf("/favicon.ico: %d %v", st, err)
			}
			if h := b.text("#sessions thead"); !strings.Contains(h, "device's local time") {
				t.Errorf("list header %q does not say which clock", h)
			}

			// Type in the filter without submitting; a new session arrives;
			// the list refreshes (it shows the new one within 10 s) while
			// the text, the focus and the unchanged rows stay.
			b.do("type in the filter", chromedp.Evaluate[chromedp.Void](`document.querySelector('tr[data-code="P030S001"]').dataset.mark = 'kept'`),
				chromedp.Focus(css("#f-patient")), chromedp.SendKeys(css("#f-patient"), "P03"))
			next++
			newCode := fmt.Sprintf("P04%dS001", next)
			b.reqs.reset()
			delivered := time.Now()
			srv.deliver(fmt.Sprintf("P04%d/new.c3d", next), testrec.Ghostly(testrec.Options{Seed: 7, Seconds: 12}))
			b.do("new session listed", b.poll(`!!document.querySelector('#sessions tr[data-code="`+newCode+`"]')`, 12*time.Second))
			if took := time.Since(delivered); took > 10*time.Second {
				t.Errorf("the new session appeared after %v", took)
			}
			if len(b.reqs.matching("/sessions?")) == 0 {
				t.Error("no list refresh seen")
			}
			b.do("settle", chromedp.Sleep(3500*time.Millisecond))
			if v, _ := chromedp.Run(b.ctx, chromedp.Value(css("#f-patient"))); v != "P03" {
				t.Errorf("after refreshes the filter reads %q, want the typed P03", v)
			}
			if id := eval[string](b, `document.activeElement && document.activeElement.id`); id != "f-patient" {
				t.Errorf("after refreshes the focus is on %q, not the filter", id)
			}
			if m := eval[string](b, `(document.querySelector('tr[data-code="P030S001"]') || {dataset: {}}).dataset.mark || ''`); m != "kept" {
				t.Error("an unchanged row was rebuilt by the refresh")
			}
			b.shot("dashboard-filter-" + size.name + ".png")

			if !tablet {
				// Hidden tab: no request; shown again: refreshed at once.
				b.do("hide", chromedp.Evaluate[chromedp.Void](`Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'hidden'});
document.dispatchEvent(new Event('visibilitychange'))`), chromedp.Sleep(300*time.Millisecond))
				b.reqs.reset()
				b.do("hidden for 9 s", chromedp.Sleep(9*time.Second))
				if n := len(b.reqs.matching("/sessions?")); n != 0 {
					t.Errorf("%d list requests while the tab was hidden", n)
				}
				b.do("show", chromedp.Evaluate[chromedp.Void](`Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => 'visible'});
document.dispatchEvent(new Event('visibilitychange'))`), chromedp.Sleep(1500*time.Millisecond))
				if n := len(b.reqs.matching("/sessions?")); n == 0 {
					t.Error("no list request once the tab was shown again")
				}
			}

			// Small values keep their digits.
			b.do("open the mV session", chromedp.Navigate(srv.base+"/#/session/P030S001"),
				chromedp.WaitVisible(css(`canvas[data-kind="processed"][data-drawn]`)))
			cells := eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#s-analytics tbody tr')].map(r => [r.cells[0].textContent, r.cells[1].textContent]))`)
			for label, want := range map[string]float64{"RMS": rms, "MVC threshold": thr} {
				got, err := strconv.ParseFloat(cells[label], 64)
				if err != nil || math.Abs(got-want) > 0.005*want {
					t.Errorf("%s of %v printed %q: want three significant digits", label, want, cells[label])
				}
			}
			for label, v := range cells {
				if v == "0.0" || v == "0.1" {
					t.Errorf("%s printed as %q", label, v)
				}
			}
			// Which clock: the device's time as recorded, the server's in
			// the viewer's zone, named.
			meta := b.text("#s-meta")
			if !strings.Contains(meta, "Recorded (device's local time)") || !strings.Contains(meta, "2024-01-05 09:30") ||
				!strings.Contains(meta, "(America/New_York)") {
				t.Errorf("recording metadata %q", meta)
			}
			created, _ := time.Parse(time.RFC3339Nano, small["created_at"].(string))
			ny, _ := time.LoadLocation("America/New_York")
			if ny != nil && !strings.Contains(meta, created.In(ny).Format("2006-01-02 15:04")) {
				t.Errorf("upload time %s not shown in New York time in %q", created, meta)
			}
			// Good and not good differ by more than colour: hatched and
			// dashed against solid, in the legend and on the chart.
			legend := eval[[]string](b, `['.sw.good', '.sw.bad'].map(s => { const c = getComputedStyle(document.querySelector(s)); return c.backgroundImage + '|' + c.borderTopStyle; })`)
			if len(legend) != 2 || !strings.Contains(legend[1], "repeating-linear-gradient") || !strings.HasSuffix(legend[1], "|dashed") || !strings.HasSuffix(legend[0], "|solid") {
				t.Errorf("legend swatches %v", legend)
			}
			if spans := eval[[]string](b, `(() => { const c = document.querySelector('canvas[data-kind="processed"]'); return [c.dataset.good || '', c.dataset.bad || '']; })()`); spans[0] == "" || spans[0] == "0" || spans[1] == "" || spans[1] == "0" {
				t.Errorf("good/not-good spans drawn: %v", spans)
			}

			// Touch: the chart lets vertical panning to the page.
			if ta := eval[string](b, `getComputedStyle(document.querySelector('canvas[data-kind="processed"]')).touchAction`); ta != "pan-y" {
				t.Errorf("chart touch-action %q, want pan-y", ta)
			}
			b.do("chart in view", chromedp.Evaluate[chromedp.Void](`document.querySelector('canvas[data-kind="raw"]').scrollIntoView({block: 'center'})`),
				chromedp.Sleep(200*time.Millisecond))
			box := eval[[]float64](b, `(() => { const r = document.querySelector('canvas[data-kind="raw"]').getBoundingClientRect(); return [r.left, r.top, r.width, r.height, window.scrollY]; })()`)
			x, y := box[0]+box[2]/2, box[1]+box[3]/2
			before := box[4]
			// Swipe the finger down (scrolling up) when there is room, else up.
			dist := 120.0
			if before < 150 {
				dist = -120
			}
			b.do("vertical swipe on the chart", touchDrag(x, y, x, y+dist), chromedp.Sleep(500*time.Millisecond))
			after := eval[float64](b, `window.scrollY`)
			if math.Abs(after-before) < 60 {
				t.Errorf("a vertical swipe over the chart scrolled the page %v px (from %v to %v)", after-before, before, after)
			}
			if r := b.text("#z-range"); !strings.HasPrefix(r, "Whole") {
				t.Errorf("a vertical swipe zoomed the chart: %q", r)
			}
			// A horizontal drag of a finger zooms into the dragged span.
			box = eval[[]float64](b, `(() => { const r = document.querySelector('canvas[data-kind="raw"]').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
			y = box[1] + box[3]/2
			x0, x1 := box[0]+64+(box[2]-76)*0.25, box[0]+64+(box[2]-76)*0.5
			b.do("horizontal drag on the chart", touchDrag(x0, y, x1, y), b.poll(`document.querySelector('#z-range').textContent.startsWith('Showing')`, 10*time.Second))
			if r := b.text("#z-range"); !strings.Contains(r, "5.00–10.00 s") {
				t.Errorf("after a horizontal drag over a quarter of the chart: %q, want 5.00–10.00 s", r)
			}
			// Two fingers spreading apart zoom in around them.
			b.do("whole recording", chromedp.Click(css("#z-reset")), b.poll(`document.querySelector('#z-range').textContent.startsWith('Whole')`, 10*time.Second))
			b.do("pinch on the chart", touchPinch((box[0]+64+box[0]+box[2]-12)/2, y, 40, 160),
				b.poll(`document.querySelector('#z-range').textContent.startsWith('Showing')`, 10*time.Second))
			m := regexp.MustCompile(`Showing ([0-9.]+)–([0-9.]+) s`).FindStringSubmatch(b.text("#z-range"))
			if m == nil {
				t.Fatalf("after a pinch: %q", b.text("#z-range"))
			}
			a, _ := strconv.ParseFloat(m[1], 64)
			z, _ := strconv.ParseFloat(m[2], 64)
			if span := z - a; span < 4 || span > 6 || a < 6 || z > 14 {
				t.Errorf("a pinch spreading 80 px to 320 px at the middle showed %v-%v s, want about 5 s around 10 s", a, z)
			}
			b.shot("dashboard-session-" + size.name + ".png")

			// The failed session: a message, what to do, details folded.
			b.do("open the failed session", chromedp.Navigate(srv.base+"/#/session/P031S001"), chromedp.WaitVisible(css("#s-failure")))
			what, todo := b.text("#s-fail-what"), b.text("#s-fail-todo")
			if !strings.Contains(what, "invalid samples") || !strings.Contains(todo, "Upload the recording again") {
				t.Errorf("failure explained as %q / %q", what, todo)
			}
			if open := eval[bool](b, `document.querySelector('#s-fail-details').open`); open {
				t.Error("the technical details are unfolded")
			}
			if raw := eval[string](b, `document.querySelector('#s-error').textContent`); raw == "" {
				t.Error("the raw error is not kept in the details")
			}
			if href := eval[string](b, `document.querySelector('#s-reupload').getAttribute('href')`); href != "#/upload?patient=P031" {
				t.Errorf("re-upload link %q", href)
			}
			if vis := eval[bool](b, `!!document.querySelector('#s-recalc').offsetParent`); !vis {
				t.Error("no Recalculate button")
			}
			b.shot("dashboard-failed-" + size.name + ".png")
			// Recalculate: analysed again (and, the file being what it is,
			// failed again, still explained).
			b.reqs.reset()
			b.do("recalculate", chromedp.Click(css("#s-recalc")),
				b.poll(`document.querySelector('#s-recalc-state').textContent.includes('running again')`, 10*time.Second),
				b.poll(`document.querySelector('#s-status').dataset.status === 'failed' && !document.querySelector('#s-failure').hidden`, 30*time.Second))
			if len(b.reqs.matching("/sessions/"+failed["id"].(string)+"/recalc")) != 1 {
				t.Errorf("recalc requests %v", b.reqs.matching("/recalc"))
			}
			b.do("re-upload", chromedp.Click(css("#s-reupload")), chromedp.WaitVisible(css("#u-file")))
			if v, _ := chromedp.Run(b.ctx, chromedp.Value(css("#u-patient"))); v != "P031" {
				t.Errorf("the upload form's patient is %q, want P031", v)
			}

			// The replaced session says so and links to the newer one.
			b.do("open the replaced session", chromedp.Navigate(srv.base+"/#/session/P032S001"), chromedp.WaitVisible(css("#s-replaced")),
				b.poll(`document.querySelector('#s-newer').textContent === 'session P032S002'`, 10*time.Second))
			b.shot("dashboard-replaced-" + size.name + ".png")
			// Its file was replaced: no signals, and no window of the
			// previous session's recording left in the chart tools.
			if r := b.text("#z-range"); r != "" {
				t.Errorf("chart range %q on a session without signals", r)
			}
			b.do("follow the link", chromedp.Click(css("#s-newer")), b.poll(`document.querySelector('#s-title').textContent === 'Session P032S002'`, 10*time.Second))
			if !eval[bool](b, `document.querySelector('#s-replaced').hidden`) {
				t.Error("the newer session is shown as replaced")
			}

			// Nothing wider than the screen.
			if over := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth`); over {
				t.Errorf("%s: the page is wider than the screen", size.name)
			}
			b.checkNoErrors()
		})
	}
}
