package upload

import (
	"encoding/json"
	"net/http"

	"emgd/emg"
	"emgd/internal/analysis"
	"emgd/internal/apidoc"
)

// AnalysisResponse is POST /upload's answer, the old backend's
// EMGAnalysisResult. Its fields are in alphabetical order, the order of the
// map it replaced. With signals (the default) it is tens of megabytes:
// emg_signals is streamed channel by channel into the (gzip-compressed
// when accepted) answer, never held whole.
type AnalysisResponse struct {
	Analytics            map[string]*emg.ChannelAnalytics `json:"analytics" doc:"per base channel; a channel that failed validation is left out (see metadata.warnings)"`
	AvailableChannels    []string                         `json:"available_channels" doc:"every key of emg_signals: the file's channels, each base's \"<base> Processed\" and, for a raw channel not named \"<base> Raw\", that name too"`
	C3DParameters        C3DParameters                    `json:"c3d_parameters"`
	EMGSignals           signalMap                        `json:"emg_signals" doc:"per channel its samples (EMGChannelSignalData), {} with include_signals=false"`
	FileID               string                           `json:"file_id"`
	Metadata             Metadata                         `json:"metadata"`
	Params               json.RawMessage                  `json:"params" doc:"emgd's parameters of the analysis (as POST /sessions/{id}/recalc takes them)"`
	PatientID            *string                          `json:"patient_id"`
	PerformanceAnalysis  PerformanceAnalysis              `json:"performance_analysis"`
	ProcessingParameters ProcessingParameters             `json:"processing_parameters"`
	ProcessingVersion    string                           `json:"processing_version"`
	ScoringConfiguration ScoringConfiguration             `json:"scoring_configuration"`
	SessionCode          string                           `json:"session_code,omitempty" doc:"with store=true"`
	// SessionConfiguration is the values given, with their units
	// converted (session_mvc_value, session_mvc_threshold_percentage and
	// _decimal, contraction_duration_threshold and _seconds,
	// session_expected_contractions and its per-channel forms).
	SessionConfiguration map[string]any    `json:"session_configuration" doc:"the session values given, with their units converted"`
	SessionID            *string           `json:"session_id" doc:"echoed; the new session's id with store=true"`
	SessionParameters    SessionParameters `json:"session_parameters" doc:"the old backend's session settings, with the values the analysis used"`
	SourceFilename       string            `json:"source_filename"`
	Stored               *Stored           `json:"stored,omitempty" doc:"with store=true"`
	Success              bool              `json:"success"`
	Timestamp            string            `json:"timestamp" doc:"20060102_150405"`
	UserID               *string           `json:"user_id"`
}

// Metadata is the recording's metadata as the old backend answered it
// (GameMetadata), with emgd's additions.
type Metadata struct {
	ChannelCount          int                   `json:"channel_count"`
	ChannelNames          []string              `json:"channel_names" nullable:"true"`
	Duration              *float64              `json:"duration" doc:"INFO:DURATION, as the game states it"`
	DurationSeconds       float64               `json:"duration_seconds"`
	FrameCount            int                   `json:"frame_count"`
	GameName              *string               `json:"game_name"`
	GroupID               *string               `json:"group_id"`
	Level                 *string               `json:"level"`
	LevelName             *string               `json:"level_name"`
	PlayerName            *string               `json:"player_name"`
	SamplesPerChannel     int                   `json:"samples_per_channel"`
	SamplingRate          float64               `json:"sampling_rate"`
	Score                 *float64              `json:"score"`
	SessionParametersUsed GameSessionParameters `json:"session_parameters_used"`
	System                *string               `json:"system"`
	TherapistID           *string               `json:"therapist_id"`
	Time                  *string               `json:"time"`
	Version               *string               `json:"version"`
	Warnings              []string              `json:"warnings" nullable:"true"`
}

