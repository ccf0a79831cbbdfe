package upload

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/google/uuid"

	"emgd/c3d"
	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/api/httperr"
)

// analysed is an analysis ready to be answered: the answer, and the open
// file its signals are streamed from.
type analysed struct {
	res  *AnalysisResponse
	file *c3d.File
}

// analyse runs the analysis and builds the answer; a client gone (ctx
// done) stops the analysis.
func (h *Handler) analyse(ctx context.Context, file *received, o *options, w emg.Weights, configID *string) (*analysed, error) {
	start := time.Now()
	f, err := c3d.Open(file.ra, file.size)
	if err != nil {
		return nil, notC3D(file.name, err)
	}
	// The weights score this analysis; they are not the upload's
	// parameters (a stored session's job is scored by phase 2).
	p := o.params
	if p.Weights == nil {
		p.Weights = &w
	}
	res, err := analysis.AnalyzeContext(ctx, file.ra, file.size, file.name, p, h.Analyzer)
	if err != nil && ctx.Err() != nil {
		return nil, errorf(httperr.StatusClientClosed, "the client went away")
	}
	if err != nil {
		var fe *c3d.FormatError
		if errors.As(err, &fe) {
			return nil, notC3D(file.name, err)
		}
		return nil, notAnalysable(f, file, o, res, err, time.Since(start))
	}
	md, _ := res.Metadata.(*analysis.Metadata)
	if md == nil {
		md = analysis.ReadMetadata(f, file.name)
	}
	return &analysed{res: buildAnswer(file.name, md, res, o, *p.Weights, configID), file: f}, nil
}

// buildAnswer is the old backend's EMGAnalysisResult of an analysis.
func buildAnswer(name string, md *analysis.Metadata, res *emg.Result, o *options, weights emg.Weights, configID *string) *AnalysisResponse {
	an, left := oldAnalytics(res.Analytics)
	used := sessionParametersUsed(o, an)
	metadata := Metadata{
		GameName: nullable(md.GameName), Level: nullable(md.Level), Duration: md.GameDuration,
		TherapistID: nullable(md.TherapistID), GroupID: nullable(md.GroupID), Time: nullable(md.Time),
		PlayerName: nullable(md.PlayerName), Score: md.GameScore, SessionParametersUsed: used,
		LevelName: nullable(md.LevelName), Version: nullable(md.Version), System: nullable(md.System),
		ChannelNames: md.ChannelNames, ChannelCount: md.ChannelCount, SamplingRate: md.SamplingRate,
		DurationSeconds: md.DurationSeconds, FrameCount: md.FrameCount, SamplesPerChannel: md.SamplesPerChannel,
		Warnings: append(md.Warnings, left...),
	}
	now := time.Now()
	params, _ := json.Marshal(o.params)
	scoring := ScoringConfiguration{
		WeightCompliance: weights.Compliance, WeightSymmetry: weights.Symmetry, WeightEffort: weights.Effort,
		WeightGame: weights.Game, WeightCompletion: weights.Completion, WeightIntensity: weights.Intensity,
		WeightDuration: weights.Duration,
	}
	return &AnalysisResponse{
		Success:              true,
		FileID:               uuid.NewString(),
		Timestamp:            now.Format("20060102_150405"),
		SourceFilename:       name,
		Metadata:             metadata,
		Analytics:            an,
		AvailableChannels:    availableChannels(md.ChannelNames),
		EMGSignals:           signalMap{},
		ProcessingVersion:    res.ProcessingVersion,
		UserID:               o.userID,
		SessionID:            o.sessionID,
		PatientID:            o.patientID,
		Params:               json.RawMessage(params),
		SessionParameters:    sessionParameters(o, used, an, res.PerformanceAnalysis),
		PerformanceAnalysis:  performanceAnalysis(res.PerformanceAnalysis, &o.params, weights, scoring, configID),
		ScoringConfiguration: scoring,
		SessionConfiguration: sessionConfiguration(&used),
		ProcessingParameters: processingParameters(o, md.SamplingRate, res.ProcessingVersion),
		C3DParameters: C3DParameters{
			SamplingRate: md.SamplingRate, Duration: md.DurationSeconds, FrameCount: md.FrameCount,
			ChannelCount: md.ChannelCount, GameName: nullable(md.GameName), Level: nullable(md.Level),
			TherapistID: nullable(md.TherapistID), GroupID: nullable(md.GroupID),
			PlayerName: nullable(md.PlayerName), PlayerID: nil, Time: nullable(md.Time),
			ProcessingVersion: res.ProcessingVersion, ProcessedAt: now.Format(time.RFC3339), StatelessMode: !o.store,
		},
	}
}

