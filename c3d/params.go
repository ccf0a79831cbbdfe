package c3d

import (
	"math"
	"strings"
)

// DataType is the element type of a parameter.
type DataType int8

const (
	Char    DataType = -1
	Byte    DataType = 1
	Int16   DataType = 2
	Float32 DataType = 4
)

func (t DataType) String() string {
	switch t {
	case Char:
		return "char"
	case Byte:
		return "byte"
	case Int16:
		return "int16"
	case Float32:
		return "float"
	}
	return "unknown"
}

func (t DataType) size() int {
	if t == Char {
		return 1
	}
	return int(t)
}

// Parameter is one typed parameter of a group. Char parameters hold strings:
// Dims[0] is the length of each string and the other dimensions count them.
type Parameter struct {
	Name        string
	Description string
	Locked      bool
	Type        DataType
	Dims        []int

	chars  []byte    // Char
	ints   []int64   // Byte and Int16, as stored (signed)
	floats []float32 // Float32
}

// Len returns the number of elements: strings for Char, numbers otherwise.
func (p *Parameter) Len() int {
	dims := p.Dims
	if p.Type == Char {
		if len(dims) == 0 {
			return 1
		}
		dims = dims[1:]
	}
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// Strings returns the strings of a Char parameter, each trimmed of trailing
// spaces and NUL bytes (leading spaces kept). Nil for other types.
func (p *Parameter) Strings() []string {
	if p.Type != Char {
		return nil
	}
	raw := p.RawStrings()
	for i, s := range raw {
		raw[i] = TrimLabel(s)
	}
	return raw
}

// RawStrings returns the strings of a Char parameter exactly as stored.
func (p *Parameter) RawStrings() []string {
	if p.Type != Char {
		return nil
	}
	if len(p.Dims) == 0 {
		return []string{string(p.chars)}
	}
	w := p.Dims[0]
	n := p.Len()
	if w == 0 || n == 0 {
		return nil
	}
	n = min(n, len(p.chars)/w)
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		lo, hi := i*w, (i+1)*w
		if hi > len(p.chars) {
			break
		}
		out = append(out, string(p.chars[lo:hi]))
	}
	return out
}

// String returns the first string of a Char parameter (trimmed), or "".
func (p *Parameter) String() string {
	if s := p.Strings(); len(s) > 0 {
		return s[0]
	}
	return ""
}

// Ints returns the values as signed integers (floats truncated toward zero,
// non-finite floats as 0). Nil for Char.
func (p *Parameter) Ints() []int {
	switch p.Type {
	case Byte, Int16:
		out := make([]int, len(p.ints))
		for i, v := range p.ints {
			out[i] = int(v)
		}
		return out
	case Float32:
		out := make([]int, len(p.floats))
		for i, v := range p.floats {
			out[i] = floatToInt(float64(v))
		}
		return out
	}
	return nil
}

// Uints returns Byte and Int16 values read as unsigned (a count of 40000
// stored in an int16 reads 40000, not -25536). Floats as in Ints.
func (p *Parameter) Uints() []int {
	switch p.Type {
	case Byte:
		out := make([]int, len(p.ints))
		for i, v := range p.ints {
			out[i] = int(uint8(v))
		}
		return out
	case Int16:
		out := make([]int, len(p.ints))
		for i, v := range p.ints {
			out[i] = int(uint16(v))
		}
		return out
	}
	return p.Ints()
}

// Float64s returns the values as float64 (integers signed). Nil for Char.
func (p *Parameter) Float64s() []float64 {
	switch p.Type {
	case Byte, Int16:
		out := make([]float64, len(p.ints))
		for i, v := range p.ints {
			out[i] = float64(v)
		}
		return out
	case Float32:
		out := make([]float64, len(p.floats))
		for i, v := range p.floats {
			out[i] = float64(v)
		}
		return out
	}
	return nil
}

// Float returns the first value as float64 and whether there is one.
func (p *Parameter) Float() (float64, bool) {
	v := p.Float64s()
	if len(v) == 0 {
		return 0, false
	}
	return v[0], true
}

// Uint returns the first value read unsigned and whether there is one.
func (p *Parameter) Uint() (int, bool) {
	v := p.Uints()
	if len(v) == 0 {
		return 0, false
	}
	return v[0], true
}

func floatToInt(f float64) int {
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<53 {
		return 0
	}
	return int(f)
}

// Value returns the parameter's value for display: a string or []string for
// Char, otherwise a number or a flat []float64/[]int in storage order.
func (p *Parameter) Value() any {
	switch p.Type {
	case Char:
		s := p.Strings()
		if len(p.Dims) <= 1 {
			if len(s) == 0 {
				return ""
			}
			return s[0]
		}
		return s
	case Float32:
		v := p.Float64s()
		if len(p.Dims) == 0 && len(v) == 1 {
			return v[0]
		}
		return v
	default:
		v := p.Ints()
		if len(p.Dims) == 0 && len(v) == 1 {
			return v[0]
		}
		return v
	}
}

