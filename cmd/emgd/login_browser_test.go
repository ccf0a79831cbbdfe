package main

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"emgd/internal/testenv"
)

// Accounts in the dashboard, in Chromium at 1280x800, on real GHOSTLY
// recordings of two patients: the first account switches the running
// server to accounts, and the page to its sign-in form (no data, no token
// field); a wrong password says so; the therapist of P001 signs in with
// the keyboard and sees P001 only (list, Patients, the patient field's
// suggestions), a P002 session's address answers "not found", a settings
// change is saved (the CSRF token sent, also after a reload), the CSV
// export is a plain link the cookie authorises, the audit trail is not
// offered; signing out shows the form again and the API answers 401. Five
// wrong passwords in a row answer 429, shown as the cool-down in minutes.
// The admin sees both patients and the therapist's entries in the audit
// trail, filtered by user and by patient.
func TestDashboardLoginTherapist(t *testing.T) {
	ghostly := testenv.Testdata(t, "ghostly")
	rec := func(name string) string { return filepath.Join(ghostly, name) }
	srv := startDashServer(t, serverConfig{})
	dir := srv.dir

	// Ingested while the service is open (no account yet).
	srv.deliverFile("P001/Ghostly_Emg_20230321_17-23-09-0409.c3d", rec("Ghostly_Emg_20230321_17-23-09-0409.c3d"))
	srv.deliverFile("P001/Ghostly_Emg_20230321_17-28-14-0160.c3d", rec("Ghostly_Emg_20230321_17-28-14-0160.c3d"))
	srv.deliverFile("P002/Ghostly_Emg_20230321_17-33-14-0785.c3d", rec("Ghostly_Emg_20230321_17-33-14-0785.c3d"))
	for _, code := range []string{"P001S001", "P001S002", "P002S001"} {
		if s := srv.wait(code); s["status"] != "completed" {
			t.Fatalf("%s: %v %v", code, s["status"], s["error"])
		}
	}
	p002, _ := srv.session("P002S001")["id"].(string)
	if p002 == "" {
		t.Fatal("no id for P002S001")
	}

	// The accounts, made with the command line beside the running server.
	const (
		admin      = "ana.admin@clinic.example"
		adminPW    = "admin passphrase 2026"
		therapist  = "theo.therapist@clinic.example"
		therapyPW  = "therapist passphrase 2026"
		wrongPW    = "not the passphrase"
		unknown    = "nobody@clinic.example"
		db         = "--data-dir="
		signInForm = `#view-login:not([hidden]) #login-form`
	)
	for _, u := range []struct{ email, role, password string }{{admin, "admin", adminPW}, {therapist, "therapist", therapyPW}} {
		withStdin(t, u.password+"\n", func() {
			if code, _, stderr := runCLI("users", "add", db+dir, "--email", u.email, "--role", u.role, "--password-stdin"); code != 0 {
				t.Fatalf("users add %s: %d %s", u.email, code, stderr)
			}
		})
	}
	if code, _, stderr := runCLI("users", "assign", db+dir, "--email", therapist, "--patient", "P001"); code != 0 {
		t.Fatalf("users assign: %d %s", code, stderr)
	}
	if resp, err := http.Get(srv.base + "/sessions"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /sessions without credentials once accounts exist: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	b := openBrowser(t, 1280, 800)
	downloads := t.TempDir()
	b.do("viewport, downloads", chromedp.EmulateViewport(1280, 800), allowDownloads(downloads))

	// The sign-in form, labelled, focused on the email; nothing else.
	b.do("open", chromedp.Navigate(srv.base+"/"), chromedp.WaitVisible(css(signInForm)),
		b.poll(`document.activeElement && document.activeElement.id === 'login-email'`, 5*time.Second))
	for sel, want := range map[string]bool{"#nav": false, "#token-form": false, "#who": false, "#view-list": false, "#login-token-box": true} {
		if visible := eval[bool](b, `(() => { const e = document.querySelector('`+sel+`'); return !!e && !!(e.offsetWidth || e.offsetHeight); })()`); visible != want {
			t.Errorf("signed out, %s visible %v, want %v", sel, visible, want)
		}
	}
	if bare := eval[[]string](b, `[...document.querySelectorAll('#view-login input')].filter(e => !e.labels.length).map(e => e.id)`); len(bare) != 0 {
		t.Errorf("sign-in inputs without a label: %v", bare)
	}
	if got := eval[string](b, `document.querySelector('#login-token-box summary').textContent`); !strings.Contains(got, "access token") {
		t.Errorf("the token link reads %q", got)
	}
	if n := b.count(`#sessions tr[data-code]`); n != 0 {
		t.Errorf("signed out, %d session rows", n)
	}
	b.shot("login-signin.png")

	// A wrong password: the error, the password emptied and focused.
	b.do("wrong password", chromedp.SendKeys(css("#login-email"), therapist), chromedp.SendKeys(css("#login-password"), wrongPW),
		chromedp.Click(css("#login-send")),
		b.poll(`document.querySelector('#login-error').dataset.status === '401'`, 20*time.Second))
	if got := b.text("#login-error"); !strings.Contains(got, "Wrong email or password") {
		t.Errorf("wrong password says %q", got)
	}
	if id := eval[string](b, `document.activeElement.id + '|' + document.querySelector('#login-password').value`); id != "login-password|" {
		t.Errorf("after a wrong password the focus and password field: %q", id)
	}
	b.shot("login-wrong-password.png")

	// The therapist signs in with the keyboard (Enter submits).
	b.do("sign in as the therapist", chromedp.SendKeys(css("#login-password"), therapyPW+"\r"),
		chromedp.WaitVisible(css(`#sessions tr[data-code="P001S002"]`)), chromedp.WaitVisible(css(`#who`)),
		b.poll(`document.querySelectorAll('#sessions tr[data-code]').length === 2`, 20*time.Second))
	if who := b.text("#who"); !strings.Contains(who, therapist) || !strings.Contains(who, "therapist") || !strings.Contains(who, "Sign out") {
		t.Errorf("who is signed in: %q", who)
	}
	checkOnlyP001 := func(where string) {
		t.Helper()
		if rows := eval[[]string](b, `[...document.querySelectorAll('#sessions tr[data-code]')].map(r => r.dataset.code)`); strings.Join(rows, ",") != "P001S002,P001S001" && strings.Join(rows, ",") != "P001S001,P001S002" {
			t.Errorf("%s: the therapist's list %v", where, rows)
		}
		if eval[bool](b, `document.body.innerText.includes('P002')`) {
			t.Errorf("%s: P002 appears on the therapist's page", where)
		}
	}
	checkOnlyP001("list")
	if eval[bool](b, `!!document.querySelector('#nav-audit').offsetWidth`) {
		t.Error("the therapist is offered the audit trail")
	}
	if got := eval[[]string](b, `[...document.querySelectorAll('#my-patients option')].map(o => o.value)`); strings.Join(got, ",") != "P001" {
		t.Errorf("patient suggestions %v", got)
	}
	b.shot("login-therapist-list.png")

	b.do("patients", chromedp.Click(css("#nav-patients")), b.poll(`document.querySelectorAll('#patients tr[data-patient]').length === 1`, 20*time.Second))
	if got := eval[string](b, `document.querySelector('#patients tr[data-patient]').dataset.patient`); got != "P001" {
		t.Errorf("the therapist's patients: %s", got)
	}
	if eval[bool](b, `document.body.innerText.includes('P002')`) {
		t.Error("P002 appears on the therapist's Patients page")
	}

	// Another patient's session by its address: not found, nothing shown.
	b.do("P002's session", chromedp.Navigate(srv.base+"/#/session/"+p002),
		b.poll(`!document.querySelector('#notice').hidden && /not found/i.test(document.querySelector('#notice').textContent)`, 20*time.Second))
	if title := b.text("#s-title"); !strings.Contains(title, "not found") {
		t.Errorf("P002's session title %q", title)
	}
	if eval[bool](b, `document.body.innerText.includes('P002')`) {
		t.Error("P002's session page shows P002 data")
	}
	b.do("the audit as a therapist", chromedp.Navigate(srv.base+"/#/audit"),
		b.poll(`document.querySelector('#audit-error').textContent.includes('for admins')`, 20*time.Second))

	// A settings change for P001: saved as a new version (the CSRF token
	// went along), by the therapist; again after a reload (the token read
	// again from /auth/me).
	saveSessionsPerWeek := func(value, version string) {
		t.Helper()
		b.reqs.reset()
		b.do("P001's settings "+value, chromedp.Navigate(srv.base+"/#/patients/P001"), chromedp.WaitVisible(css("#settings-form")),
			b.poll(`document.querySelectorAll('#p-sessions tbody tr[data-code]').length === 2`, 20*time.Second),
			// The MVC chart from the trends alone: two sessions, two
			// muscles, each MVC estimated (hollow).
			b.poll(`document.querySelectorAll('svg[data-chart="mvc"] .point.hollow[data-value]').length === 4`, 20*time.Second))
		time.Sleep(300 * time.Millisecond) // the browser reports requests asynchronously
		if per := b.reqs.matching("/sessions/"); len(per) != 0 {
			t.Errorf("the patient page read sessions one by one: %v", per)
		}
		b.do("P001's settings "+value+": save",
			chromedp.SetValue(css("#set-sessions_per_week"), value),
			chromedp.Click(css("#set-save")),
			b.poll(`document.querySelector('#set-version') && document.querySelector('#set-version').dataset.version === '`+version+`' || document.querySelector('#set-error').textContent !== ''`, 20*time.Second))
		if e := b.text("#set-error"); e != "" {
			t.Fatalf("settings not saved: %s", e)
		}
		if src := b.text("#set-source"); !strings.Contains(src, "Version "+version) || !strings.Contains(src, therapist) {
			t.Errorf("after saving, the settings source reads %q", src)
		}
	}
	saveSessionsPerWeek("4", "1")
	b.do("reload", chromedp.Reload(), chromedp.WaitVisible(css("#who")))
	saveSessionsPerWeek("5", "2")
	if code, _, out := srv.getAs("", "/patients/P001/settings/history"); code != http.StatusUnauthorized {
		t.Errorf("settings history without credentials: %d %s", code, out)
	}

	// The CSV export is a plain link: the cookie authorises it.
	if href := eval[string](b, `document.querySelector('#p-csv').getAttribute('href')`); href != "/patients/P001/export.csv" {
		t.Errorf("export link %q", href)
	}
	b.do("export", chromedp.Click(css("#p-csv")))
	var csv []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && csv == nil; time.Sleep(100 * time.Millisecond) {
		files, _ := filepath.Glob(filepath.Join(downloads, "*.csv"))
		for _, f := range files {
			if c, err := os.ReadFile(f); err == nil && len(c) > 0 {
				csv = c
			}
		}
	}
	if !strings.Contains(string(csv), "P001S001") || strings.Contains(string(csv), "P002") {
		t.Errorf("the CSV downloaded through the plain link: %.300q", csv)
	}
	if d := eval[string](b, `document.querySelector('#p-export-state').textContent`); d != "" {
		t.Errorf("the plain link was fetched by the page: %q", d)
	}

	// Sign out: the form again, and the API answers 401.
	b.do("sign out", chromedp.Navigate(srv.base+"/#/"), chromedp.WaitVisible(css(`#sessions tr[data-code]`)),
		chromedp.Click(css("#sign-out")), chromedp.WaitVisible(css(signInForm)))
	if got := b.text("#login-state"); !strings.Contains(got, "signed out") {
		t.Errorf("after signing out the form says %q", got)
	}
	if n := eval[int](b, `document.querySelectorAll('#view-list:not([hidden]) #sessions tr[data-code]').length`); n != 0 {
		t.Errorf("after signing out %d rows shown", n)
	}
	if status, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`fetch('/sessions').then(r => r.status)`, chromedp.EvalAwaitPromise)); err != nil || status != http.StatusUnauthorized {
		t.Errorf("GET /sessions from the page after signing out: %d %v", status, err)
	}
	b.do("reload signed out", chromedp.Reload(), chromedp.WaitVisible(css(signInForm)))

	// Five wrong passwords in a row for an email: the sixth attempt is
	// refused for the cool-down, in minutes.
	b.do("email", chromedp.SetValue(css("#login-email"), unknown))
	for i := range 6 {
		b.do("attempt", chromedp.SetValue(css("#login-password"), wrongPW), chromedp.Evaluate[chromedp.Void](`document.querySelector('#login-error').dataset.status = ''`),
			chromedp.Click(css("#login-send")), b.poll(`document.querySelector('#login-error').dataset.status !== ''`, 20*time.Second))
		want := "401"
		if i == 5 {
			want = "429"
		}
		if got := eval[string](b, `document.querySelector('#login-error').dataset.status`); got != want {
			t.Errorf("attempt %d: %s, want %s (%s)", i+1, got, want, b.text("#login-error"))
		}
	}
	if got := b.text("#login-error"); !strings.Contains(got, "Too many attempts, try again in 15 min") {
		t.Errorf("the cool-down reads %q", got)
	}

	// The admin: both patients, and the audit trail.
	b.do("sign in as the admin", chromedp.SetValue(css("#login-email"), admin), chromedp.SetValue(css("#login-password"), adminPW),
		chromedp.Click(css("#login-send")), chromedp.WaitVisible(css(`#sessions tr[data-code="P002S001"]`)),
		b.poll(`document.querySelectorAll('#sessions tr[data-code]').length === 3`, 20*time.Second))
	if who := b.text("#who"); !strings.Contains(who, admin) || !strings.Contains(who, "admin") {
		t.Errorf("who is signed in: %q", who)
	}
	b.do("admin's patients", chromedp.Click(css("#nav-patients")), b.poll(`document.querySelectorAll('#patients tr[data-patient]').length === 2`, 20*time.Second))
	b.do("audit", chromedp.Click(css("#nav-audit")), b.poll(`document.querySelectorAll('#audit tbody tr').length > 0`, 20*time.Second),
		chromedp.SetValue(css("#a-user"), therapist), chromedp.Click(css(`#audit-filters button[type="submit"]`)),
		b.poll(`location.hash.startsWith('#/audit?user=') && document.querySelectorAll('#audit tbody tr').length > 0 && [...document.querySelectorAll('#audit tbody tr')].every(r => r.dataset.user === '`+therapist+`' || r.dataset.target === '`+therapist+`')`, 20*time.Second))
	// The command line's changes to the account are listed under it, made by cli.
	if cli := eval[[]string](b, `[...document.querySelectorAll('#audit tbody tr')].filter(r => r.dataset.target === '`+therapist+`').map(r => r.dataset.action + ':' + r.cells[1].textContent)`); !slices.Contains(cli, "users.add:cli → "+therapist) || !slices.Contains(cli, "users.assign:cli → "+therapist) {
		t.Errorf("the command line's changes to the therapist's account: %v, want users.add and users.assign by cli", cli)
	}
	actions := eval[[]string](b, `[...document.querySelectorAll('#audit tbody tr')].map(r => r.dataset.action + ':' + r.dataset.patient)`)
	joined := strings.Join(actions, ",")
	for _, want := range []string{"auth.login:", "auth.login_failed:", "settings.update:P001", "auth.logout:"} {
		if !strings.Contains(joined, want) {
			t.Errorf("the therapist's audit entries %v lack %s", actions, want)
		}
	}
	if strings.Contains(joined, "P002") {
		t.Errorf("the therapist's audit entries name P002: %v", actions)
	}
	b.do("audit of P001", chromedp.Evaluate[chromedp.Void](`document.querySelector('#a-user').value = ''`), chromedp.SetValue(css("#a-patient"), "p001"),
		chromedp.Click(css(`#audit-filters button[type="submit"]`)),
		b.poll(`location.hash === '#/audit?patient=P001' && document.querySelectorAll('#audit tbody tr').length > 0 && [...document.querySelectorAll('#audit tbody tr')].every(r => r.dataset.patient === 'P001')`, 20*time.Second))
	b.shot("login-admin-audit.png")
	b.checkNoErrors()
}

// getAs is a GET of the server with the bearer token tok (none when
// empty); it answers the status, content type and body.
func (s *dashServer) getAs(tok, path string) (int, string, string) {
	s.t.Helper()
	req, _ := http.NewRequest("GET", s.base+path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b.String()
}
