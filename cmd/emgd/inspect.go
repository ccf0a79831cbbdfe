package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strings"

	"emgd/c3d"
)

// openC3D opens a C3D file from disk. The caller closes the returned file.
func openC3D(path string) (*c3d.File, *os.File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	if st.IsDir() {
		fh.Close()
		return nil, nil, fmt.Errorf("%s is a directory", path)
	}
	f, err := c3d.Open(fh, st.Size())
	if err != nil {
		fh.Close()
		return nil, nil, err
	}
	return f, fh, nil
}

// inspectInfo is the JSON document of `emgd inspect --json`.
type inspectInfo struct {
	File              string                `json:"file"`
	FileSizeBytes     int64                 `json:"file_size_bytes"`
	Processor         string                `json:"processor"`
	Storage           string                `json:"storage"`
	PointCount        int                   `json:"point_count"`
	PointRate         float64               `json:"point_rate"`
	PointScale        float64               `json:"point_scale"`
	PointLabels       []string              `json:"point_labels"`
	Frames            int                   `json:"frames"`
	FirstFrame        int                   `json:"first_frame"`
	AnalogCount       int                   `json:"analog_count"`
	AnalogLabels      []string              `json:"analog_labels"`
	AnalogUnits       []string              `json:"analog_units"`
	AnalogRate        float64               `json:"analog_rate"`
	AnalogFormat      string                `json:"analog_format"`
	SamplesPerFrame   int                   `json:"analog_samples_per_frame"`
	SamplesPerChannel int                   `json:"samples_per_channel"`
	DurationSeconds   float64               `json:"duration_seconds"`
	DataStartByte     int64                 `json:"data_start_byte"`
	HeaderEvents      []headerEventJSON     `json:"header_events"`
	Events            []c3d.Event           `json:"events"`
	Warnings          []string              `json:"warnings"`
	Parameters        map[string]*groupJSON `json:"parameters"`
}

type headerEventJSON struct {
	Label   string  `json:"label"`
	Time    float64 `json:"time_seconds"`
	Display bool    `json:"display"`
}

type groupJSON struct {
	Description string                `json:"description"`
	Parameters  map[string]*paramJSON `json:"parameters"`
}

type paramJSON struct {
	Type        string `json:"type"`
	Dimensions  []int  `json:"dimensions"`
	Value       any    `json:"value"`
	Description string `json:"description"`
}

func describe(path string, f *c3d.File) *inspectInfo {
	info := &inspectInfo{
		File: path, FileSizeBytes: f.Size,
		Processor: f.Processor.String(), Storage: f.Storage.String(),
		PointCount: f.Point.Count, PointRate: f.Point.Rate, PointScale: jsonNum(f.Point.Scale), PointLabels: f.Point.Labels,
		Frames: f.Frames, FirstFrame: f.Header.FirstFrame,
		AnalogCount: f.Analog.Count, AnalogLabels: f.Analog.Labels, AnalogUnits: f.Analog.Units,
		AnalogRate: f.Analog.Rate, AnalogFormat: f.Analog.Format, SamplesPerFrame: f.Analog.SamplesPerFrame,
		SamplesPerChannel: f.SamplesPerChannel(), DurationSeconds: f.Duration(), DataStartByte: f.DataStart,
		Events: append([]c3d.Event(nil), f.Events...), Warnings: f.Warnings, Parameters: map[string]*groupJSON{},
	}
	for _, e := range f.Header.Events {
		info.HeaderEvents = append(info.HeaderEvents, headerEventJSON{Label: c3d.TrimLabel(e.Label), Time: jsonNum(float64(e.Time)), Display: e.Display != 0})
	}
	for i := range info.Events {
		info.Events[i].Time = jsonNum(info.Events[i].Time)
	}
	for _, g := range f.Params.Groups {
		gj := info.Parameters[g.Name]
		if gj == nil { // a second group of the same name merges into the first
			gj = &groupJSON{Description: g.Description, Parameters: map[string]*paramJSON{}}
			info.Parameters[g.Name] = gj
		}
		for _, p := range g.Params {
			if _, dup := gj.Parameters[p.Name]; dup {
				continue
			}
			dims := p.Dims
			if dims == nil {
				dims = []int{}
			}
			gj.Parameters[p.Name] = &paramJSON{Type: p.Type.String(), Dimensions: dims, Value: jsonValue(p.Value()), Description: p.Description}
		}
	}
	if info.HeaderEvents == nil {
		info.HeaderEvents = []headerEventJSON{}
	}
	if info.Events == nil {
		info.Events = []c3d.Event{}
	}
	for _, s := range []*[]string{&info.PointLabels, &info.AnalogLabels, &info.AnalogUnits, &info.Warnings} {
		if *s == nil {
			*s = []string{}
		}
	}
	return info
}

