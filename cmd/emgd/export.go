package main

import (
	"bufio"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"emgd/c3d"
)

func cmdExport(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("export", "--csv [-o OUT] FILE", stderr)
	asCSV := fs.Bool("csv", false, "write CSV: time_s then one column per analog channel (the only format)")
	out := fs.String("o", "", "write to this file instead of standard output")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if !*asCSV || len(files) != 1 {
		fs.Usage()
		return 2
	}
	f, fh, err := openC3D(files[0])
	if err != nil {
		fmt.Fprintf(stderr, "emgd export: %s: %v\n", files[0], err)
		return 1
	}
	defer fh.Close()
	w := stdout
	var outFile *os.File
	if *out != "" {
		outFile, err = os.Create(*out)
		if err != nil {
			fmt.Fprintf(stderr, "emgd export: %v\n", err)
			return 1
		}
		w = outFile
	}
	err = exportCSV(w, f)
	if outFile != nil {
		if cerr := outFile.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(*out)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "emgd export: %s: %v\n", files[0], err)
		return 1
	}
	return 0
}

// exportCSV streams every analog sample as a CSV row: time_s = sample index
// / analog rate, then each channel's scaled value at full precision.
func exportCSV(w io.Writer, f *c3d.File) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := csv.NewWriter(bw)
	header := append([]string{"time_s"}, f.Analog.Labels...)
	if err := cw.Write(header); err != nil {
		return err
	}
	cw.Flush()
	n := f.Analog.Count
	rate := f.Analog.Rate
	var line []byte
	k := 0
	err := f.ReadFrames(func(fr *c3d.Frame) error {
		for s := 0; s < f.Analog.SamplesPerFrame; s++ {
			line = line[:0]
			t := 0.0
			if rate > 0 {
				t = float64(k) / rate
			}
			line = strconv.AppendFloat(line, t, 'g', -1, 64)
			for ch := 0; ch < n; ch++ {
				line = append(line, ',')
				line = strconv.AppendFloat(line, fr.Analog[s*n+ch], 'g', -1, 64)
			}
			line = append(line, '\n')
			if _, err := bw.Write(line); err != nil {
				return err
			}
			k++
		}
		return nil
	})
	if err != nil {
		return err
	}
	return bw.Flush()
}