// oldAnalytics leaves out the channels that failed validation (the old
// backend skipped them; their null features do not fit its model), naming
// them in warnings.
func oldAnalytics(all map[string]*emg.ChannelAnalytics) (map[string]*emg.ChannelAnalytics, []string) {
	out := make(map[string]*emg.ChannelAnalytics, len(all))
	var left []string
	for _, b := range sortedKeys(all) {
		ca := all[b]
		if ca.Errors != nil {
			left = append(left, "channel "+b+" left out of analytics: "+*ca.Errors)
			continue
		}
		out[b] = ca
	}
	return out, left
}

func notC3D(name string, err error) *httpError {
	he := errorf(http.StatusUnprocessableEntity, "%q is not a readable C3D file: %v", name, err)
	he.extra = ErrorResponse{ErrorType: "file_corruption", SourceFilename: name, Message: "Unable to read C3D file",
		FileInfo: &FileInfo{Filename: name, FileType: "c3d", ProcessingAttempted: true, FailureStage: "c3d_loading"},
		UserGuidance: &UserGuidance{PrimaryRecommendation: "Try re-downloading the file",
			SecondaryRecommendations: []string{"Try re-downloading the file", "Check if the file was corrupted during transfer",
				"Verify the file was exported correctly from GHOSTLY", "Contact technical support if the issue persists"},
			TechnicalNote: "File does not appear to be a valid C3D format"}}
	return he
}

// notAnalysable is the old backend's emg_validation_failure: what could be
// read, the profile's requirements and what to do.
func notAnalysable(f *c3d.File, file *received, o *options, res *emg.Result, err error, took time.Duration) *httpError {
	md := analysis.ReadMetadata(f, file.name)
	prof, _ := emg.LookupProfile(o.params.Profile)
	motion := md.FrameCount > md.ChannelCount*10
	channels := md.ChannelCount
	minS, maxS := prof.MinSeconds, prof.MaxSeconds
	he := errorf(http.StatusUnprocessableEntity, "EMG analysis not possible: %v", err)
	portion := "substantial"
	if md.DurationSeconds < 1 {
		portion = "minimal"
	}
	rec := "Record longer EMG sessions (" + pyNum(minS) + " seconds to " + pyNum(maxS/60) + " minutes)"
	if maxS == 0 {
		rec = "Record longer EMG sessions (at least " + pyNum(minS) + " seconds)"
	}
	he.extra = ErrorResponse{ErrorType: "emg_validation_failure", SourceFilename: file.name, Message: "EMG analysis not possible",
		C3DMetadata: md,
		ClinicalRequirements: &ClinicalRequirements{MinDurationSeconds: minS, MaxDurationSeconds: maxS, MinSamplesRequired: prof.MinSamples,
			ActualSamples: md.FrameCount, Reason: "EMG analysis requires sufficient signal duration for therapeutic assessment"},
		FileInfo: &FileInfo{Filename: file.name, ContainsMotionData: &motion, EMGChannels: &channels, FileType: "c3d",
			ProcessingAttempted: true, FailureStage: "emg_validation"},
		UserGuidance: &UserGuidance{PrimaryRecommendation: rec,
			SecondaryRecommendations: []string{rec, "Check GHOSTLY game recording settings", "Ensure proper EMG sensor connectivity",
				"Verify EMG data is being captured during gameplay"},
			TechnicalNote: "File contains valid C3D data but insufficient EMG duration for analysis"},
		ProcessingContext: &ProcessingContext{StageReached: "emg_validation", C3DLoadSuccessful: true, MetadataExtractionSuccessful: true,
			FailureReason: "insufficient_signal_duration", ProcessingTimeMs: max(float64(took.Microseconds())/1000, 0.001)},
		FileAnalysis: &FileAnalysis{FileSizeMB: float64(int64(float64(file.size)/(1<<20)*100+0.5)) / 100, EMGDurationSeconds: md.DurationSeconds,
			SizeDurationDiscrepancy: file.size > 1<<20 && md.DurationSeconds < 1, LikelyContainsMotionData: motion, EMGPortionOfFile: portion},
	}
	if res != nil {
		he.extra.Analytics = res.Analytics
	}
	return he
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
