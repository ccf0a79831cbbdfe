package c3d

// Header is the 512-byte header block, decoded. Counts are read unsigned.
type Header struct {
	ParameterBlock        int     // byte 0: first block of the parameter section (1-based)
	Key                   int     // byte 1: 0x50 in files that follow the format
	PointCount            int     // word 2
	AnalogWordsPerFrame   int     // word 3: analog channels x samples per frame
	FirstFrame            int     // word 4
	LastFrame             int     // word 5
	MaxInterpolationGap   int     // word 6
	ScaleFactor           float32 // words 7-8: negative means float storage
	DataStartBlock        int     // word 9 (1-based), 0 when unknown
	AnalogSamplesPerFrame int     // word 10
	FrameRate             float32 // words 11-12
	LabelRangeKey         int     // word 148 (12345 when a label/range section exists)
	LabelRangeBlock       int     // word 149
	EventLabelKey         int     // word 150 (12345 when event labels are 4 characters)
	Events                []HeaderEvent
}

// HeaderEvent is one of the up to 18 events stored in the header.
type HeaderEvent struct {
	Label   string  // 4 characters as stored
	Time    float32 // seconds
	Display uint8   // display flag byte (0 = off)
}

const maxHeaderEvents = 18

func parseHeader(b []byte, c codec) Header {
	w := func(word int) int { return int(c.u16(b[(word-1)*2:])) }
	f := func(word int) float32 { return c.f32(b[(word-1)*2:]) }
	h := Header{
		ParameterBlock:        int(b[0]),
		Key:                   int(b[1]),
		PointCount:            w(2),
		AnalogWordsPerFrame:   w(3),
		FirstFrame:            w(4),
		LastFrame:             w(5),
		MaxInterpolationGap:   w(6),
		ScaleFactor:           f(7),
		DataStartBlock:        w(9),
		AnalogSamplesPerFrame: w(10),
		FrameRate:             f(11),
		LabelRangeKey:         w(148),
		LabelRangeBlock:       w(149),
		EventLabelKey:         w(150),
	}
	n := w(151)
	if n > maxHeaderEvents {
		n = 0 // not an event count: ignore rather than invent events
	}
	for i := 0; i < n; i++ {
		h.Events = append(h.Events, HeaderEvent{
			Label:   string(b[396+4*i : 396+4*i+4]),
			Time:    c.f32(b[304+4*i:]),
			Display: b[376+i],
		})
	}
	return h
}

func (h *Header) encode(b []byte, c codec) {
	clear(b[:512])
	put := func(word, v int) { c.putU16(b[(word-1)*2:], uint16(v)) }
	b[0] = byte(h.ParameterBlock)
	b[1] = 0x50
	put(2, h.PointCount)
	put(3, h.AnalogWordsPerFrame)
	put(4, h.FirstFrame)
	put(5, h.LastFrame)
	put(6, h.MaxInterpolationGap)
	c.putF32(b[12:], h.ScaleFactor)
	put(9, h.DataStartBlock)
	put(10, h.AnalogSamplesPerFrame)
	c.putF32(b[20:], h.FrameRate)
	put(148, h.LabelRangeKey)
	put(149, h.LabelRangeBlock)
	put(150, 12345)
	put(151, len(h.Events))
	for i, e := range h.Events {
		c.putF32(b[304+4*i:], e.Time)
		b[376+i] = e.Display
		copy(b[396+4*i:396+4*i+4], padRight(e.Label, 4))
	}
}

func padRight(s string, n int) string {
	for len(s) < n {
		s += " "
	}
	return s[:n]
}
