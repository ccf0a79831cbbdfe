package review

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"emgd/emg"
	"emgd/internal/auth"
)

// The charts are drawn here as SVG shapes in a fixed coordinate space;
// the template only writes them out (html/template escapes every text).

type rect struct {
	X, Y, W, H float64
	Class, Tip string
}

type line struct {
	X1, Y1, X2, Y2 float64
	Class, Tip     string
}

type label struct {
	X, Y          float64
	Anchor, Class string
	Text          string
}

type poly struct {
	Points string
	Class  string
}

type legendItem struct{ Class, Label string }

type chart struct {
	Title  string
	W, H   float64
	Rects  []rect
	Lines  []line
	Polys  []poly
	Labels []label
	Legend []legendItem
}

type series struct {
	Name, Class string
	Values      []*float64
}

const (
	chartW, chartH                 = 680.0, 220.0
	padL, padR, padT, padB         = 44.0, 10.0, 10.0, 46.0
	plotW, plotH                   = chartW - padL - padR, chartH - padT - padB
	maxCategoryLabels              = 24
	defaultAxisMax         float64 = 1
)

func f64(v float64) *float64 { return &v }

// niceMax rounds a maximum up to 1, 2 or 5 times a power of ten.
func niceMax(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return defaultAxisMax
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func fmtTick(v float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", v), "0"), ".0")
}

// frame draws the axes, the y ticks and the category labels.
func frame(c *chart, categories []string, yMax float64) {
	for i := 0; i <= 4; i++ {
		v := yMax * float64(i) / 4
		y := padT + plotH - plotH*float64(i)/4
		c.Lines = append(c.Lines, line{X1: padL, Y1: y, X2: padL + plotW, Y2: y, Class: "grid"})
		c.Labels = append(c.Labels, label{X: padL - 4, Y: y + 4, Anchor: "end", Class: "tick", Text: fmtTick(v)})
	}
	n := len(categories)
	step := 1
	if n > maxCategoryLabels {
		step = (n + maxCategoryLabels - 1) / maxCategoryLabels
	}
	for i := 0; i < n; i += step {
		x := padL + plotW*(float64(i)+0.5)/float64(n)
		c.Labels = append(c.Labels, label{X: x, Y: padT + plotH + 14, Anchor: "middle", Class: "cat", Text: categories[i]})
	}
	c.Lines = append(c.Lines, line{X1: padL, Y1: padT + plotH, X2: padL + plotW, Y2: padT + plotH, Class: "axis"})
}

func legend(c *chart, ss []series, extra ...legendItem) {
	for _, s := range ss {
		c.Legend = append(c.Legend, legendItem{s.Class, s.Name})
	}
	c.Legend = append(c.Legend, extra...)
	x := padL
	for _, l := range c.Legend {
		c.Rects = append(c.Rects, rect{X: x, Y: chartH - 14, W: 10, H: 10, Class: l.Class})
		c.Labels = append(c.Labels, label{X: x + 14, Y: chartH - 5, Anchor: "start", Class: "legend", Text: l.Label})
		x += 24 + 7*float64(len([]rune(l.Label)))
	}
}

// barChart draws grouped bars per category, with an optional marker (a
// short line, e.g. the expected count) per category.
func barChart(title string, categories []string, ss []series, markers []*float64, markerName string, yMax float64) chart {
	c := chart{Title: title, W: chartW, H: chartH}
	top := yMax
	for _, s := range ss {
		for _, v := range s.Values {
			if v != nil && *v > top {
				top = *v
			}
		}
	}
	for _, m := range markers {
		if m != nil && *m > top {
			top = *m
		}
	}
	top = niceMax(top)
	frame(&c, categories, top)
	n := float64(len(categories))
	if n == 0 {
		legend(&c, ss)
		return c
	}
	slot := plotW / n
	bw := slot * 0.8 / float64(max(len(ss), 1))
	for i, cat := range categories {
		x0 := padL + slot*float64(i) + slot*0.1
		for j, s := range ss {
			v := s.Values[i]
			if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
				continue
			}
			h := plotH * math.Max(0, *v) / top
			c.Rects = append(c.Rects, rect{X: x0 + bw*float64(j), Y: padT + plotH - h, W: bw, H: h, Class: s.Class,
				Tip: fmt.Sprintf("%s, %s: %s", cat, s.Name, fmtTick(*v))})
		}
		if i < len(markers) && markers[i] != nil {
			y := padT + plotH - plotH*math.Max(0, *markers[i])/top
			c.Lines = append(c.Lines, line{X1: x0 - slot*0.05, Y1: y, X2: x0 + slot*0.85, Y2: y, Class: "marker",
				Tip: fmt.Sprintf("%s, %s: %s", cat, markerName, fmtTick(*markers[i]))})
		}
	}
	var extra []legendItem
	if markers != nil {
		extra = append(extra, legendItem{"marker-key", markerName})
	}
	legend(&c, ss, extra...)
	return c
}

