package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// TestReplicasShareCodes: two stores on one database, as two replicas, create
// sessions for the same patients at once; codes stay unique and consecutive.
func TestReplicasShareCodes(t *testing.T) {
	cases := []struct {
		name string
		open func(t *testing.T) func() store.Store
	}{
		{"SQLite", func(t *testing.T) func() store.Store {
			path := filepath.Join(t.TempDir(), "emgd.db")
			return func() store.Store {
				s, err := store.OpenSQLite(context.Background(), path, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
		}},
		{"Postgres", func(t *testing.T) func() store.Store {
			u := storetest.NewPostgresDatabase(t)
			return func() store.Store {
				s, err := store.OpenPostgres(context.Background(), u, store.Options{})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { s.Close() })
				return s
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			open := c.open(t)
			replicas := []store.Store{open(), open()}
			const perReplica, goroutines = 24, 6
			var mu sync.Mutex
			codes := map[string][]string{}
			var wg sync.WaitGroup
			for r, s := range replicas {
				for g := range goroutines {
					wg.Go(func() {
						for i := range perReplica / goroutines {
							patient := fmt.Sprintf("P%03d", 1+(g+i)%2)
							key := fmt.Sprintf("%s/r%d-g%d-%d.c3d", patient, r, g, i)
							sess, created, err := s.CreateSession(context.Background(), store.NewSession{Bucket: "c3d-examples", ObjectKey: key, ETag: "e"})
							if err != nil || !created {
								t.Errorf("replica %d: %v (created %v)", r, err, created)
								return
							}
							// Every event is delivered to both replicas.
							other := replicas[1-r]
							dup, created, err := other.CreateSession(context.Background(), store.NewSession{Bucket: "c3d-examples", ObjectKey: key, ETag: "e"})
							if err != nil || created || dup.ID != sess.ID {
								t.Errorf("duplicate delivery to replica %d: created %v, %v", 1-r, created, err)
							}
							mu.Lock()
							codes[patient] = append(codes[patient], sess.SessionCode)
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			total := 0
			for p, cs := range codes {
				slices.Sort(cs)
				total += len(cs)
				for i, code := range cs {
					if code != store.FormatSessionCode(p, i+1) {
						t.Fatalf("patient %s: codes %v are not unique and consecutive", p, cs)
					}
				}
			}
			if total != 2*perReplica {
				t.Errorf("%d sessions, want %d", total, 2*perReplica)
			}
		})
	}
}
