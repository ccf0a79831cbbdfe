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
// map it replaced. With signals it is tens of megabytes: emg_signals'
// samples encode themselves (floats) into one buffer, written gzip-
// compressed when the client accepts it.
type AnalysisResponse struct {
	Analytics            map[string]*emg.ChannelAnalytics `json:"analytics"`
	AvailableChannels    []string                         `json:"available_channels" nullable:"true"`
	C3DParameters        C3DParameters                    `json:"c3d_parameters"`
	EMGSignals           map[string]signalJSON            `json:"emg_signals" doc:"{} unless include_signals=true: per channel its samples, plus \"<base> Processed\""`
	FileID               string                           `json:"file_id"`
	Metadata             Metadata                         `json:"metadata"`
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
	SessionConfiguration map[string]any  `json:"session_configuration" doc:"the session values given, with their units converted"`
	SessionID            *string         `json:"session_id" doc:"echoed; the new session's id with store=true"`
	SessionParameters    json.RawMessage `json:"session_parameters" doc:"the parameters of the analysis (as POST /sessions/{id}/recalc takes them)"`
	SourceFilename       string          `json:"source_filename"`
	Stored               *Stored         `json:"stored,omitempty" doc:"with store=true"`
	Success              bool            `json:"success"`
	Timestamp            string          `json:"timestamp" doc:"20060102_150405"`
	UserID               *string         `json:"user_id"`
}