// lineChart draws each series as a line over the categories (gaps where a
// value is missing), with a dot per value.
func lineChart(title string, categories []string, ss []series, yMax float64) chart {
	c := chart{Title: title, W: chartW, H: chartH}
	frame(&c, categories, yMax)
	n := float64(len(categories))
	for _, s := range ss {
		var pts []string
		flush := func() {
			if len(pts) > 1 {
				c.Polys = append(c.Polys, poly{Points: strings.Join(pts, " "), Class: s.Class})
			}
			pts = nil
		}
		for i, v := range s.Values {
			if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
				flush()
				continue
			}
			x := padL + plotW*(float64(i)+0.5)/n
			y := padT + plotH - plotH*math.Min(math.Max(*v, 0), yMax)/yMax
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
			c.Rects = append(c.Rects, rect{X: x - 2.5, Y: y - 2.5, W: 5, H: 5, Class: s.Class + " dot",
				Tip: fmt.Sprintf("%s, %s: %s", categories[i], s.Name, fmtTick(*v))})
		}
		flush()
	}
	legend(&c, ss)
	return c
}

// reportSession is a session's row in a report.
type reportSession struct {
	D        *sessionData
	Recorded string
	Channels []reportChannel
	Scores   []reportScore
}

type reportChannel struct {
	Base, Muscle                                  string
	Contractions, Good, Expected, MVC, Duration   int
	RMS, MAV, MPF, MDF, Fatigue, Threshold, AvgMs string
	Error                                         string
}

type reportScore struct{ Name, Value string }

type keyValue struct{ Key, Value string }

func show(v *float64) string {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return "–"
	}
	a := math.Abs(*v)
	switch {
	case a == 0:
		return "0"
	case a >= 1000 || a < 0.001:
		return fmt.Sprintf("%.3g", *v)
	default:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.4g", *v), "0"), ".")
	}
}

func reportOf(d *sessionData, set Settings) reportSession {
	rs := reportSession{D: d, Recorded: "unknown"}
	if r := d.recordedAt(); r != nil {
		rs.Recorded = strings.Replace(*r, "T", " ", 1)
	}
	for _, base := range d.Bases {
		ch := d.Channels[base]
		rc := reportChannel{Base: base, Contractions: ch.ContractionCount, Good: ch.GoodContractionCount, Expected: d.expected(base),
			MVC: ch.MVCCompliantCount, Duration: ch.DurationCompliantCount, RMS: show(ch.RMS), MAV: show(ch.MAV), MPF: show(ch.MPF),
			MDF: show(ch.MDF), Fatigue: show(ch.FatigueIndexFINSM5), Threshold: show(ch.MVC75Threshold), AvgMs: show(&ch.AvgDurationMs)}
		if m := muscleOf(set, base); m != nil {
			rc.Muscle = *m
		}
		if ch.Errors != nil {
			rc.Error = *ch.Errors
		}
		rs.Channels = append(rs.Channels, rc)
	}
	for _, s := range scoreNames {
		rs.Scores = append(rs.Scores, reportScore{s.name, show(d.score(s.get))})
	}
	return rs
}

