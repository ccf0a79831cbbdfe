package service_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"emgd/internal/service"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
	"emgd/internal/testrec"
)

// An object over Config.MaxObjectBytes fails its session at once, with a
// message, without a retry.
func TestPipelineObjectOverTheLimitFailsOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	st := storetest.OpenSQLite(t, store.Options{MaxConns: 8})
	p := newPipeline(t, st, 5)
	p.svc.Config.MaxObjectBytes = 64 << 10
	var calls atomic.Int32
	service.SetTestHook(p.svc, func(service.AnalyzeArgs) { calls.Add(1) })
	rec := testrec.Ghostly(testrec.Options{Seconds: 15}) // ~250 kB
	out, err := p.svc.Ingest(context.Background(), p.upload(t, "P001/big.c3d", rec))
	if err != nil {
		t.Fatal(err)
	}
	s := waitFor(t, st, out.Session.ID, store.StatusFailed, 30*time.Second)
	time.Sleep(1500 * time.Millisecond) // a retry would come within River's first backoff
	if calls.Load() != 1 || !strings.Contains(s.Error, "over the limit of 65536 bytes (--max-object-mb)") {
		t.Errorf("%d attempts, error %q", calls.Load(), s.Error)
	}
}
