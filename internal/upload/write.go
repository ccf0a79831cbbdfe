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

// writeAnswer writes the answer, gzip-compressed when the client accepts
// it: everything but the signals is encoded at once (a few hundred kB at
// most), emg_signals is streamed from a.file channel by channel (a.file
// nil: {}). Once the status is written a failure can only cut the answer
// short: the connection is aborted so that the client sees a broken
// answer, never a truncated one that parses.
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
	head, tail, _ := bytes.Cut(b, []byte(signalsPlaceholder))

	rc := http.NewResponseController(w)
	extend := func() error { return rc.SetWriteDeadline(time.Now().Add(answerTimeout)) }
	_ = extend()
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
	if a.file != nil {
		if err := writeSignals(r.Context(), bw, a.file, func() error { _ = extend(); return nil }); err != nil {
			h.log().Warn("upload answer cut short", "file", res.SourceFilename, "error", err)
			panic(http.ErrAbortHandler)
		}
	} else {
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
	return nil
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