var scoreNames = []struct {
	name, class string
	get         func(p *emg.Performance) *float64
}{
	{"Overall", "s1", func(p *emg.Performance) *float64 { return p.OverallScore }},
	{"Compliance", "s2", func(p *emg.Performance) *float64 { return p.ComplianceScore }},
	{"Symmetry", "s3", func(p *emg.Performance) *float64 { return p.SymmetryScore }},
	{"Effort", "s4", func(p *emg.Performance) *float64 { return p.EffortScore }},
	{"Game", "s5", func(p *emg.Performance) *float64 { return p.GameScore }},
}

// metadataRows are the session metadata worth printing (user data:
// escaped by the template).
func metadataRows(d *sessionData) []keyValue {
	var out []keyValue
	add := func(k, v string) {
		if v != "" {
			out = append(out, keyValue{k, v})
		}
	}
	add("Player", d.game("player"))
	add("Game", d.game("name"))
	add("Level", d.game("level"))
	add("Game score", d.game("score"))
	if v, ok := d.Meta["duration_seconds"].(float64); ok {
		add("Duration (s)", show(&v))
	}
	if v, ok := d.Meta["sampling_rate"].(float64); ok {
		add("Sampling rate (Hz)", show(&v))
	}
	add("File", d.S.ObjectKey)
	return out
}

// paramRows are the analysis's parameters as given (the defaults apply to
// the rest).
func paramRows(d *sessionData) []keyValue {
	var out []keyValue
	if d.A == nil {
		return out
	}
	var m map[string]any
	_ = json.Unmarshal(d.A.Params, &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b, _ := json.Marshal(m[k])
		out = append(out, keyValue{k, string(b)})
	}
	return out
}

type sessionPage struct {
	Title     string
	Generated string
	S         reportSession
	Meta      []keyValue
	Params    []keyValue
	Charts    []chart
	Replaced  bool
}

type patientPage struct {
	Title     string
	Generated string
	Patient   string
	Range     string
	Settings  Settings
	Sessions  []reportSession
	Weeks     []TrendWeek
	Charts    []chart
}

func sessionCharts(rs reportSession) []chart {
	var cats []string
	var all, good, mvc, dur, exp []*float64
	for _, c := range rs.Channels {
		name := c.Base
		if c.Muscle != "" {
			name += " " + c.Muscle
		}
		cats = append(cats, name)
		all = append(all, f64(float64(c.Contractions)))
		good = append(good, f64(float64(c.Good)))
		mvc = append(mvc, f64(float64(c.MVC)))
		dur = append(dur, f64(float64(c.Duration)))
		exp = append(exp, f64(float64(c.Expected)))
	}
	out := []chart{barChart("Contractions per channel", cats, []series{{"Contractions", "c0", all}, {"Good", "c1", good},
		{"MVC met", "c2", mvc}, {"Duration met", "c3", dur}}, exp, "Expected", 1)}
	var scats []string
	var vals []*float64
	for _, s := range scoreNames {
		scats = append(scats, s.name)
		vals = append(vals, rs.D.score(s.get))
	}
	out = append(out, barChart("Scores (0-100)", scats, []series{{"Score", "s1", vals}}, nil, "", 100))
	return out
}