// jsonNum maps values JSON cannot hold (NaN, ±Inf) to 0; jsonValue maps
// them to null inside parameter values.
func jsonNum(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	case []float64:
		out := make([]any, len(x))
		for i, f := range x {
			out[i] = jsonValue(f)
		}
		return out
	}
	return v
}

func cmdInspect(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("inspect", "[--json] FILE...", stderr)
	asJSON := fs.Bool("json", false, "print JSON (one object; one per line for several files)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(files) == 0 {
		fs.Usage()
		return 2
	}
	failed := 0
	for _, path := range files {
		f, fh, err := openC3D(path)
		if err != nil {
			failed++
			fmt.Fprintf(stderr, "emgd inspect: %s: %v\n", path, err)
			if *asJSON {
				writeJSONLine(stdout, map[string]string{"file": path, "error": err.Error()}, false)
			}
			continue
		}
		info := describe(path, f)
		fh.Close()
		if *asJSON {
			writeJSONLine(stdout, info, len(files) == 1)
			continue
		}
		printSummary(stdout, info)
	}
	if failed > 0 {
		return 1
	}
	return 0
}

func writeJSONLine(w io.Writer, v any, indent bool) {
	var b []byte
	if indent {
		b, _ = json.MarshalIndent(v, "", "  ")
	} else {
		b, _ = json.Marshal(v)
	}
	w.Write(append(b, '\n'))
}

func printSummary(w io.Writer, in *inspectInfo) {
	fmt.Fprintf(w, "%s\n", in.File)
	fmt.Fprintf(w, "  format      %s processor, %s storage, %d bytes, data from byte %d\n", in.Processor, in.Storage, in.FileSizeBytes, in.DataStartByte)
	fmt.Fprintf(w, "  frames      %d at %g Hz (first frame %d), %.3f s\n", in.Frames, in.PointRate, in.FirstFrame, in.DurationSeconds)
	fmt.Fprintf(w, "  points      %d\n", in.PointCount)
	fmt.Fprintf(w, "  analog      %d channels at %g Hz, %d samples per channel (%d per frame)\n", in.AnalogCount, in.AnalogRate, in.SamplesPerChannel, in.SamplesPerFrame)
	for i, l := range in.AnalogLabels {
		unit := ""
		if i < len(in.AnalogUnits) && in.AnalogUnits[i] != "" {
			unit = " [" + in.AnalogUnits[i] + "]"
		}
		fmt.Fprintf(w, "    %3d  %q%s\n", i+1, l, unit)
	}
	for _, e := range in.HeaderEvents {
		fmt.Fprintf(w, "  event       %s at %g s (header)\n", e.Label, e.Time)
	}
	for _, e := range in.Events {
		fmt.Fprintf(w, "  event       %s %s at %g s\n", e.Context, e.Label, e.Time)
	}
	names := make([]string, 0, len(in.Parameters))
	for n := range in.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "  groups      %s\n", strings.Join(names, ", "))
	for _, warn := range in.Warnings {
		fmt.Fprintf(w, "  warning     %s\n", warn)
	}
}
