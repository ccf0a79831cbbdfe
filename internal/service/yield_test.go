package service

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// An analysis checkpoint passes at once while no phase-1 request is under
// way, waits while one is, and goes on when the last one ends.
func TestYieldWaitsForPhase1(t *testing.T) {
	p := priority{max: time.Hour}
	ctx := yieldingContext{context.Background(), &p}
	done := make(chan struct{})
	go func() { ctx.Err(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a checkpoint with no phase-1 request under way did not pass")
	}

	end1, end2 := p.begin(), p.begin()
	done = make(chan struct{})
	go func() {
		if err := ctx.Err(); err != nil {
			t.Error(err)
		}
		close(done)
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("a checkpoint passed while two phase-1 requests were under way")
	default:
	}
	end1()
	time.Sleep(20 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("a checkpoint passed while a phase-1 request was under way")
	default:
	}
	end2()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the checkpoint still waits after the last phase-1 request ended")
	}
}

// Steady phase-1 traffic slows an analysis down but never stops it: each
// checkpoint waits at most maxYield; a cancelled job does not wait.
func TestYieldIsBounded(t *testing.T) {
	var p priority
	defer p.begin()() // under way for the whole test
	done := make(chan struct{})
	go func() {
		ctx := yieldingContext{context.Background(), &p}
		for range 3 {
			ctx.Err()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("checkpoints under steady phase-1 traffic never passed")
	}
	cctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := (yieldingContext{cctx, &p}).Err(); err != context.Canceled {
		t.Errorf("Err of a cancelled job: %v", err)
	}
}

// The copy of an object yields every yieldChunk bytes and still copies every
// byte.
func TestYieldingReaderCopiesAll(t *testing.T) {
	var p priority
	data := bytes.Repeat([]byte("emgd"), yieldChunk) // 4 chunks
	var yields int
	r := &yieldingReader{r: bytes.NewReader(data), ctx: context.Background(), p: &p}
	var out bytes.Buffer
	buf := make([]byte, 100_000)
	for {
		if r.left <= 0 {
			yields++
		}
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(out.Bytes(), data) {
		t.Errorf("copied %d bytes, want the %d read", out.Len(), len(data))
	}
	if yields < 4 {
		t.Errorf("%d checkpoints over %d chunks", yields, len(data)/yieldChunk)
	}
}