func patientCharts(sessions []reportSession, weeks []TrendWeek) []chart {
	var cats []string
	basesSeen := map[string]string{}
	for _, s := range sessions {
		cats = append(cats, s.D.day().Format("01-02"))
		for _, c := range s.Channels {
			if basesSeen[c.Base] == "" || c.Muscle != "" {
				basesSeen[c.Base] = c.Base
				if c.Muscle != "" {
					basesSeen[c.Base] = c.Base + " " + c.Muscle
				}
			}
		}
	}
	bases := make([]string, 0, len(basesSeen))
	for b := range basesSeen {
		bases = append(bases, b)
	}
	sort.Strings(bases)
	var out []chart
	for _, b := range bases {
		good := make([]*float64, len(sessions))
		all := make([]*float64, len(sessions))
		exp := make([]*float64, len(sessions))
		for i, s := range sessions {
			for _, c := range s.Channels {
				if c.Base == b {
					good[i], all[i], exp[i] = f64(float64(c.Good)), f64(float64(c.Contractions)), f64(float64(c.Expected))
				}
			}
		}
		out = append(out, barChart(basesSeen[b]+": good and expected contractions", cats,
			[]series{{"Contractions", "c0", all}, {"Good", "c1", good}}, exp, "Expected", 1))
	}
	var ss []series
	for _, sn := range scoreNames[:4] {
		vals := make([]*float64, len(sessions))
		for i, s := range sessions {
			vals[i] = s.D.score(sn.get)
		}
		ss = append(ss, series{sn.name, sn.class, vals})
	}
	out = append(out, lineChart("Scores over time (0-100)", cats, ss, 100))
	var wcats []string
	var done, presc []*float64
	for _, w := range weeks {
		wcats = append(wcats, w.Week[5:])
		done = append(done, f64(float64(w.Sessions)))
		presc = append(presc, f64(float64(w.Prescribed)))
	}
	out = append(out, barChart("Weekly adherence: sessions done and prescribed", wcats, []series{{"Sessions", "c1", done}}, presc, "Prescribed", 1))
	return out
}

func (h *handler) render(w http.ResponseWriter, name string, page any) {
	var buf bytes.Buffer
	if err := templates().ExecuteTemplate(&buf, name, page); err != nil {
		h.log.Error("report", "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]any{"success": false, "error": "the report could not be drawn"})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
	w.WriteHeader(http.StatusOK)
	w.Write(buf.Bytes())
}

func generated() string { return time.Now().UTC().Format("2006-01-02 15:04 UTC") }

func (h *handler) sessionReport(w http.ResponseWriter, r *http.Request) {
	d, err := h.session(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	set, err := h.set.Settings(r.Context(), d.S.PatientCode)
	if err == nil {
		err = auth.Audit(r, actionReportRead, d.S.PatientCode, d.S.ID)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rs := reportOf(d, set)
	h.render(w, "session", sessionPage{Title: "Session " + d.S.SessionCode, Generated: generated(), S: rs,
		Meta: metadataRows(d), Params: paramRows(d), Charts: sessionCharts(rs), Replaced: d.S.SupersededBy != ""})
}

func (h *handler) patientReport(w http.ResponseWriter, r *http.Request) {
	code, set, err := h.patient(r)
	var dr dateRange
	if err == nil {
		dr, err = parseRange(r)
	}
	var tr *TrendsResponse
	var all []*sessionData
	if err == nil {
		tr, all, err = h.trendsOf(r.Context(), code, set, dr)
	}
	if err == nil {
		err = auth.Audit(r, actionReportRead, code, "")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rng := "all recordings"
	switch {
	case !dr.From.IsZero() && !dr.To.IsZero():
		rng = dr.From.Format(time.DateOnly) + " to " + dr.To.Format(time.DateOnly)
	case !dr.From.IsZero():
		rng = "from " + dr.From.Format(time.DateOnly)
	case !dr.To.IsZero():
		rng = "until " + dr.To.Format(time.DateOnly)
	}
	page := patientPage{Title: "Patient " + code, Generated: generated(), Patient: code, Range: rng, Settings: set, Weeks: tr.Weeks}
	for _, d := range all {
		page.Sessions = append(page.Sessions, reportOf(d, set))
	}
	page.Charts = patientCharts(page.Sessions, tr.Weeks)
	h.render(w, "patient", page)
}

//go:embed report.html
var reportTemplates string

// templates are parsed on first use.
var templates = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("report").Funcs(template.FuncMap{
		"f":    func(v float64) string { return fmt.Sprintf("%.1f", v) },
		"show": show,
	}).Parse(reportTemplates))
})
