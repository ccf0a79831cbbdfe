package service_test

import (
	"context"
	"io"
	"sync"
	"syscall"
	"testing"
	"time"

	"emgd/internal/storage"
	"emgd/internal/store"
	"emgd/internal/testrec"
)

// threadNice is the calling thread's nice value (the raw system call
// returns 20 - nice).
func threadNice() int {
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return -100
	}
	return 20 - p
}

// niceLog records the nice values of the threads that did each kind of work.
type niceLog struct {
	mu   sync.Mutex
	seen map[string]map[int]bool
}

func (l *niceLog) note(what string) {
	n := threadNice()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]map[int]bool{}
	}
	if l.seen[what] == nil {
		l.seen[what] = map[int]bool{}
	}
	l.seen[what][n] = true
}

func (l *niceLog) values(what string) map[int]bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen[what]
}

// niceStore notes the nice value of the threads writing a session's status
// and its analysis.
type niceStore struct {
	store.Store
	log *niceLog
}

func (s niceStore) SetStatus(ctx context.Context, id string, u store.StatusUpdate) (*store.Session, error) {
	s.log.note("database")
	return s.Store.SetStatus(ctx, id, u)
}

func (s niceStore) InTx(ctx context.Context, fn func(store.Tx) error) error {
	s.log.note("database")
	return s.Store.InTx(ctx, fn)
}

// niceStorage notes the nice value of the threads copying an object.
type niceStorage struct {
	storage.Backend
	log *niceLog
}

func (s niceStorage) GetVersion(ctx context.Context, bucket, key, version string) (io.ReadCloser, storage.ObjectInfo, error) {
	rc, info, err := s.Backend.GetVersion(ctx, bucket, key, version)
	if err != nil {
		return nil, info, err
	}
	return niceReader{rc, s.log}, info, nil
}

type niceReader struct {
	io.ReadCloser
	log *niceLog
}

func (r niceReader) Read(p []byte) (int, error) {
	r.log.note("copy")
	return r.ReadCloser.Read(p)
}

// Phase 2's computation (the object's copy, the analysis) runs on threads
// of raised nice value; its database writes run at the process's own, so
// that a descheduled low-priority thread never holds the database's writer.
func TestPipelineDatabaseWritesAtNormalPriority(t *testing.T) {
	base := threadNice()
	if base >= 19 {
		t.Skip("the process already runs at the lowest priority")
	}
	eachDatabase(t, func(t *testing.T, st store.Store) {
		log := &niceLog{}
		p := newPipeline(t, st, 3)
		p.svc.Config.AnalysisNice = 10
		p.svc.Storage = niceStorage{p.fs, log}
		p.svc.Store = niceStore{st, log}
		out, err := p.svc.Ingest(context.Background(), p.upload(t, "P001/nice.c3d", testrec.Ghostly(testrec.Options{Seconds: 12})))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, out.Session.ID, store.StatusCompleted, 30*time.Second)
		low := min(base+10, 19)
		if got := log.values("copy"); len(got) != 1 || !got[low] {
			t.Errorf("object copied on threads of nice %v, want only %d", got, low)
		}
		if got := log.values("database"); len(got) == 0 || got[low] {
			t.Errorf("database written on threads of nice %v, want none at %d", got, low)
		}
	})
}
