package c3d

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error a malformed or short file causes wraps one
// of them (test with errors.Is) inside a *FormatError that says where and
// what; an error of the io.ReaderAt itself is returned wrapped (with the
// section and offset read), not as a FormatError.
var (
	// ErrNotC3D: the bytes are not a C3D file (bad header or parameter section).
	ErrNotC3D = errors.New("not a C3D file")
	// ErrTruncated: the file ends before a section it declares.
	ErrTruncated = errors.New("truncated C3D file")
	// ErrCorrupt: a structure is present but its values are impossible.
	ErrCorrupt = errors.New("corrupt C3D file")
	// ErrUnsupported: a valid file uses a feature this package does not
	// read. No reader returns it today: no feature of the format is refused.
	ErrUnsupported = errors.New("unsupported C3D feature")
	// ErrChannel: a channel or point index is out of range.
	ErrChannel = errors.New("no such channel")
)

// FormatError describes a problem found in a C3D file.
type FormatError struct {
	Kind   error  // one of the sentinel errors above
	Where  string // the section or parameter concerned, e.g. "header", "parameter ANALOG:SCALE"
	Offset int64  // byte offset in the file, or -1 when not meaningful
	Msg    string
}

func (e *FormatError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("c3d: %s: %s at byte %d: %s", e.Kind, e.Where, e.Offset, e.Msg)
	}
	return fmt.Sprintf("c3d: %s: %s: %s", e.Kind, e.Where, e.Msg)
}

func (e *FormatError) Unwrap() error { return e.Kind }

func errorf(kind error, where string, off int64, format string, args ...any) error {
	return &FormatError{Kind: kind, Where: where, Offset: off, Msg: fmt.Sprintf(format, args...)}
}
