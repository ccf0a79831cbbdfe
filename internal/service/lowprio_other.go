//go:build !linux

package service

// perThreadNice: elsewhere the nice value is the whole process's.
const perThreadNice = false

// setThreadNice does nothing where a nice value is not per thread.
func setThreadNice(int) {}
