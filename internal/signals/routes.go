package signals

import (
	"net/http"

	"emgd/internal/apidoc"
)

// ChannelsResponse is GET /signals/jit/{session_id}/channels.
type ChannelsResponse struct {
	Success         bool     `json:"success"`
	SessionID       string   `json:"session_id"`
	SamplingRate    float64  `json:"sampling_rate"`
	DurationSeconds float64  `json:"duration_seconds"`
	Channels        []string `json:"channels" doc:"every channel key (\"CH1 Raw\", ...) and, for each raw channel, its \"<base> Processed\" envelope"`
}

// SignalResponse is one channel's signal (GET
// /signals/jit/{session_id}/{channel}). It is written by encode, which
// streams the numbers without building this struct; a test holds the two
// to the same fields.
type SignalResponse struct {
	Success          bool      `json:"success"`
	SessionID        string    `json:"session_id"`
	ChannelName      string    `json:"channel_name" doc:"the name asked for"`
	GeneratedAt      string    `json:"generated_at" doc:"when the answer was computed, UTC, as Python's isoformat writes it (2006-01-02T15:04:05.000000+00:00)"`
	SamplingRate     float64   `json:"sampling_rate"`
	DurationSeconds  float64   `json:"duration_seconds"`
	DownsampleFactor int       `json:"downsample_factor"`
	Points           int       `json:"points" doc:"the number of samples in time_axis and data"`
	TimeAxis         []float64 `json:"time_axis" doc:"each picked sample's time in seconds"`
	Data             []float64 `json:"data"`
	RMSEnvelope      []float64 `json:"rms_envelope,omitempty" doc:"unless include_rms=false"`
}

// routes documents the routes (built at registration, not at init).
func routes() []apidoc.Op {
	sessionParam := apidoc.Param{Name: "session_id", In: "path", Description: "session id or code", Type: ""}
	signalParams := []apidoc.Param{
		{Name: "include_rms", In: "query", Description: "add the RMS envelope (default true; false leaves it out)", Type: true},
		{Name: "downsample_factor", In: "query", Description: "keep every k-th sample (1 to 1000000)", Type: 0},
		{Name: "max_points", In: "query", Description: "at most this many points (at least 2; capped by the server)", Type: 0},
		{Name: "start_s", In: "query", Description: "window start in seconds", Type: 0.0},
		{Name: "end_s", In: "query", Description: "window end in seconds", Type: 0.0},
		{Name: "If-None-Match", In: "header", Description: "a previous answer's ETag", Type: ""},
	}
	signalAnswers := []apidoc.Response{
		{Status: http.StatusOK, Description: "The channel's signal, gzip-compressed when accepted", ContentType: "application/json", Type: SignalResponse{},
			Headers: map[string]string{"ETag": "the answer's version", "Cache-Control": "private, immutable"}},
		{Status: http.StatusNotModified, Description: "The answer named by If-None-Match is current"},
		{Status: http.StatusBadRequest, Description: "A parameter out of range", ContentType: "application/json", Type: apidoc.ErrorResponse{}},
		{Status: http.StatusNotFound, Description: "No such session or channel", ContentType: "application/json", Type: apidoc.ErrorResponse{}},
		{Status: http.StatusConflict, Description: "The session's file was replaced in storage", ContentType: "application/json", Type: apidoc.ErrorResponse{}},
		{Status: http.StatusUnprocessableEntity, Description: "The file or channel cannot be decoded", ContentType: "application/json", Type: apidoc.ErrorResponse{}},
		{Description: "Error", ContentType: "application/json", Type: apidoc.ErrorResponse{}},
	}
	channelsAnswers := append([]apidoc.Response{{Status: http.StatusOK,
		Description: "The recording's channels; with ?channel=, that channel's signal as the channel route answers it",
		ContentType: "application/json", Type: apidoc.AnyOf{ChannelsResponse{}, SignalResponse{}}}}, signalAnswers[1:]...)
	return []apidoc.Op{
		{Method: "GET", Path: "/signals/jit/{session_id}/channels", Tags: []string{"signals"},
			Summary:     "A session's channels",
			Description: "Reads the stored file's header. With ?channel=NAME answers that channel's signal instead (names with a slash).",
			Params:      append([]apidoc.Param{sessionParam, {Name: "channel", In: "query", Description: "a channel name", Type: ""}}, signalParams...),
			Responses:   channelsAnswers, Security: []string{apidoc.ReadToken}},
		{Method: "GET", Path: "/signals/jit/{session_id}/{channel...}", Tags: []string{"signals"},
			Summary:     "A channel's signal, read from the stored file on demand",
			Description: "channel is a key (\"CH1 Raw\", \"CH1 Activated\", \"CH1 Processed\") or a label, matched ignoring case when no name matches exactly; reduced to max_points while it streams from the file.",
			Params: append([]apidoc.Param{sessionParam, {Name: "channel", In: "path", Description: "channel key or label", Type: ""},
				{Name: "channel", In: "query", Description: "overrides the path's channel", Type: ""}}, signalParams...),
			Responses: signalAnswers, Security: []string{apidoc.ReadToken}},
	}
}
