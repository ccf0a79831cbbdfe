package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

func benchCreate(b *testing.B, s store.Store) {
	ctx := context.Background()
	var n atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, _, err := s.CreateSession(ctx, store.NewSession{Bucket: "c3d-examples",
				ObjectKey: fmt.Sprintf("P%03d/%d.c3d", i%20, i), ETag: "e"})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkSQLiteCreateSession(b *testing.B) {
	benchCreate(b, storetest.OpenSQLite(b, store.Options{}))
}

func BenchmarkSQLiteCreateSession4Conns(b *testing.B) {
	benchCreate(b, storetest.OpenSQLite(b, store.Options{MaxConns: 4}))
}

func BenchmarkPostgresCreateSession(b *testing.B) {
	benchCreate(b, storetest.OpenPostgres(b, store.Options{}))
}
