package service

import (
	"errors"
	"syscall"
	"testing"
)

// niceOfThread is the calling thread's nice value.
func niceOfThread(t *testing.T) int {
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return 20 - p // the raw system call returns 20 - nice
}

func TestLowPriority(t *testing.T) {
	base := niceOfThread(t)
	want := errors.New("the analysis' error")
	var niceIn int
	err := lowPriority(10, func() error {
		niceIn = niceOfThread(t)
		return want
	})
	if err != want {
		t.Fatalf("error %v, want %v", err, want)
	}
	if wantNice := min(base+10, 19); niceIn != wantNice {
		t.Errorf("nice value in the analysis %d, want %d", niceIn, wantNice)
	}
	niceIn = -100
	if err := lowPriority(0, func() error { niceIn = niceOfThread(t); return nil }); err != nil || niceIn != base {
		t.Errorf("nice 0: error %v, nice value %d, want nil and %d", err, niceIn, base)
	}
	defer func() {
		if v := recover(); v != "boom" {
			t.Fatalf("recovered %v, want the analysis' panic", v)
		}
	}()
	_ = lowPriority(10, func() error { panic("boom") })
	t.Fatal("the panic was not raised in the caller")
}