// GameSessionParameters is the old backend's session parameters: what
// /upload echoes in metadata.session_parameters_used (with the MVC values
// and percentages each channel was analysed with) and what
// /analysis/recalc and /mvc/calibrate take as session_params.
type GameSessionParameters struct {
	SessionMVCValue                    *float64            `json:"session_mvc_value"`
	SessionMVCThresholdPercentage      *float64            `json:"session_mvc_threshold_percentage" doc:"0..100, default 75"`
	SessionExpectedContractions        *int                `json:"session_expected_contractions"`
	SessionExpectedContractionsCh1     *int                `json:"session_expected_contractions_ch1"`
	SessionExpectedContractionsCh2     *int                `json:"session_expected_contractions_ch2"`
	ContractionDurationThreshold       *float64            `json:"contraction_duration_threshold" doc:"ms, default 2000"`
	SessionDurationThresholdsPerMuscle map[string]*float64 `json:"session_duration_thresholds_per_muscle" nullable:"true" doc:"seconds per base channel"`
	ChannelMuscleMapping               map[string]string   `json:"channel_muscle_mapping" nullable:"true"`
	SessionMVCValues                   map[string]*float64 `json:"session_mvc_values" nullable:"true" doc:"per base channel: the MVC given, or the one estimated"`
	SessionMVCThresholdPercentages     map[string]*float64 `json:"session_mvc_threshold_percentages" nullable:"true" doc:"per base channel"`
}

// SessionParameters is the old backend's session settings (the C3D's
// THERAPY group or its clinical defaults), here with the values the
// analysis used.
type SessionParameters struct {
	MVCCh1                 *float64 `json:"mvc_ch1" doc:"CH1's MVC (given or estimated)"`
	MVCCh2                 *float64 `json:"mvc_ch2"`
	MVCThresholdPercentage float64  `json:"mvc_threshold_percentage"`
	TargetDurationCh1Ms    float64  `json:"target_duration_ch1_ms"`
	TargetDurationCh2Ms    float64  `json:"target_duration_ch2_ms"`
	TargetContractionsCh1  int      `json:"target_contractions_ch1"`
	TargetContractionsCh2  int      `json:"target_contractions_ch2"`
	BFREnabled             bool     `json:"bfr_enabled"`
	BFRPressureAOP         float64  `json:"bfr_pressure_aop" doc:"the pressure given, else the old default 50"`
}

// C3DParameters is the recording's parameters as the old backend answered
// them.
type C3DParameters struct {
	ChannelCount      int     `json:"channel_count"`
	Duration          float64 `json:"duration"`
	FrameCount        int     `json:"frame_count"`
	GameName          *string `json:"game_name"`
	GroupID           *string `json:"group_id"`
	Level             *string `json:"level"`
	PlayerID          *string `json:"player_id" doc:"always null"`
	PlayerName        *string `json:"player_name"`
	ProcessedAt       string  `json:"processed_at"`
	ProcessingVersion string  `json:"processing_version"`
	SamplingRate      float64 `json:"sampling_rate"`
	StatelessMode     bool    `json:"stateless_mode" doc:"false with store=true"`
	TherapistID       *string `json:"therapist_id"`
	Time              *string `json:"time"`
}

// ScoringConfiguration is the scoring weights used.
type ScoringConfiguration struct {
	WeightCompletion float64 `json:"weight_completion"`
	WeightCompliance float64 `json:"weight_compliance"`
	WeightDuration   float64 `json:"weight_duration"`
	WeightEffort     float64 `json:"weight_effort"`
	WeightGame       float64 `json:"weight_game"`
	WeightIntensity  float64 `json:"weight_intensity"`
	WeightSymmetry   float64 `json:"weight_symmetry"`
}

// PerformanceAnalysis is the session scores with every key of the old
// backend's: the weights in both its names, the compliance components,
// the RPE mapping and what data the scores had.
type PerformanceAnalysis struct {
	*emg.Performance
	Weights              ScoringConfiguration `json:"weights"`
	WeightsUsed          emg.Weights          `json:"weights_used"`
	ComplianceComponents ComplianceComponents `json:"compliance_components"`
	DataCompleteness     DataCompleteness     `json:"data_completeness"`
	RPEMapping           RPEMapping           `json:"rpe_mapping"`
	RPESource            string               `json:"rpe_source" enum:"c3d_metadata,no_rpe_data"`
	RPEValue             *float64             `json:"rpe_value"`
	RPEPostSession       *float64             `json:"rpe_post_session"`
	BFRPressureAOP       *float64             `json:"bfr_pressure_aop"`
	ScoringConfigID      *string              `json:"scoring_config_id" doc:"the stored configuration whose weights were used"`
	SessionID            string               `json:"session_id" doc:"the scoring run's id"`
}

