package service

import "syscall"

// perThreadNice: Linux keeps a nice value per thread.
const perThreadNice = true

// setThreadNice raises the nice value of the calling thread by nice: on
// Linux PRIO_PROCESS with a thread id applies to that thread only.
func setThreadNice(nice int) {
	tid := syscall.Gettid()
	cur, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return
	}
	// The raw system call returns 20 - nice.
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, tid, min(20-cur+nice, 19))
}
