//go:build linux

package analysis

import "syscall"

const (
	madvHugePage      = 14 // MADV_HUGEPAGE
	madvPopulateWrite = 23 // MADV_POPULATE_WRITE (Linux 5.14)
	hugePageBytes     = 2 << 20
)

var pageBytes = uintptr(syscall.Getpagesize())

// prefault asks the kernel to back the n bytes at p (a live Go object the
// caller holds) with huge pages and to fault them in for writing. The
// huge-page advice covers the 2 MB-aligned range around the object, heap
// address space of the same arena (64 MB, aligned), and is only a hint.
// Errors are ignored: a kernel without transparent huge pages, or before
// 5.14 for the second call, answers EINVAL, and the pages are then faulted
// in on first touch as without it.
func prefault(p, n uintptr) {
	beg := p &^ (hugePageBytes - 1)
	end := (p + n + hugePageBytes - 1) &^ (hugePageBytes - 1)
	syscall.Syscall(syscall.SYS_MADVISE, beg, end-beg, madvHugePage)
	beg = (p + pageBytes - 1) &^ (pageBytes - 1)
	end = (p + n) &^ (pageBytes - 1)
	if end > beg {
		syscall.Syscall(syscall.SYS_MADVISE, beg, end-beg, madvPopulateWrite)
	}
}