// ComplianceComponents is each muscle's compliance and its rates.
type ComplianceComponents struct {
	LeftMuscleCompliance  *float64 `json:"left_muscle_compliance"`
	RightMuscleCompliance *float64 `json:"right_muscle_compliance"`
	OverallCompliance     *float64 `json:"overall_compliance" doc:"the mean of both, before the BFR gate"`
	CompletionRateLeft    *float64 `json:"completion_rate_left"`
	CompletionRateRight   *float64 `json:"completion_rate_right"`
	IntensityRateLeft     *float64 `json:"intensity_rate_left"`
	IntensityRateRight    *float64 `json:"intensity_rate_right"`
	DurationRateLeft      *float64 `json:"duration_rate_left"`
	DurationRateRight     *float64 `json:"duration_rate_right"`
}

// DataCompleteness says what the scores were computed from.
type DataCompleteness struct {
	HasEMGData  bool    `json:"has_emg_data"`
	HasRPE      bool    `json:"has_rpe"`
	HasGameData bool    `json:"has_game_data"`
	HasBFRData  bool    `json:"has_bfr_data"`
	RPESource   *string `json:"rpe_source"`
}

// RPEMapping is the Borg CR-10 to effort score mapping.
type RPEMapping struct {
	OptimalRange    []int   `json:"optimal_range"`
	AcceptableRange []int   `json:"acceptable_range"`
	SuboptimalRange []int   `json:"suboptimal_range"`
	PoorRange       []int   `json:"poor_range"`
	OptimalScore    float64 `json:"optimal_score"`
	AcceptableScore float64 `json:"acceptable_score"`
	SuboptimalScore float64 `json:"suboptimal_score"`
	PoorScore       float64 `json:"poor_score"`
}

// ProcessingParameters documents the processing, with the old backend's
// keys.
type ProcessingParameters struct {
	SamplingRateHz           float64 `json:"sampling_rate_hz"`
	ProcessingVersion        string  `json:"processing_version"`
	FilterLowCutoffHz        float64 `json:"filter_low_cutoff_hz"`
	FilterHighCutoffHz       float64 `json:"filter_high_cutoff_hz"`
	FilterOrder              int     `json:"filter_order"`
	RMSWindowMs              float64 `json:"rms_window_ms"`
	RMSOverlapPercent        float64 `json:"rms_overlap_percent"`
	MVCWindowSeconds         float64 `json:"mvc_window_seconds"`
	MVCThresholdPercentage   float64 `json:"mvc_threshold_percentage"`
	ThresholdFactor          float64 `json:"threshold_factor"`
	MinDurationMs            float64 `json:"min_duration_ms"`
	SmoothingWindow          int     `json:"smoothing_window"`
	ActivatedThresholdFactor float64 `json:"activated_threshold_factor"`
	MergeThresholdMs         float64 `json:"merge_threshold_ms"`
	RefractoryPeriodMs       float64 `json:"refractory_period_ms"`
	Profile                  string  `json:"profile" enum:"ghostly,standard"`
}

// Stored is the session an upload with store=true became.
type Stored struct {
	AnalyticsStatus string `json:"analytics_status"`
	Bucket          string `json:"bucket"`
	Duplicate       bool   `json:"duplicate" doc:"the object already had this session"`
	ETag            string `json:"etag"`
	ObjectKey       string `json:"object_key"`
	PatientCode     string `json:"patient_code"`
	SessionCode     string `json:"session_code"`
	SessionID       string `json:"session_id"`
	Size            int64  `json:"size"`
}

// ErrorResponse is POST /upload's error answer: emgd's (success, error),
// the old backend's detail (a message, or FastAPI's list of refused form
// fields), and for a file that cannot be analysed the old backend's
// structured error (error_type, message, file_info, user_guidance, ...)
// with what could be read.
type ErrorResponse struct {
	Analytics            map[string]*emg.ChannelAnalytics `json:"analytics,omitempty" doc:"emg_validation_failure: each channel's analytics and errors"`
	C3DMetadata          *analysis.Metadata               `json:"c3d_metadata,omitempty" doc:"emg_validation_failure: the file's metadata"`
	ClinicalRequirements *ClinicalRequirements            `json:"clinical_requirements,omitempty" doc:"emg_validation_failure"`
	Detail               Detail                           `json:"detail" doc:"the error, or for refused form fields (422) FastAPI's list of them"`
	Error                string                           `json:"error"`
	ErrorType            string                           `json:"error_type,omitempty" enum:"file_corruption,emg_validation_failure"`
	FileAnalysis         *FileAnalysis                    `json:"file_analysis,omitempty" doc:"emg_validation_failure"`
	FileInfo             *FileInfo                        `json:"file_info,omitempty" doc:"with error_type"`
	Message              string                           `json:"message" doc:"the old backend's message"`
	ProcessingContext    *ProcessingContext               `json:"processing_context,omitempty" doc:"emg_validation_failure"`
	SourceFilename       string                           `json:"source_filename,omitempty"`
	Success              bool                             `json:"success" doc:"always false"`
	UserGuidance         *UserGuidance                    `json:"user_guidance,omitempty" doc:"with error_type"`
}

