package service

import "io"

// SetTestHook makes every job call f first (to inject panics in tests).
func SetTestHook(s *Service, f func(AnalyzeArgs)) { s.testHook = f }

// SetSpoolHook makes every job read its spooled copy through f(copy).
func SetSpoolHook(s *Service, f func(io.ReaderAt) io.ReaderAt) { s.spoolHook = f }

// ReanalyzeStats is how many storage requests ReanalyzePatient makes at once.
const ReanalyzeStats = reanalyzeStats
