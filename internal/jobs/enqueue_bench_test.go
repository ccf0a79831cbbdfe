package jobs_test

import (
	"context"
	"testing"

	"emgd/internal/jobs"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// benchEnqueue inserts b.N jobs on SQLite, perTx of them per transaction:
// one EnqueueTx each when perTx is 1, one EnqueueManyTx otherwise. The
// figure per operation is per job.
func benchEnqueue(b *testing.B, perTx int) {
	st := storetest.OpenSQLite(b, store.Options{MaxConns: 8})
	w := &markWorker{st: st}
	workers := jobs.NewWorkers()
	jobs.Register(workers, w.Work)
	q, err := jobs.New(context.Background(), st, jobs.Config{Workers: workers}) // insert only
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i += perTx {
		err := st.InTx(ctx, func(tx store.Tx) error {
			if perTx == 1 {
				_, err := q.EnqueueTx(ctx, tx, markArgs{}, nil)
				return err
			}
			params := make([]jobs.Insert, perTx)
			for j := range params {
				params[j] = jobs.Insert{Args: markArgs{}}
			}
			_, err := q.EnqueueManyTx(ctx, tx, params)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnqueueOnePerTx(b *testing.B) { benchEnqueue(b, 1) }
func BenchmarkEnqueue32PerTx(b *testing.B)  { benchEnqueue(b, 32) }