// ClinicalRequirements are the analysis's validation limits.
type ClinicalRequirements struct {
	MinDurationSeconds float64 `json:"min_duration_seconds"`
	MaxDurationSeconds float64 `json:"max_duration_seconds" doc:"0: no limit"`
	MinSamplesRequired int     `json:"min_samples_required"`
	ActualSamples      int     `json:"actual_samples" doc:"the frame count, as the old backend answered"`
	Reason             string  `json:"reason"`
}

// FileInfo is what was attempted with the file.
type FileInfo struct {
	Filename             string `json:"filename"`
	ContainsMotionData   *bool  `json:"contains_motion_data,omitempty"`
	EMGChannels          *int   `json:"emg_channels,omitempty"`
	FileType             string `json:"file_type"`
	ProcessingAttempted  bool   `json:"processing_attempted"`
	ProcessingSuccessful bool   `json:"processing_successful"`
	FailureStage         string `json:"failure_stage" enum:"c3d_loading,emg_validation"`
}

// UserGuidance is what the user may do about it.
type UserGuidance struct {
	PrimaryRecommendation    string   `json:"primary_recommendation"`
	SecondaryRecommendations []string `json:"secondary_recommendations"`
	TechnicalNote            string   `json:"technical_note"`
}

// ProcessingContext is how far the processing went.
type ProcessingContext struct {
	StageReached                 string  `json:"stage_reached"`
	C3DLoadSuccessful            bool    `json:"c3d_load_successful"`
	MetadataExtractionSuccessful bool    `json:"metadata_extraction_successful"`
	EMGValidationSuccessful      bool    `json:"emg_validation_successful"`
	FailureReason                string  `json:"failure_reason"`
	ProcessingTimeMs             float64 `json:"processing_time_ms"`
}

// FileAnalysis compares the file's size with its EMG.
type FileAnalysis struct {
	FileSizeMB               float64 `json:"file_size_mb"`
	EMGDurationSeconds       float64 `json:"emg_duration_seconds"`
	SizeDurationDiscrepancy  bool    `json:"size_duration_discrepancy"`
	LikelyContainsMotionData bool    `json:"likely_contains_motion_data"`
	EMGPortionOfFile         string  `json:"emg_portion_of_file" enum:"minimal,substantial"`
}

