package service

import (
	"bytes"
	"sync"
)

// spoolBuffers recycles the in-memory copies of objects of up to
// maxPooledSpool bytes from one analysis to the next: a fresh buffer costs
// zeroing or page faults for every byte, each time.
var spoolBuffers sync.Pool

const maxPooledSpool = 16 << 20

// spoolBuffer returns an empty buffer with room for n bytes.
func spoolBuffer(n int64) []byte {
	if n <= maxPooledSpool {
		if p, ok := spoolBuffers.Get().(*[]byte); ok && int64(cap(*p)) >= n {
			return (*p)[:0]
		}
	}
	return make([]byte, 0, n)
}

// putSpoolBuffer gives b back once nothing reads it any more.
func putSpoolBuffer(b []byte) {
	if cap(b) <= maxPooledSpool+bytes.MinRead {
		b = b[:0]
		spoolBuffers.Put(&b)
	}
}
