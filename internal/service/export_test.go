package service

// SetTestHook makes every job call f first (to inject panics in tests).
func SetTestHook(s *Service, f func(AnalyzeArgs)) { s.testHook = f }