// NewStrings makes a Char parameter holding strs, padded with spaces to the
// longest. One string gives a one-dimensional parameter.
func NewStrings(name, desc string, strs ...string) *Parameter {
	w := 0
	for _, s := range strs {
		w = max(w, len(s))
	}
	chars := make([]byte, 0, w*len(strs))
	for _, s := range strs {
		chars = append(chars, s...)
		chars = append(chars, strings.Repeat(" ", w-len(s))...)
	}
	dims := []int{w, len(strs)}
	if len(strs) == 1 {
		dims = []int{w}
	}
	return &Parameter{Name: name, Description: desc, Type: Char, Dims: dims, chars: chars}
}

// NewInts makes an Int16 parameter. With no dims a single value is a scalar
// and several values a one-dimensional array. Values are stored modulo 2^16,
// so counts up to 65535 survive and read back with Uints.
func NewInts(name, desc string, values []int, dims ...int) *Parameter {
	p := &Parameter{Name: name, Description: desc, Type: Int16, Dims: shapeOf(len(values), dims)}
	p.ints = make([]int64, len(values))
	for i, v := range values {
		p.ints[i] = int64(int16(uint16(v)))
	}
	return p
}

// NewBytes makes a Byte parameter (values stored modulo 256).
func NewBytes(name, desc string, values []int, dims ...int) *Parameter {
	p := &Parameter{Name: name, Description: desc, Type: Byte, Dims: shapeOf(len(values), dims)}
	p.ints = make([]int64, len(values))
	for i, v := range values {
		p.ints[i] = int64(int8(uint8(v)))
	}
	return p
}

// NewFloats makes a Float32 parameter.
func NewFloats(name, desc string, values []float64, dims ...int) *Parameter {
	p := &Parameter{Name: name, Description: desc, Type: Float32, Dims: shapeOf(len(values), dims)}
	p.floats = make([]float32, len(values))
	for i, v := range values {
		p.floats[i] = float32(v)
	}
	return p
}

func shapeOf(n int, dims []int) []int {
	if len(dims) > 0 {
		return append([]int(nil), dims...)
	}
	if n == 1 {
		return nil
	}
	return []int{n}
}

// Group is a named parameter group. Files may hold two groups of the same
// name; both are kept, in file order.
type Group struct {
	ID          int // positive group number
	Name        string
	Description string
	Locked      bool
	Params      []*Parameter
}

// Param returns the group's parameter called name (case-insensitive), or nil.
func (g *Group) Param(name string) *Parameter {
	for _, p := range g.Params {
		if strings.EqualFold(p.Name, name) {
			return p
		}
	}
	return nil
}

// Parameters is the parameter section of a file.
type Parameters struct {
	Groups []*Group
}

// Group returns the first group called name (case-insensitive), or nil.
func (ps *Parameters) Group(name string) *Group {
	for _, g := range ps.Groups {
		if strings.EqualFold(g.Name, name) {
			return g
		}
	}
	return nil
}

// Param returns GROUP:NAME, searching every group of that name in file
// order, or nil when absent.
func (ps *Parameters) Param(group, name string) *Parameter {
	if ps == nil {
		return nil
	}
	for _, g := range ps.Groups {
		if strings.EqualFold(g.Name, group) {
			if p := g.Param(name); p != nil {
				return p
			}
		}
	}
	return nil
}

// series gathers NAME, NAME2, NAME3, ... of a group (the continuation
// parameters used for more than 255 entries), in order, stopping at the first
// missing continuation.
func (ps *Parameters) series(group, name string) []*Parameter {
	var out []*Parameter
	if p := ps.Param(group, name); p != nil {
		out = append(out, p)
	} else {
		return nil
	}
	for i := 2; ; i++ {
		p := ps.Param(group, name+itoa(i))
		if p == nil {
			return out
		}
		out = append(out, p)
	}
}

func itoa(i int) string {
	var b [20]byte
	n := len(b)
	for {
		n--
		b[n] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[n:])
		}
	}
}

// TrimLabel trims trailing and leading spaces and NUL bytes from a label.
func TrimLabel(s string) string {
	return strings.Trim(s, " \x00")
}

