package auth

import "sync"

// ResetDummyHash forgets the dummy hash, as in a process just started.
func ResetDummyHash() {
	dummyMade.Store(false)
	dummyHash = sync.OnceValue(makeDummyHash)
}

// DummyHashMade reports whether the dummy hash was asked for since the
// last ResetDummyHash.
func DummyHashMade() bool { return dummyMade.Load() }
