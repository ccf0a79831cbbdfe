package main

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"emgd/internal/testrec"
)

// A rejected upload is visible on the dashboard: the status filter offers
// "rejected", its row says why it does not count, and its page explains
// the refusal without a Recalculate button.
func TestDashboardRejectedUpload(t *testing.T) {
	srv := startDashServer(t, serverConfig{ReadToken: dashToken})
	srv.deliver("P060/Ghostly_Emg_20240105_09-30-00-0001.c3d", testrec.Ghostly(testrec.Options{Seed: 1, Seconds: 12}))
	srv.wait("P060S001")
	key := "P060/Ghostly_Emg_20240106_09-30-00-0001.c3d"
	srv.put(key, []byte("half a recording, cut off by the tablet"))
	srv.webhook(key, 422)
	rej := srv.session("P060R001")
	if rej["status"] != "rejected" {
		t.Fatalf("P060R001: %v", rej)
	}
	reason, _ := rej["error"].(string)

	b := openBrowser(t, 1280, 800)
	b.do("open", chromedp.Navigate(srv.base+"/"), chromedp.Evaluate[chromedp.Void](`sessionStorage.setItem('emgd.token', '`+dashToken+`')`),
		chromedp.Reload(), chromedp.WaitVisible(css(`#sessions tr[data-code="P060S001"]`)))
	// Listed by default, marked.
	if got := b.text(`#sessions tr[data-code="P060R001"] .reject-reason`); !strings.Contains(got, "Not counted") || !strings.Contains(got, reason) {
		t.Errorf("rejected row's reason %q, want %q", got, reason)
	}
	b.do("filter rejected", chromedp.SetValue(css("#f-status"), "rejected"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#filters').requestSubmit()`),
		b.poll(`document.querySelectorAll('#sessions tr[data-code]').length === 1 && !!document.querySelector('#sessions tr[data-code="P060R001"]')`, 10*time.Second))
	if st := b.text(`#sessions tr[data-code="P060R001"] .status`); st != "rejected" {
		t.Errorf("status badge %q", st)
	}
	b.shot("rejected-list")
	b.do("open the rejected upload", chromedp.Navigate(srv.base+"/#/session/P060R001"), chromedp.WaitVisible(css("#s-failure")))
	if h := b.text("#s-fail-title"); h != "This upload was rejected" {
		t.Errorf("title %q", h)
	}
	if what := b.text("#s-fail-what"); !strings.Contains(what, reason) || !strings.Contains(what, "does not count") {
		t.Errorf("explanation %q", what)
	}
	if eval[bool](b, `!document.querySelector('#s-recalc').hidden`) {
		t.Error("a rejected upload offers Recalculate")
	}
	b.shot("rejected-session")
	b.checkNoErrors()
}
