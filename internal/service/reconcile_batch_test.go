package service_test

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"emgd/internal/service"
	"emgd/internal/storage"
	"emgd/internal/store"
)

// countingStore counts the store's session lookups.
type countingStore struct {
	store.Store
	perObject, batches atomic.Int32
}

func (c *countingStore) GetSession(ctx context.Context, id string) (*store.Session, error) {
	c.perObject.Add(1)
	return c.Store.GetSession(ctx, id)
}

func (c *countingStore) GetSessionByObject(ctx context.Context, bucket, key, etag string) (*store.Session, error) {
	c.perObject.Add(1)
	return c.Store.GetSessionByObject(ctx, bucket, key, etag)
}

func (c *countingStore) ObjectSessions(ctx context.Context, bucket string, keys []string) (map[string][]store.Session, error) {
	c.batches.Add(1)
	return c.Store.ObjectSessions(ctx, bucket, keys)
}

// Reconcile looks the listed objects' sessions up a batch at a time, not
// with queries per object, and still tells the known from the lost.
func TestReconcileLooksUpObjectsInBatches(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		fs, err := storage.OpenFolder(t.TempDir(), "c3d-examples")
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.CreateBucket(ctx, "c3d-examples"); err != nil {
			t.Fatal(err)
		}
		const objects, known = 450, 300
		for i := range objects {
			key := fmt.Sprintf("P%03d/%03d.c3d", i%7, i)
			info, err := fs.Put(ctx, "c3d-examples", key, bytes.NewReader([]byte(key)))
			if err != nil {
				t.Fatal(err)
			}
			if i < known {
				if _, _, err := st.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples", ObjectKey: key, ETag: info.ETag}); err != nil {
					t.Fatal(err)
				}
			}
		}
		cs := &countingStore{Store: st}
		svc := &service.Service{Store: cs, Storage: fs}
		rep, err := svc.Reconcile(ctx, service.ReconcileOptions{DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Listed != objects || rep.C3D != objects || rep.Known != known || len(rep.Enqueued) != objects-known {
			t.Errorf("listed %d, c3d %d, known %d, would enqueue %d", rep.Listed, rep.C3D, rep.Known, len(rep.Enqueued))
		}
		if n := cs.perObject.Load(); n != 0 {
			t.Errorf("%d lookups of single sessions, want none", n)
		}
		if n := cs.batches.Load(); n != 3 {
			t.Errorf("%d batched lookups for %d objects, want 3", n, objects)
		}
	})
}
