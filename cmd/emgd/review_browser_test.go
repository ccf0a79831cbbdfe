package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"emgd/internal/testenv"
)

// deliverFile puts a copy of the shared recording src under key in the
// server's bucket and posts its webhook (a real GHOSTLY recording under
// another file name records another day).
func (s *dashServer) deliverFile(key, src string) {
	s.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		s.t.Fatal(err)
	}
	s.deliver(key, b)
}

// deliverRejected writes bytes that are no recording under key and posts
// its webhook: phase 1 answers 422 and records the upload as rejected.
func (s *dashServer) deliverRejected(key string) {
	s.t.Helper()
	s.put(key, []byte("the tablet lost its connection half-way"))
	s.webhook(key, 422)
}

// get is an authorised GET of the server; it returns the answer's status,
// content type and body.
func (s *dashServer) get(path string) (int, string, string) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+dashToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b.String()
}

// screenshotTop saves the top height CSS pixels of the page at scale as a
// PNG named name in the artifacts (and at $EMGD_REVIEW_SCREENSHOT when
// name is the README's picture and that variable is set).
func (b *browser) screenshotTop(name string, height, scale float64) []byte {
	b.t.Helper()
	var png []byte
	b.do("screenshot "+name, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		w, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`document.documentElement.clientWidth`))
		if err != nil {
			return err
		}
		yes := true
		r, err := cdp.Call(ctx, tg, page.CaptureScreenshot, page.CaptureScreenshotParams{FromSurface: &yes, CaptureBeyondViewport: &yes,
			Clip: &page.Viewport{X: 0, Y: 0, Width: w, Height: height, Scale: scale}})
		png = r.Data
		return err
	}))
	p := filepath.Join(b.artifacts, name)
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s (%d bytes)", p, len(png))
	if out := os.Getenv("EMGD_REVIEW_SCREENSHOT"); out != "" && name == "review.png" {
		if err := os.WriteFile(out, png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
	return png
}

// The therapist's weekly review in a browser, at desktop and tablet size,
// on real GHOSTLY recordings: the list shows a rejected upload and keeps
// its patient filter across a reload; a patient's code opens their page,
// whose trend charts are drawn (for a patient with one session too), with
// weekly adherence, the sessions of a date range, a CSV export that
// downloads and a printable report; the settings form shows what is in
// force and where it comes from, puts a 422 next to its field, saves a
// new version and offers to analyse the sessions again; a session shows
// the thresholds it was analysed with, compliance per muscle, its scores
// explained and its statistics with units; a vertical swipe over a chart
// scrolls the page on a tablet.
func TestDashboardWeeklyReview(t *testing.T) {
	ghostly := testenv.Testdata(t, "ghostly")
	rec := func(name string) string { return filepath.Join(ghostly, name) }
	srv := startDashServer(t, serverConfig{ReadToken: dashToken})

	// P071: one session. P072: four sessions over three ISO weeks
	// (2023-W10, W11 and two in W12), then an upload the tablet cut off.
	srv.deliverFile("P071/Ghostly_Emg_20250310_11-46-23-0823.c3d", rec("Ghostly_Emg_20250310_11-46-23-0823.c3d"))
	srv.deliverFile("P072/Ghostly_Emg_20230307_10-00-00-0001.c3d", rec("Ghostly_Emg_20230321_17-50-17-0881.c3d"))
	srv.deliverFile("P072/Ghostly_Emg_20230314_10-00-00-0001.c3d", rec("Ghostly_Emg_20230321_17-33-14-0785.c3d"))
	srv.deliverFile("P072/Ghostly_Emg_20230321_17-23-09-0409.c3d", rec("Ghostly_Emg_20230321_17-23-09-0409.c3d"))
	srv.deliverFile("P072/Ghostly_Emg_20230321_17-28-14-0160.c3d", rec("Ghostly_Emg_20230321_17-28-14-0160.c3d"))
	for _, code := range []string{"P071S001", "P072S001", "P072S002", "P072S003", "P072S004"} {
		if s := srv.wait(code); s["status"] != "completed" {
			t.Fatalf("%s: %v %v", code, s["status"], s["error"])
		}
	}
	srv.deliverRejected("P072/Ghostly_Emg_20230322_09-00-00-0001.c3d")

	for _, size := range []struct {
		name string
		w, h int
	}{{"desktop", 1280, 800}, {"tablet", 820, 1180}} {
		t.Run(size.name, func(t *testing.T) {
			tablet := size.name == "tablet"
			b := openBrowser(t, size.w, size.h)
			downloads := t.TempDir()
			b.do("viewport, downloads", chromedp.EmulateViewport(int64(size.w), int64(size.h), func(p1 *emulation.SetDeviceMetricsOverrideParams, p2 *emulation.SetTouchEmulationEnabledParams) {
				p2.Enabled = tablet
				p1.Mobile = tablet
			}), allowDownloads(downloads))
			b.do("open the list", chromedp.Navigate(srv.base+"/"), chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('emgd.token', '`+dashToken+`')`),
				chromedp.Reload(), chromedp.WaitVisible(css(`#sessions tr[data-code="P072S004"]`)))

			// The rejected upload is in the list, marked, and under the
			// status filter "rejected".
			if got := b.text(`#sessions tr[data-code="P072R001"][data-status="rejected"]`); !strings.Contains(got, "Not counted") {
				t.Errorf("rejected row %q", got)
			}
			b.do("filter rejected", chromedp.SetValue(css("#f-status"), "rejected"),
				chromedp.Evaluate[chromedp.Void](`document.querySelector('#filters').requestSubmit()`),
				b.poll(`location.hash.includes('status=rejected') && [...document.querySelectorAll('#sessions tr[data-code]')].map(r => r.dataset.status).join() === 'rejected'`, 10*time.Second))

			// The patient filter is in the address: it survives a reload,
			// and the list's own refreshes leave it alone.
			b.do("filter P072", chromedp.Click(css("#f-clear")), b.poll(`document.querySelector('#f-status').value === ''`, 5*time.Second),
				chromedp.SendKeys(css("#f-patient"), "p072"), chromedp.Click(css(`#filters button[type="submit"]`)),
				b.poll(`location.hash === '#/?patient=P072' && document.querySelectorAll('#sessions tr[data-code]').length === 5`, 10*time.Second))
			b.do("reload", chromedp.Reload(), chromedp.WaitVisible(css(`#sessions tr[data-code="P072S001"]`)))
			if v, _ := chromedp.Run(b.ctx, chromedp.Value(css("#f-patient"))); v != "P072" {
				t.Errorf("after a reload the patient filter reads %q", v)
			}
			if others := eval[int](b, `[...document.querySelectorAll('#sessions tr[data-code]')].filter(r => !r.dataset.code.startsWith('P072')).length`); others != 0 {
				t.Errorf("after a reload %d rows of other patients", others)
			}
			if !tablet {
				b.reqs.reset()
				deadline := time.Now().Add(12 * time.Second)
				for len(b.reqs.matching("/sessions?")) == 0 && time.Now().Before(deadline) {
					time.Sleep(200 * time.Millisecond)
				}
				if reqs := b.reqs.matching("/sessions?"); len(reqs) == 0 || !strings.Contains(reqs[0], "patient=P072") {
					t.Errorf("list refreshes %v, want patient=P072", reqs)
				}
				if v, _ := chromedp.Run(b.ctx, chromedp.Value(css("#f-patient"))); v != "P072" {
					t.Errorf("after a refresh the patient filter reads %q", v)
				}
			}

			// The patient's code opens their page: trends drawn as SVG
			// with a bar or point per session, three weeks of adherence.
			b.do("open P072", chromedp.Click(css(`#sessions tr[data-code="P072S004"] a.patient-link`)),
				chromedp.WaitVisible(css(`#view-patient`)),
				b.poll(`document.querySelectorAll('svg[data-chart="contractions-CH1"] rect.bar[data-value]').length === 16`, 20*time.Second),
				b.poll(`document.querySelectorAll('svg[data-chart="mvc"] .point[data-value]').length === 8`, 20*time.Second))
			if h := eval[string](b, `location.hash`); h != "#/patients/P072" {
				t.Errorf("patient page address %q", h)
			}
			charts := eval[map[string]int](b, `Object.fromEntries([...document.querySelectorAll('svg.trend-svg')].map(s => [s.dataset.chart, s.querySelectorAll('[data-value]').length]))`)
			for name, want := range map[string]int{"contractions-CH1": 16 + 4, "contractions-CH2": 16 + 4, "scores": 4 * 3, "fatigue": 8, "mdf": 8, "mvc": 8, "adherence": 3 + 3} {
				if charts[name] != want {
					t.Errorf("chart %s has %d marks, want %d (all charts: %v)", name, charts[name], want, charts)
				}
			}
			if lines := eval[int](b, `[...document.querySelectorAll('svg[data-chart="scores"] path.line')].filter(p => (p.getAttribute('d').match(/L/g) || []).length === 3).length`); lines != 3 {
				t.Errorf("score lines through four sessions: %d, want 3 (overall, compliance, symmetry)", lines)
			}
			weeks := eval[[]string](b, `[...document.querySelectorAll('svg[data-chart="adherence"] rect.bar')].map(r => r.dataset.value)`)
			if strings.Join(weeks, ",") != "1,1,2" {
				t.Errorf("sessions per week %v, want 1,1,2", weeks)
			}
			if note := b.text(`figure[data-chart="scores"] figcaption`); !strings.Contains(note, "no RPE recorded") {
				t.Errorf("scores caption %q does not say effort is missing", note)
			}
			if n := b.count(`#p-sessions tbody tr[data-code]`); n != 4 {
				t.Errorf("%d sessions in the range table, want 4 (the rejected upload does not count)", n)
			}
			// Every control of the page has a label; the charts' figures
			// and the page's controls are reached with the keyboard.
			if bare := eval[[]string](b, `[...document.querySelectorAll('#view-patient input, #view-patient select')].filter(e => !e.labels.length && !e.getAttribute('aria-label')).map(e => e.id)`); len(bare) != 0 {
				t.Errorf("controls without a label: %v", bare)
			}
			b.do("tab from the range", chromedp.Focus(css("#p-from")))
			var reached []string
			for range 24 { // a date input takes three (day, month, year)
				b.do("tab", chromedp.KeyEvent("\t"))
				reached = append(reached, eval[string](b, `document.activeElement.id || document.activeElement.textContent.trim().slice(0, 30)`))
			}
			for _, want := range []string{"p-to", "p-4w", "p-csv", "p-report", "Figures as a table"} {
				if !strings.Contains(strings.Join(reached, "|"), want) {
					t.Errorf("tabbing from the range reached %v, not %s", reached, want)
				}
			}

			// A date range: the sessions of 2023-W12 only.
			b.do("range", chromedp.SetValue(css("#p-from"), "2023-03-20"), chromedp.SetValue(css("#p-to"), "2023-03-26"),
				chromedp.Click(css(`#p-range button[type="submit"]`)),
				b.poll(`location.hash === '#/patients/P072?from=2023-03-20&to=2023-03-26' && document.querySelectorAll('#p-sessions tbody tr[data-code]').length === 2`, 20*time.Second),
				b.poll(`document.querySelectorAll('svg[data-chart="adherence"] rect.bar').length === 1`, 10*time.Second))
			if href := eval[string](b, `document.querySelector('#p-csv').getAttribute('href')`); href != "/patients/P072/export.csv?from=2023-03-20&to=2023-03-26" {
				t.Errorf("export link %q", href)
			}
			if href := eval[string](b, `document.querySelector('#p-report').getAttribute('href')`); href != "/patients/P072/report?from=2023-03-20&to=2023-03-26" {
				t.Errorf("report link %q", href)
			}
			b.do("all sessions", chromedp.Click(css("#p-all")),
				b.poll(`location.hash === '#/patients/P072' && document.querySelectorAll('#p-sessions tbody tr[data-code]').length === 4`, 20*time.Second))

			// The export downloads (with the token: fetched, then saved);
			// its link answers CSV with a header row; the report is HTML.
			b.do("export", chromedp.Click(css("#p-csv")), b.poll(`(document.querySelector('#p-export-state').textContent || '').startsWith('Downloaded P072.csv')`, 20*time.Second))
			var csv []byte
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
				if b, err := os.ReadFile(filepath.Join(downloads, "P072.csv")); err == nil && len(b) > 0 {
					csv = b
					break
				}
			}
			if lines := strings.Split(strings.TrimSpace(string(csv)), "\n"); len(lines) != 1+4*2 || !strings.HasPrefix(lines[0], "session_id,session_code,patient_code,") {
				t.Errorf("downloaded P072.csv: %d lines, header %.60q", len(lines), lines[0])
			}
			href := eval[string](b, `document.querySelector('#p-csv').getAttribute('href')`)
			if code, ctype, body := srv.get(href); code != 200 || !strings.HasPrefix(ctype, "text/csv") || !strings.HasPrefix(body, "session_id,session_code,") {
				t.Errorf("%s: %d %s %.40q", href, code, ctype, body)
			}
			href = eval[string](b, `document.querySelector('#p-report').getAttribute('href')`)
			if code, ctype, body := srv.get(href); code != 200 || !strings.HasPrefix(ctype, "text/html") || !strings.Contains(body, "<svg") {
				t.Errorf("%s: %d %s", href, code, ctype)
			}

			if !tablet {

				// Settings: what is in force (none yet), a 422 next to its
				// field, then a new version with muscle names and targets.
				if src := b.text("#set-source"); !strings.Contains(src, "No settings saved") || !strings.Contains(src, "version 0") {
					t.Errorf("settings source %q", src)
				}
				if src := b.text("#src-mvc-CH1"); !strings.Contains(src, "estimated from each session") {
					t.Errorf("MVC source %q", src)
				}
				b.do("a bad threshold", chromedp.ScrollIntoView(css("#settings-form")), chromedp.SetValue(css("#set-threshold_pct"), "150"),
					chromedp.Click(css("#set-save")), b.poll(`document.querySelector('#err-threshold_pct').textContent.length > 0`, 10*time.Second))
				if e := b.text("#err-threshold_pct"); !strings.Contains(e, "threshold_pct") || !strings.Contains(e, "150") {
					t.Errorf("error next to the threshold %q", e)
				}
				if inv := eval[string](b, `document.querySelector('#set-threshold_pct').getAttribute('aria-invalid') + ' ' + document.activeElement.id`); inv != "true set-threshold_pct" {
					t.Errorf("the refused field: aria-invalid and focus %q", inv)
				}
				b.do("good settings", chromedp.SetValue(css("#set-threshold_pct"), "60"), chromedp.SetValue(css("#set-duration_threshold_ms"), "250"),
					chromedp.SetValue(css("#set-sessions_per_week"), "2"), chromedp.SetValue(css("#set-mvc-CH1"), "0.0002"),
					chromedp.SetValue(css("#set-muscle_names-CH1"), "Left quadriceps"), chromedp.SetValue(css("#set-muscle_names-CH2"), "Right quadriceps"),
					chromedp.Click(css("#set-save")), b.poll(`!!document.querySelector('#set-version[data-version="1"]')`, 10*time.Second),
					chromedp.WaitVisible(css("#reanalyze-box")))
				if e := b.text("#err-threshold_pct"); e != "" {
					t.Errorf("error left after a good save: %q", e)
				}
				if st := b.text("#set-state"); !strings.Contains(st, "version 1") {
					t.Errorf("save state %q", st)
				}
				if src := b.text("#src-threshold_pct"); !strings.Contains(src, "set in version 1 by api") {
					t.Errorf("threshold source %q", src)
				}
				if src := b.text("#src-mvc-CH2"); !strings.Contains(src, "estimated from each session") {
					t.Errorf("CH2 MVC source %q", src)
				}
				if intro := b.text("#re-intro"); !strings.Contains(intro, "Version 1 is saved") || !strings.Contains(intro, "4 of the 4 sessions") {
					t.Errorf("reanalysis offered as %q", intro)
				}
				b.shot("review-settings-saved.png")
				// Reanalysis: queued, then the sessions carry version 1,
				// the muscle names reach the charts and the target line
				// moves to 2 a week.
				b.do("reanalyse", chromedp.Click(css("#re-run")), b.poll(`!!document.querySelector('#re-queued')`, 15*time.Second))
				if n := eval[string](b, `document.querySelector('#re-queued').dataset.sessions`); n != "4" {
					t.Errorf("%s sessions queued, want 4: %s", n, b.text("#re-state"))
				}
				b.do("reanalysed", b.poll(`[...document.querySelectorAll('#p-sessions tbody tr[data-code] td:nth-child(6)')].every(td => td.textContent === 'v1')`, 60*time.Second),
					b.poll(`(document.querySelector('figure[data-chart="contractions-CH1"] figcaption') || {}).textContent.includes('CH1 · Left quadriceps')`, 20*time.Second))
				if prescribed := eval[[]string](b, `[...document.querySelectorAll('svg[data-chart="adherence"] line.target')].map(l => l.dataset.value)`); strings.Join(prescribed, ",") != "2,2,2" {
					t.Errorf("prescribed per week after the save %v, want 2,2,2", prescribed)
				}
				// The README's picture: the top of the patient page.
				b.do("top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`), b.poll(`document.querySelectorAll('svg[data-chart="mvc"] .point[data-value]').length === 8`, 20*time.Second))
				b.screenshotTop("review.png", 1180, 0.75)
				b.shot("review-patient-desktop.png")

				// MVC from a session, put in the form (not saved).
				b.do("estimate MVC", chromedp.Click(css("#mvc-box summary")), chromedp.SetValue(css("#mvc-session"), eval[string](b, `document.querySelector('#p-sessions tbody tr[data-code="P072S003"]').dataset.id`)),
					chromedp.Click(css("#mvc-run")), b.poll(`document.querySelector('#mvc-state').textContent.startsWith('Estimated MVC')`, 20*time.Second),
					chromedp.Click(css("#mvc-use")))
				if v, _ := chromedp.Run(b.ctx, chromedp.Value(css("#set-mvc-CH2"))); v == "" {
					t.Error("the estimate did not reach the form's CH2 MVC")
				}

				// The session: parameters used with their source, compliance
				// per muscle, scores explained, statistics with units.
				b.do("open a session", chromedp.Click(css(`#p-sessions tbody tr[data-code="P072S004"] a.code`)),
					chromedp.WaitVisible(css("#view-session")),
					b.poll(`document.querySelectorAll('#s-compliance .card').length === 2`, 20*time.Second),
					b.poll(`(document.querySelector('#s-params-source').textContent || '').includes('settings version 1')`, 20*time.Second))
				params := eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#s-params tbody tr[data-param]')].map(r => [r.dataset.param, r.textContent]))`)
				for label, want := range map[string][]string{
					"MVC threshold (% of MVC)": {"60.0 %", "settings v1"},
					"Duration threshold (ms)":  {"250", "settings v1"},
					"MVC (V)":                  {"0.000200", "CH1: settings v1", "CH2: estimated from this session"},
					"Expected contractions":    {"12", "default 12"},
				} {
					for _, w := range want {
						if !strings.Contains(params[label], w) {
							t.Errorf("parameter %q reads %q, want %q in it", label, params[label], w)
						}
					}
				}
				if c := b.text(`#s-compliance .card[data-channel="CH1"]`); !strings.Contains(c, "Left quadriceps") || !strings.Contains(c, "Completion") ||
					!strings.Contains(c, "Intensity") || !strings.Contains(c, "Duration") || !strings.Contains(c, "expected contractions") {
					t.Errorf("CH1 compliance card %q", c)
				}
				if e := b.text(`#s-scores dd[data-score="effort"]`); !strings.Contains(e, "Effort – no RPE recorded") {
					t.Errorf("effort explained as %q", e)
				}
				if o := b.text(`#s-scores dd[data-score="overall"]`); !strings.Contains(o, "/ 100") || !strings.Contains(o, "left out: effort") {
					t.Errorf("overall explained as %q", o)
				}
				temporal := b.text("#s-temporal")
				for _, w := range []string{"±", " Hz", " V", "windows of 1 s"} {
					if !strings.Contains(temporal, w) {
						t.Errorf("temporal statistics %q lack %q", temporal, w)
					}
				}
				if h := b.text("#s-analytics thead"); !strings.Contains(h, "CH1 · Left quadriceps") {
					t.Errorf("channel table header %q", h)
				}
				if hidden := eval[bool](b, `document.querySelector('#s-notes').hidden`); !hidden {
					t.Errorf("analysis notes shown for a session without warnings: %q", b.text("#s-notes"))
				}
				b.shot("review-session-desktop.png")
			} else {
				// Tablet: a vertical swipe over a chart scrolls the page.
				if ta := eval[string](b, `getComputedStyle(document.querySelector('svg[data-chart="scores"]')).touchAction`); !strings.HasPrefix(ta, "pan-y") {
					t.Errorf("trend chart touch-action %q", ta)
				}
				b.do("chart in view", chromedp.Evaluate[chromedp.Void](`document.querySelector('svg[data-chart="scores"]').scrollIntoView({block: 'center'})`),
					chromedp.Sleep(300*time.Millisecond))
				box := eval[[]float64](b, `(() => { const r = document.querySelector('svg[data-chart="scores"]').getBoundingClientRect(); return [r.left, r.top, r.width, r.height, window.scrollY]; })()`)
				x, y, before := box[0]+box[2]/2, box[1]+box[3]/2, box[4]
				b.do("vertical swipe on the chart", touchDrag(x, y, x, y+130), chromedp.Sleep(500*time.Millisecond))
				if after := eval[float64](b, `window.scrollY`); math.Abs(after-before) < 60 {
					t.Errorf("a vertical swipe over a trend chart scrolled the page %v px", after-before)
				}
				if v := eval[string](b, `(document.querySelector('#set-version') || {dataset: {}}).dataset.version || ''`); v != "1" {
					t.Errorf("tablet: settings version shown %q, want the 1 saved at desktop size", v)
				}
				b.shot("review-patient-tablet.png")
			}

			// The patients' list leads to a patient with one session: every
			// chart is drawn with its one bar group or point.
			b.do("patients", chromedp.Click(css("#nav-patients")), chromedp.WaitVisible(css(`#patients tr[data-patient="P071"]`)))
			if row := b.text(`#patients tr[data-patient="P072"]`); !strings.HasPrefix(row, "P072\t4\t4\t0") && !strings.HasPrefix(strings.Join(strings.Fields(row), " "), "P072 4 4 0") {
				t.Errorf("P072 in the patients' list: %q", row)
			}
			b.do("open P071", chromedp.Click(css(`#patients tr[data-patient="P071"] a`)),
				b.poll(`location.hash === '#/patients/P071' && document.querySelectorAll('svg[data-chart="mvc"] .point[data-value]').length === 2`, 20*time.Second))
			one := eval[map[string]int](b, `Object.fromEntries([...document.querySelectorAll('svg.trend-svg')].map(s => [s.dataset.chart, s.querySelectorAll('[data-value]').length]))`)
			for name, want := range map[string]int{"contractions-CH1": 4 + 1, "contractions-CH2": 4 + 1, "scores": 3, "fatigue": 2, "mdf": 2, "mvc": 2, "adherence": 1 + 1} {
				if one[name] != want {
					t.Errorf("one session: chart %s has %d marks, want %d (all charts: %v)", name, one[name], want, one)
				}
			}
			if h := eval[float64](b, `document.querySelector('svg[data-chart="contractions-CH1"] rect.bar.b0').getBBox().height`); h < 20 {
				t.Errorf("one session: the contractions bar is %v px high", h)
			}
			b.shot("review-one-session-" + size.name + ".png")

			if over := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth`); over {
				t.Errorf("%s: the page is wider than the screen", size.name)
			}
			b.checkNoErrors()
		})
	}
}

// settingsCall is a request on a patient's settings with the token:
// method, path, a JSON body (none when empty) and If-Match (none when
// empty); it answers the status, the ETag and the decoded body.
func (s *dashServer) settingsCall(method, path, body, ifMatch string) (int, string, map[string]any) {
	s.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+dashToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, resp.Header.Get("ETag"), out
}

// A save in the settings form names the version the form was filled
// from: when another save came meanwhile (here through the API) the page
// says who saved which version when, keeps the user's edits (the fields
// they did not touch take the new version's values, the ones both changed
// are marked) and the next save makes the version after it; "Load their
// version" drops the edits instead. A session whose patient's settings
// name a channel the recording does not have lists the analysis's warning
// under "Analysis notes".
func TestDashboardSettingsConflict(t *testing.T) {
	ghostly := testenv.Testdata(t, "ghostly")
	srv := startDashServer(t, serverConfig{ReadToken: dashToken})

	b := openBrowser(t, 1280, 800)
	b.do("open P081", chromedp.Navigate(srv.base+"/#/patients/P081"), chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('emgd.token', '`+dashToken+`')`),
		chromedp.Reload(), chromedp.WaitVisible(css("#settings-form")),
		b.poll(`document.querySelector('#set-source').textContent.includes('version 0') && !!document.querySelector('#set-muscle_names-CH1')`, 20*time.Second))

	// Edits in the page, then a save through the API before the page's.
	b.do("edit", chromedp.ScrollIntoView(css("#settings-form")), chromedp.SendKeys(css("#set-threshold_pct"), "60"),
		chromedp.SendKeys(css("#set-muscle_names-CH1"), "Left quadriceps"))
	code, etag, _ := srv.settingsCall("PUT", "/patients/P081/settings",
		`{"threshold_pct": 70, "sessions_per_week": 2, "mvc": {"CH3": 0.0003}, "muscle_names": {"CH3": "Left calf"}}`, `"0"`)
	if code != 200 || etag != `"1"` {
		t.Fatalf("save through the API: %d, ETag %s", code, etag)
	}
	b.do("save on version 0", chromedp.Click(css("#set-save")),
		b.poll(`!document.querySelector('#set-conflict').hidden && document.querySelector('#set-conflict').dataset.version === '1'`, 15*time.Second))
	msg := b.text("#set-conflict-text")
	for _, want := range []string{"Saved meanwhile by api at ", " as version 1: your changes are kept in the form; review and save again.",
		"Changed by both: MVC threshold (% of MVC) (theirs: 70, yours: 60)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("conflict message %q lacks %q", msg, want)
		}
	}
	form := eval[map[string]string](b, `Object.fromEntries([...document.querySelectorAll('#settings-form input')].filter(i => i.value).map(i => [i.id, i.value]))`)
	for id, want := range map[string]string{"set-threshold_pct": "60", "set-muscle_names-CH1": "Left quadriceps", "set-sessions_per_week": "2",
		"set-mvc-CH3": "0.0003", "set-muscle_names-CH3": "Left calf"} {
		if form[id] != want {
			t.Errorf("after the conflict %s reads %q, want %q (form %v)", id, form[id], want, form)
		}
	}
	if v := eval[string](b, `(document.querySelector('#set-version') || {dataset: {}}).dataset.version || ''`); v != "1" {
		t.Errorf("version in force shown after the conflict %q, want 1", v)
	}
	if src := b.text("#src-sessions_per_week"); !strings.Contains(src, "set in version 1 by api") {
		t.Errorf("sessions per week source after the conflict %q", src)
	}
	if cls := eval[string](b, `document.querySelector('#set-threshold_pct').className`); !strings.Contains(cls, "clash") {
		t.Errorf("the field both changed is not marked: class %q", cls)
	}
	b.shot("review-settings-conflict.png")

	// Saved again: the next version, with both saves' changes.
	b.do("save again", chromedp.Click(css("#set-save")),
		b.poll(`!!document.querySelector('#set-version[data-version="2"]') && document.querySelector('#set-conflict').hidden`, 15*time.Second))
	if st := b.text("#set-state"); !strings.Contains(st, "Saved as version 2") {
		t.Errorf("save state %q", st)
	}
	code, etag, cur := srv.settingsCall("GET", "/patients/P081", "", "")
	doc, _ := cur["settings"].(map[string]any)
	if code != 200 || etag != `"2"` || doc["threshold_pct"] != 60.0 || doc["sessions_per_week"] != 2.0 ||
		fmt.Sprint(doc["muscle_names"]) != "map[CH1:Left quadriceps CH3:Left calf]" || fmt.Sprint(doc["mvc"]) != "map[CH3:0.0003]" {
		t.Errorf("after the second save: %d, ETag %s, %v", code, etag, cur)
	}

	// Another save meanwhile; "Load their version" drops the edit.
	b.do("edit again", chromedp.SetValue(css("#set-threshold_pct"), ""), chromedp.SendKeys(css("#set-threshold_pct"), "65"))
	if code, etag, _ := srv.settingsCall("PUT", "/patients/P081/settings",
		`{"threshold_pct": 80, "sessions_per_week": 2, "mvc": {"CH3": 0.0003}, "muscle_names": {"CH1": "Left quadriceps", "CH3": "Left calf"}}`, `"2"`); code != 200 || etag != `"3"` {
		t.Fatalf("second save through the API: %d, ETag %s", code, etag)
	}
	b.do("save on version 2", chromedp.Click(css("#set-save")),
		b.poll(`!document.querySelector('#set-conflict').hidden && document.querySelector('#set-conflict').dataset.version === '3'`, 15*time.Second))
	b.do("load theirs", chromedp.Click(css("#set-load-theirs")),
		b.poll(`document.querySelector('#set-conflict').hidden && document.querySelector('#set-threshold_pct').value === '80'`, 10*time.Second))
	if st := b.text("#set-state"); !strings.Contains(st, "version 3") {
		t.Errorf("after loading theirs the state reads %q", st)
	}
	if _, etag, _ := srv.settingsCall("GET", "/patients/P081", "", ""); etag != `"3"` {
		t.Errorf("loading theirs saved something: ETag %s", etag)
	}

	// A recording with CH1 and CH2 for settings naming CH3: the session
	// lists the analysis's warning.
	srv.deliverFile("P081/Ghostly_Emg_20230321_17-23-09-0409.c3d", filepath.Join(ghostly, "Ghostly_Emg_20230321_17-23-09-0409.c3d"))
	s := srv.wait("P081S001")
	if s["status"] != "completed" {
		t.Fatalf("P081S001: %v %v", s["status"], s["error"])
	}
	if a, _ := s["analysis"].(map[string]any); a == nil || fmt.Sprint(a["analytics_summary"].(map[string]any)["warnings"]) == "<nil>" {
		t.Fatalf("P081S001's analysis has no warnings: %v", s["analysis"])
	}
	b.do("open the session", chromedp.Evaluate[chromedp.Void](`location.hash = '#/session/`+fmt.Sprint(s["id"])+`'`),
		chromedp.WaitVisible(css("#view-session")), b.poll(`!document.querySelector('#s-notes').hidden`, 20*time.Second))
	notes := eval[[]string](b, `[...document.querySelectorAll('#s-notes-list li')].map(l => l.textContent)`)
	if len(notes) != 1 || !strings.Contains(notes[0], `patient P081 settings version 3: channel "CH3"`) || !strings.Contains(notes[0], "is not in this recording") ||
		!strings.Contains(notes[0], "ignored for this session") {
		t.Errorf("analysis notes %q", notes)
	}
	if h := b.text("#s-notes-title"); h != "Analysis notes" {
		t.Errorf("notes heading %q", h)
	}
	b.shot("review-session-notes.png")
	b.checkNoErrors()
}
