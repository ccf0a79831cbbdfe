package service

import "emgd/emg"

// StoredSummary is what analysis_results.analytics_summary holds: the
// per-channel aggregates of emgd analyze, never a signal.
type StoredSummary struct {
	Analytics         map[string]*emg.ChannelAnalytics `json:"analytics"`
	AvailableChannels []string                         `json:"available_channels"`
	ProcessingVersion string                           `json:"processing_version"`
}

// Summary extracts the stored summary of a result.
func Summary(r *emg.Result) StoredSummary {
	return StoredSummary{Analytics: r.Analytics, AvailableChannels: r.AvailableChannels, ProcessingVersion: r.ProcessingVersion}
}