// Form is POST /upload's multipart form (every field may also be given in
// the query string; the form wins).
type Form struct {
	File                           apidoc.Binary `json:"file" required:"true" doc:"the C3D recording; its name must end in .c3d"`
	ThresholdFactor                float64       `json:"threshold_factor,omitempty" doc:"factor of the Processed envelope's maximum that times contractions, in (0, 1); default 0.10"`
	MinDurationMs                  float64       `json:"min_duration_ms,omitempty" doc:"contractions shorter than this are dropped; default 100"`
	SmoothingWindow                int           `json:"smoothing_window,omitempty" doc:"timing moving average in samples; default 100"`
	SessionMVCValue                float64       `json:"session_mvc_value,omitempty" doc:"session MVC value (signal units), for every channel"`
	SessionMVCThresholdPercentage  float64       `json:"session_mvc_threshold_percentage,omitempty" doc:"percentage of the MVC a good contraction reaches, in [0, 100]; default 75 (0 without an MVC value: 75, as the old backend)"`
	ContractionDurationThreshold   float64       `json:"contraction_duration_threshold,omitempty" doc:"duration in ms a good contraction lasts; default 2000"`
	SessionExpectedContractions    int           `json:"session_expected_contractions,omitempty" doc:"expected contractions per muscle, >= 0 (a number with no fraction, 12.0, is accepted); 0 or absent: 12"`
	SessionExpectedContractionsCh1 int           `json:"session_expected_contractions_ch1,omitempty" doc:"expected contractions of CH1"`
	SessionExpectedContractionsCh2 int           `json:"session_expected_contractions_ch2,omitempty" doc:"expected contractions of CH2"`
	RPE                            int           `json:"rpe,omitempty" doc:"post-session Borg CR-10 rating, 0..10"`
	Profile                        string        `json:"profile,omitempty" enum:"ghostly,standard"`
	Params                         string        `json:"params,omitempty" doc:"a JSON document of session parameters (as POST /sessions/{id}/recalc takes); the fields above override it"`
	IncludeSignals                 bool          `json:"include_signals,omitempty" doc:"answer emg_signals: per channel sampling_rate, time_axis, data and rms_envelope, plus <base> Processed (default true; false leaves it {})"`
	Store                          bool          `json:"store,omitempty" doc:"save the file and create a session (default false)"`
	Patient                        string        `json:"patient,omitempty" doc:"patient code (P followed by 1 to 12 digits) the stored file goes under; default P000"`
	PatientID                      string        `json:"patient_id,omitempty" doc:"echoed; the patient code when patient is not given and it matches P\\d+ (required to match when store=true)"`
	UserID                         string        `json:"user_id,omitempty" doc:"echoed"`
	SessionID                      string        `json:"session_id,omitempty" doc:"echoed (replaced by the new session's id when store=true)"`
}

// JSONSchema describes floats: numbers, null where not finite.
func (floats) JSONSchema() map[string]any {
	return map[string]any{"type": "array", "items": map[string]any{"type": []any{"number", "null"}}}
}

func uploadError(code int, desc string) apidoc.Response {
	return apidoc.Response{Status: code, Description: desc, ContentType: "application/json", Type: ErrorResponse{}}
}

// route documents POST /upload (built at registration, not at init).
func route() apidoc.Op {
	return apidoc.Op{Method: "POST", Path: "/upload", Tags: []string{"upload"},
		Summary: "Analyse an uploaded C3D file (and optionally store it as a session)",
		Description: "Multipart form with the recording in `file` and the old backend's form fields. Answers the full analysis in the old backend's shape (EMGAnalysisResult). " +
			"`emg_signals` holds every channel's samples unless include_signals=false. Nothing is stored unless store=true: then the file is saved in the bucket as `<patient>/<file name>` " +
			"(the name reduced to letters, digits, `.`, `_` and `-`) and goes through the webhook's pipeline; the answer adds `session_id`, `session_code` and `stored`, " +
			"and phase 2 analyses the session with the upload's parameters (a session that existed already for the object is analysed again with them). " +
			"Every field may also be given in the query string (the form wins). Requires the read token when one is configured. The file may be at most " +
			"--upload-limit-mb (default 256 MiB). The answer is gzip-compressed when the request accepts it (with signals a 175 s recording answers 60 MB, 19 MB compressed).",
		Body: &apidoc.Body{ContentType: "multipart/form-data", Type: Form{}, Required: true},
		Responses: []apidoc.Response{
			{Status: http.StatusOK, Description: "The analysis (EMGAnalysisResult)", ContentType: "application/json", Type: AnalysisResponse{}},
			uploadError(http.StatusBadRequest, "Malformed multipart body, not a .c3d name, include_signals or store not a boolean, malformed params JSON"),
			{Status: http.StatusUnauthorized, Description: "Read token required", ContentType: "application/json", Type: apidoc.ErrorResponse{}},
			uploadError(http.StatusNotFound, "The upload names a patient the user may not see (in patient, patient_id or the file name): nothing is analysed or stored"),
			uploadError(http.StatusRequestEntityTooLarge, "File over the upload limit"),
			uploadError(http.StatusUnprocessableEntity, "No file part, or not multipart/form-data (FastAPI's detail list, loc [body, file]); a field of the old form that is not a number or out of its range (FastAPI's detail list); not a readable C3D file (error_type file_corruption), an analysis that is not possible (error_type emg_validation_failure, with c3d_metadata and per-channel analytics), an out-of-range field or an invalid patient code"),
			uploadError(http.StatusServiceUnavailable, "Storage or database unavailable (store=true)"),
			uploadError(0, "Error"),
		},
		Security: []string{apidoc.ReadToken},
	}
}