// parseParams parses a parameter section held in buf (which starts at the
// section's first byte, file offset base).
func parseParams(buf []byte, base int64, c codec) (*Parameters, []string, error) {
	ps := &Parameters{}
	var warnings []string
	type pending struct {
		gid int
		p   *Parameter
	}
	var params []pending
	byID := map[int]*Group{}
	pos := 4
	for pos+2 <= len(buf) {
		nlen := int8(buf[pos])
		if nlen == 0 {
			break
		}
		gid := int(int8(buf[pos+1]))
		n := int(nlen)
		locked := n < 0
		if locked {
			n = -n
		}
		if gid == 0 {
			return nil, nil, errorf(ErrCorrupt, "parameter section", base+int64(pos), "record with group id 0")
		}
		offPos := pos + 2 + n
		if offPos+2 > len(buf) {
			return nil, nil, errorf(ErrTruncated, "parameter section", base+int64(pos), "record runs past the end of the section")
		}
		name := string(buf[pos+2 : offPos])
		if !validName(name) {
			return nil, nil, errorf(ErrCorrupt, "parameter section", base+int64(pos), "invalid name %q", name)
		}
		off := int(c.u16(buf[offPos:]))
		next := offPos + off
		body := offPos + 2
		end := len(buf) // records never run past the next record when its offset is set
		if off != 0 && next <= len(buf) && next > body {
			end = next
		}
		rec := buf[:end]
		if gid < 0 {
			if body+1 > len(rec) {
				return nil, nil, errorf(ErrTruncated, "group "+name, base+int64(body), "no description length")
			}
			dl := int(rec[body])
			desc := ""
			if body+1+dl <= len(rec) {
				desc = string(rec[body+1 : body+1+dl])
			}
			g := &Group{ID: -gid, Name: name, Description: TrimLabel(desc), Locked: locked}
			if _, dup := byID[-gid]; dup {
				warnings = append(warnings, "two groups have id "+itoa(-gid)+"; the later one ("+name+") is kept separately")
			}
			byID[-gid] = g
			ps.Groups = append(ps.Groups, g)
		} else {
			p, err := parseParam(rec, body, name, locked, base, c)
			if err != nil {
				return nil, nil, err
			}
			params = append(params, pending{gid, p})
		}
		if off == 0 {
			break
		}
		if next <= pos+2 { // an offset must move forward
			return nil, nil, errorf(ErrCorrupt, "parameter "+name, base+int64(offPos), "offset %d does not move forward", off)
		}
		pos = next
	}
	// Attach parameters to their groups; a parameter whose group record is
	// missing gets a placeholder group so that it stays reachable.
	for _, pp := range params {
		g := byID[pp.gid]
		if g == nil {
			g = &Group{ID: pp.gid, Name: "GROUP" + itoa(pp.gid)}
			byID[pp.gid] = g
			ps.Groups = append(ps.Groups, g)
			warnings = append(warnings, "parameter "+pp.p.Name+" belongs to group id "+itoa(pp.gid)+", which is not defined; kept under "+g.Name)
		}
		g.Params = append(g.Params, pp.p)
	}
	return ps, warnings, nil
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func parseParam(rec []byte, body int, name string, locked bool, base int64, c codec) (*Parameter, error) {
	where := "parameter " + name
	if body+2 > len(rec) {
		return nil, errorf(ErrTruncated, where, base+int64(body), "no type and dimensions")
	}
	t := DataType(int8(rec[body]))
	if t != Char && t != Byte && t != Int16 && t != Float32 {
		return nil, errorf(ErrCorrupt, where, base+int64(body), "unknown data type %d", int8(rec[body]))
	}
	nd := int(rec[body+1])
	if nd > 7 {
		return nil, errorf(ErrCorrupt, where, base+int64(body+1), "%d dimensions (at most 7)", nd)
	}
	pos := body + 2
	if pos+nd > len(rec) {
		return nil, errorf(ErrTruncated, where, base+int64(pos), "dimensions run past the record")
	}
	dims := make([]int, nd)
	count := 1
	for i := range dims {
		dims[i] = int(rec[pos+i])
		count *= dims[i]
	}
	pos += nd
	size := count * t.size()
	if pos+size > len(rec) {
		return nil, errorf(ErrTruncated, where, base+int64(pos), "%d data bytes run past the record", size)
	}
	data := rec[pos : pos+size]
	p := &Parameter{Name: name, Locked: locked, Type: t, Dims: dims}
	if nd == 0 {
		p.Dims = nil
	}
	switch t {
	case Char:
		p.chars = append([]byte(nil), data...)
	case Byte:
		p.ints = make([]int64, count)
		for i := range p.ints {
			p.ints[i] = int64(int8(data[i]))
		}
	case Int16:
		p.ints = make([]int64, count)
		for i := range p.ints {
			p.ints[i] = int64(c.i16(data[2*i:]))
		}
	case Float32:
		p.floats = make([]float32, count)
		for i := range p.floats {
			p.floats[i] = c.f32(data[4*i:])
		}
	}
	pos += size
	if pos < len(rec) {
		dl := int(rec[pos])
		if pos+1+dl <= len(rec) {
			p.Description = TrimLabel(string(rec[pos+1 : pos+1+dl]))
		}
	}
	return p, nil
}
