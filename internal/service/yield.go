package service

import (
	"context"
	"io"
	"sync"
	"time"
)

// Phase 1 answers a request; phase 2 can wait. On a small machine the
// analyses of phase 2 would otherwise hold every processor while webhooks
// queue behind them (Go preempts a running goroutine only after 10 ms), so
// analyses yield to phase 1: at each of their checkpoints (each pass over
// the data, each base, every chunk of the object copied) an analysis waits
// while phase-1 requests are under way, up to maxYield at a time, so that
// steady webhook traffic slows analyses down but never stops them.

// maxYield bounds one wait of an analysis for phase 1.
const maxYield = 20 * time.Millisecond

// yieldChunk is how much of an object phase 2 copies between checkpoints.
const yieldChunk = 256 << 10

// priority counts the phase-1 requests under way.
type priority struct {
	mu    sync.Mutex
	busy  int
	quiet chan struct{} // closed when busy drops to 0; nil while none waits
	max   time.Duration // longest wait; 0 for maxYield (tests set it)
}

// begin marks a phase-1 request under way; call the function it returns
// when it ends.
func (p *priority) begin() func() {
	p.mu.Lock()
	p.busy++
	p.mu.Unlock()
	return func() {
		p.mu.Lock()
		p.busy--
		if p.busy == 0 && p.quiet != nil {
			close(p.quiet)
			p.quiet = nil
		}
		p.mu.Unlock()
	}
}

// yield waits while phase-1 requests are under way, up to p.max, or until
// ctx ends.
func (p *priority) yield(ctx context.Context) {
	p.mu.Lock()
	if p.busy == 0 {
		p.mu.Unlock()
		return
	}
	if p.quiet == nil {
		p.quiet = make(chan struct{})
	}
	quiet := p.quiet
	p.mu.Unlock()
	wait := p.max
	if wait <= 0 {
		wait = maxYield
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-quiet:
	case <-t.C:
	case <-ctx.Done():
	}
}

// yieldingContext is ctx whose Err, which an analysis calls at each of its
// checkpoints, first yields to phase 1.
type yieldingContext struct {
	context.Context
	p *priority
}

func (c yieldingContext) Err() error {
	c.p.yield(c.Context)
	return c.Context.Err()
}

// yieldingReader yields to phase 1 every yieldChunk bytes read.
type yieldingReader struct {
	r    io.Reader
	ctx  context.Context
	p    *priority
	left int
}

func (y *yieldingReader) Read(b []byte) (int, error) {
	if y.left <= 0 {
		y.p.yield(y.ctx)
		y.left = yieldChunk
	}
	n, err := y.r.Read(b[:min(len(b), y.left)])
	y.left -= n
	return n, err
}
