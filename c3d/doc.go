// Package c3d reads and writes C3D files, the biomechanics format that
// motion-capture systems and EMG recorders (among them the GHOSTLY game)
// store recordings in.
//
// The package uses the standard library only and imposes no I/O policy: it
// works on an io.ReaderAt and a size, so a file, a byte slice or a ranged
// reader over object storage all serve.
//
// Open decodes the 512-byte header and the parameter section and never
// touches the data section, so its cost does not grow with the recording.
// The File it returns gives typed access to every group and parameter
// (Parameters.Param, Parameter.Strings/Ints/Uints/Float64s), and the decoded
// facts: processor (Intel, DEC, MIPS), storage (16-bit integer or 32-bit
// float), points (count, rate, scale, labels), analog channels (labels,
// descriptions, units, rate, scales, offsets, general scale), frames,
// samples per channel, duration, header events and the EVENT group.
//
// Data are read on demand. C3D interleaves channels frame by frame, so
// ReadAnalog makes one streaming pass over the data section in bounded
// memory and decodes only the channel asked for; ReadAnalogRange reads only
// the frames that hold a sample range; ReadAnalogChannels and ReadAllAnalog
// decode several channels in one pass; ReadPoint and ReadFrames give points
// (x, y, z, residual, camera mask, validity). Analog values are
// (raw - OFFSET) * SCALE * GEN_SCALE, with raw samples and offsets read as
// uint16 when ANALOG:FORMAT is UNSIGNED.
//
// Files in the wild break the format in known ways; Open documents the rule
// it applies to each (frame counts above 65535 or stated as 0, missing
// rates, parameter sections at any block, LABELS2.. continuations, offsets
// of -32768 without ANALOG:FORMAT) and reports what it did in
// File.Warnings. Malformed input gives a *FormatError wrapping ErrNotC3D,
// ErrTruncated or ErrCorrupt, a channel or point out of range one wrapping
// ErrChannel, and an error of the io.ReaderAt comes back wrapped; nothing is
// allocated beyond what the file's size justifies.
//
// NewWriter writes files for every processor and storage format, with
// continuation parameters for more than 255 channels and 32-bit frame
// counts for more than 65535 frames.
package c3d
