package upload

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"time"

	"emgd/internal/jsonsafe"
)

// writeAnswer writes /upload's answer: everything but the signals is
// encoded at once (a few hundred kB at most), emg_signals is streamed from
// a.file channel by channel (a.file nil: {}).
func (h *Handler) writeAnswer(w http.ResponseWriter, r *http.Request, a *analysed) error {
	res := a.res
	b, replaced, err := jsonsafe.Marshal(res)
	if err == nil && len(replaced) > 0 {
		// Metadata with non-finite numbers is left out when read; this is
		// the last line of defence for anything computed: null, and said.
		h.log().Warn("upload answer had non-finite numbers; null instead", "fields", replaced)
		res.Metadata.Warnings = append(append([]string(nil), res.Metadata.Warnings...), jsonsafe.Warnings("result", replaced)...)
		b, _, err = jsonsafe.Marshal(res)
	}
	if err != nil {
		return errorf(http.StatusUnprocessableEntity, "the result could not be encoded as JSON: %v", err)
	}
	var fill func(*bufio.Writer) error
	if a.file != nil {
		fill = func(bw *bufio.Writer) error {
			return writeSignals(r.Context(), bw, a.file, func() error {
				_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(answerTimeout))
				return nil
			})
		}
	}
	h.writeEncoded(w, r, b, fill)
	return nil
}

// writeStreamed writes v, whose signalMap fill streams (nil: {}).
func (h *Handler) writeStreamed(w http.ResponseWriter, r *http.Request, v any, fill func(*bufio.Writer) error) error {
	b, _, err := jsonsafe.Marshal(v)
	if err != nil {
		return err
	}
	h.writeEncoded(w, r, b, fill)
	return nil
}

// writeEncoded writes b, an encoded answer, as 200, gzip-compressed when
// the client accepts it, with fill's output in place of its signalMap's
// placeholder (fill nil: {}). Once the status is written a failure can
// only cut the answer short: the connection is aborted so that the client
// sees a broken answer, never a truncated one that parses.
func (h *Handler) writeEncoded(w http.ResponseWriter, r *http.Request, b []byte, fill func(*bufio.Writer) error) {
	head, tail, _ := bytes.Cut(b, []byte(signalsPlaceholder()))
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(answerTimeout))
	w.Header().Add("Vary", "Accept-Encoding")
	w.Header().Set("Content-Type", "application/json")
	var out io.Writer = w
	var zw *gzip.Writer
	if acceptsGzip(r) {
		// Signals make answers of tens of megabytes (60 MB for a 175 s
		// recording): compress whenever the client accepts it.
		w.Header().Set("Content-Encoding", "gzip")
		zw, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
		out = zw
	}
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(out, 64<<10)
	bw.Write(head)
	if fill != nil {
		if err := fill(bw); err != nil {
			h.log().Warn("answer cut short", "path", r.URL.Path, "error", err)
			panic(http.ErrAbortHandler)
		}
	} else if len(tail) < len(b) {
		bw.WriteString("{}")
	}
	bw.Write(tail)
	bw.WriteByte('\n')
	if err := bw.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			panic(http.ErrAbortHandler)
		}
	}
}

func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(strings.TrimSpace(q), " ", "") != "q=0" {
			return true
		}
	}
	return false
}