// Metadata is the recording's metadata as the old backend answered it.
type Metadata struct {
	ChannelCount          int            `json:"channel_count"`
	ChannelNames          []string       `json:"channel_names" nullable:"true"`
	Duration              *float64       `json:"duration" doc:"INFO:DURATION, as the game states it"`
	DurationSeconds       float64        `json:"duration_seconds"`
	FrameCount            int            `json:"frame_count"`
	GameName              *string        `json:"game_name"`
	GroupID               *string        `json:"group_id"`
	Level                 *string        `json:"level"`
	LevelName             *string        `json:"level_name"`
	PlayerName            *string        `json:"player_name"`
	SamplesPerChannel     int            `json:"samples_per_channel"`
	SamplingRate          float64        `json:"sampling_rate"`
	Score                 *float64       `json:"score"`
	SessionParametersUsed map[string]any `json:"session_parameters_used" doc:"GameSessionParameters as the old backend echoed them"`
	System                *string        `json:"system"`
	TherapistID           *string        `json:"therapist_id"`
	Time                  *string        `json:"time"`
	Version               *string        `json:"version"`
	Warnings              []string       `json:"warnings" nullable:"true"`
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

// PerformanceAnalysis is the session scores, with the weights in the old
// backend's names.
type PerformanceAnalysis struct {
	*emg.Performance
	Weights ScoringConfiguration `json:"weights"`
}

// ProcessingParameters is the contraction timing used.
type ProcessingParameters struct {
	MinDurationMs     float64 `json:"min_duration_ms"`
	ProcessingVersion string  `json:"processing_version"`
	Profile           string  `json:"profile" enum:"ghostly,standard"`
	SmoothingWindow   int     `json:"smoothing_window"`
	ThresholdFactor   float64 `json:"threshold_factor"`
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

// ErrorResponse is POST /upload's error answer: emgd's, with the old
// backend's detail, and for a file that cannot be analysed its error_type
// and what could be read.
type ErrorResponse struct {
	Analytics      map[string]*emg.ChannelAnalytics `json:"analytics,omitempty" doc:"emg_validation_failure: each channel's analytics and errors"`
	C3DMetadata    *analysis.Metadata               `json:"c3d_metadata,omitempty" doc:"emg_validation_failure: the file's metadata"`
	Detail         string                           `json:"detail" doc:"the same as error"`
	Error          string                           `json:"error"`
	ErrorType      string                           `json:"error_type,omitempty" enum:"file_corruption,emg_validation_failure"`
	SourceFilename string                           `json:"source_filename,omitempty"`
	Success        bool                             `json:"success" doc:"always false"`
}

// Form is POST /upload's multipart form (every field may also be given in
// the query string; the form wins).
type Form struct {
	File                           apidoc.Binary `json:"file" required:"true" doc:"the C3D recording; its name must end in .c3d"`
	ThresholdFactor                float64       `json:"threshold_factor,omitempty" doc:"factor of the Processed envelope's maximum that times contractions, in (0, 1); default 0.10"`
	MinDurationMs                  float64       `json:"min_duration_ms,omitempty" doc:"contractions shorter than this are dropped; default 100"`
	SmoothingWindow                int           `json:"smoothing_window,omitempty" doc:"timing moving average in samples; default 100"`
	SessionMVCValue                float64       `json:"session_mvc_value,omitempty" doc:"session MVC value (signal units), for every channel"`
	SessionMVCThresholdPercentage  float64       `json:"session_mvc_threshold_percentage,omitempty" doc:"percentage of the MVC a good contraction reaches, in (0, 100]; default 75"`
	ContractionDurationThreshold   float64       `json:"contraction_duration_threshold,omitempty" doc:"duration in ms a good contraction lasts; default 2000"`
	SessionExpectedContractions    int           `json:"session_expected_contractions,omitempty" doc:"expected contractions per muscle; default 12"`
	SessionExpectedContractionsCh1 int           `json:"session_expected_contractions_ch1,omitempty" doc:"expected contractions of CH1"`
	SessionExpectedContractionsCh2 int           `json:"session_expected_contractions_ch2,omitempty" doc:"expected contractions of CH2"`
	RPE                            int           `json:"rpe,omitempty" doc:"post-session Borg CR-10 rating, 0..10"`
	Profile                        string        `json:"profile,omitempty" enum:"ghostly,standard"`
	Params                         string        `json:"params,omitempty" doc:"a JSON document of session parameters (as POST /sessions/{id}/recalc takes); the fields above override it"`
	IncludeSignals                 bool          `json:"include_signals,omitempty" doc:"answer emg_signals: per channel sampling_rate, time_axis, data and rms_envelope, plus <base> Processed (default false)"`
	Store                          bool          `json:"store,omitempty" doc:"save the file and create a session (default false)"`
	Patient                        string        `json:"patient,omitempty" doc:"patient code (P followed by digits) the stored file goes under; default P000"`
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
			"`emg_signals` is `{}` unless include_signals=true. Nothing is stored unless store=true: then the file is saved in the bucket as `<patient>/<file name>` " +
			"(the name reduced to letters, digits, `.`, `_` and `-`) and goes through the webhook's pipeline; the answer adds `session_id`, `session_code` and `stored`, " +
			"and phase 2 analyses the session with the upload's parameters (a session that existed already for the object is analysed again with them). " +
			"Every field may also be given in the query string (the form wins). Requires the read token when one is configured. The file may be at most " +
			"--upload-limit-mb (default 256 MiB). The answer is gzip-compressed when the request accepts it (with signals a 175 s recording answers 60 MB, 19 MB compressed).",
		Body: &apidoc.Body{ContentType: "multipart/form-data", Type: Form{}, Required: true},
		Responses: []apidoc.Response{
			{Status: http.StatusOK, Description: "The analysis (EMGAnalysisResult)", ContentType: "application/json", Type: AnalysisResponse{}},
			uploadError(http.StatusBadRequest, "Malformed multipart body, no file, a field that is not a number or boolean, malformed params JSON"),
			{Status: http.StatusUnauthorized, Description: "Read token required", ContentType: "application/json", Type: apidoc.ErrorResponse{}},
			uploadError(http.StatusRequestEntityTooLarge, "File over the upload limit"),
			uploadError(http.StatusUnsupportedMediaType, "Not multipart/form-data"),
			uploadError(http.StatusUnprocessableEntity, "Not a .c3d name, not a readable C3D file (error_type file_corruption), an analysis that is not possible (error_type emg_validation_failure, with c3d_metadata and per-channel analytics), an out-of-range field or an invalid patient code"),
			uploadError(http.StatusServiceUnavailable, "Storage or database unavailable (store=true)"),
			uploadError(0, "Error"),
		},
		Security: []string{apidoc.ReadToken},
	}
}
