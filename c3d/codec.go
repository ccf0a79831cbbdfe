package c3d

import (
	"encoding/binary"
	"math"
)

// Processor is the processor type recorded in the parameter section. It
// decides byte order and floating-point format for the whole file.
type Processor uint8

const (
	Intel Processor = 84 // little-endian integers, IEEE floats
	DEC   Processor = 85 // little-endian integers, VAX F floats
	MIPS  Processor = 86 // big-endian integers, IEEE floats (SGI/MIPS)
)

func (p Processor) String() string {
	switch p {
	case Intel:
		return "intel"
	case DEC:
		return "dec"
	case MIPS:
		return "mips"
	}
	return "unknown"
}

// Valid reports whether p is one of the three processor types of the C3D format.
func (p Processor) Valid() bool { return p == Intel || p == DEC || p == MIPS }

// Storage is the sample storage format of the data section.
type Storage uint8

const (
	// Int stores point coordinates and analog samples as 16-bit integers.
	Int Storage = 1
	// Float stores them as 32-bit floats.
	Float Storage = 2
)

func (s Storage) String() string {
	switch s {
	case Int:
		return "int"
	case Float:
		return "float"
	}
	return "unknown"
}

func (s Storage) wordSize() int {
	if s == Float {
		return 4
	}
	return 2
}

// codec converts between bytes and numbers for one processor type.
type codec struct {
	proc  Processor
	order binary.ByteOrder
}

func newCodec(p Processor) codec {
	if p == MIPS {
		return codec{p, binary.BigEndian}
	}
	return codec{p, binary.LittleEndian}
}

func (c codec) u16(b []byte) uint16 { return c.order.Uint16(b) }
func (c codec) i16(b []byte) int16  { return int16(c.order.Uint16(b)) }

func (c codec) putU16(b []byte, v uint16) { c.order.PutUint16(b, v) }

// f32 decodes a 4-byte float in the processor's format.
func (c codec) f32(b []byte) float32 {
	switch c.proc {
	case DEC:
		return decToFloat(b)
	case MIPS:
		return math.Float32frombits(binary.BigEndian.Uint32(b))
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(b))
}

// putF32 encodes v in the processor's format. Values a VAX F float cannot
// hold are saturated (overflow) or flushed to zero (underflow).
func (c codec) putF32(b []byte, v float32) {
	switch c.proc {
	case DEC:
		floatToDEC(b, v)
	case MIPS:
		binary.BigEndian.PutUint32(b, math.Float32bits(v))
	default:
		binary.LittleEndian.PutUint32(b, math.Float32bits(v))
	}
}

// decToFloat decodes a VAX F_floating value. Its two 16-bit little-endian
// words hold sign, 8-bit exponent (bias 128) and a 0.1m mantissa; with the
// words swapped the bits read as an IEEE single four times too large.
func decToFloat(b []byte) float32 {
	hi := uint32(binary.LittleEndian.Uint16(b[0:2]))
	lo := uint32(binary.LittleEndian.Uint16(b[2:4]))
	bits := hi<<16 | lo
	if bits&0x7f800000 == 0 { // exponent 0: zero (or a reserved operand)
		return 0
	}
	return float32(float64(math.Float32frombits(bits)) / 4)
}

func floatToDEC(b []byte, v float32) {
	f := float64(v) * 4
	if math.IsNaN(f) {
		f = 0
	}
	if f > math.MaxFloat32 {
		f = math.MaxFloat32
	} else if f < -math.MaxFloat32 {
		f = -math.MaxFloat32
	}
	bits := math.Float32bits(float32(f))
	if bits&0x7f800000 == 0 { // too small for VAX F: zero
		bits = 0
	}
	binary.LittleEndian.PutUint16(b[0:2], uint16(bits>>16))
	binary.LittleEndian.PutUint16(b[2:4], uint16(bits))
}
