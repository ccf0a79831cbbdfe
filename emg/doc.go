// Package emg implements the surface-EMG analytics of emgd as pure functions
// over []float64: no files, HTTP or databases, standard library only.
//
// # Signal processing
//
// The building blocks reproduce numpy/scipy to a few parts in 1e12
// (the reference tests allow 1e-11 relative):
//
//   - Butter designs Butterworth low-, high- and band-pass filters
//     (scipy.signal.butter); ZPK.TF gives b, a and ZPK.SOS second-order
//     sections with scipy's zpk2sos pairing.
//   - LFilter, LFilterZI, FiltFilt and SOSFiltFilt (scipy's lfilter,
//     lfilter_zi, filtfilt and sosfiltfilt with odd padding); ZeroPhase is the
//     reusable, allocation-free form.
//   - FFT and RealFFT are precomputed transform plans (powers of two:
//     radix-4 stages over bit-reversed input, with one radix-2 stage when
//     log2 n is odd; other lengths: Bluestein; real input of even length
//     through a half-length complex transform).
//   - Welch estimates power spectral density with scipy.signal.welch's
//     defaults; SpectralFeatures gives mean and median frequency and Dimitrov's
//     FI_nsm5; RMS, MAV, ComputeFeatures and ComputeTemporal give the
//     whole-signal and windowed features.
//   - MovingAverage, RMSEnvelope and ProcessedEnvelope build envelopes;
//     Percentile is numpy's linear percentile.
//   - DetectRuns and Describe find and grade contractions.
//
// # Analysis of a recording
//
// Analyze takes the analog channels of one recording (labels as written,
// samples, sampling rate) and session Params, and returns a Result whose
// JSON form is the `emgd analyze --json` output:
//
//	{"metadata": ..., "analytics": {"CH1": {...}, "CH2": {...}},
//	 "available_channels": [...], "performance_analysis": {...},
//	 "processing_version": "ghostly/1"}
//
// Channels are grouped by base name: "CH1 Raw" and "CH1 activated" belong to
// base "CH1" (see ChannelKeys and BaseName for blank and repeated labels).
// For each base the profile validates the raw signal, computes the features,
// the Processed envelope (high-pass 20 Hz, rectify, low-pass 10 Hz, 50 ms
// moving average), the MVC threshold (75 %, or the percentage given, of the
// MVC given per channel, given for the session, or estimated as the
// envelope's 95th percentile), and detects contractions on the activated
// channel when there is one, else on the envelope. A channel that fails validation carries its message in Errors
// while the others go on; when every channel fails Analyze returns the
// result together with a *FailedError (errors.Is ErrAllChannelsFailed).
// Scores then grades the session (compliance, symmetry, effort from the RPE,
// game, overall with weights renormalised over the scores that exist).
//
// Params holds the session parameters (MVC values and percentages, detection
// settings, duration thresholds, expected contractions, RPE, BFR pressure,
// game points, weights, channel selection and sides); its JSON form is the
// params file of `emgd analyze --params`, read with ReadParams. Invalid
// parameters give a *ParamError.
//
// Profiles: "ghostly" (default) reproduces the GHOSTLY+ Python backend;
// "standard" computes the features on the raw signal band-passed from 20 Hz
// to min(450, 0.45*fs) Hz and drops the duration limits. Result.ProcessingVersion
// records the profile and its version.
//
// Analyzer.Workers analyses several channels at once; the buffers of each
// worker are reused from channel to channel and between calls. One worker
// takes the bases two at a time and filters and smooths their two
// envelopes together (independent recursions interleaved), with results
// identical to one base at a time.
//
// # Assembly
//
// On amd64 the hot loops (Welch segment packing and the radix-4 stages,
// the power of the real split, the two-channel envelope recursion and
// moving sum, sums and moments) run as SSE2 assembly in fft_amd64.s, doing
// in each register lane exactly the IEEE operations of the Go loops, so the
// results are the same bit for bit; tests compare the two. Other
// architectures, and builds with -tags purego, run the Go loops. The
// assembly stays only while it pays: it saves about a quarter of the CPU
// time of a GHOSTLY file's analysis (BENCHMARKS.md, emg).
package emg
