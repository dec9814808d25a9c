package main

import (
	_ "embed"
	"html/template"
	"io"
	"strconv"

	"github.com/ageassure/ageassure/service/logentry"
)

// reportHTML is the report page: one file, inline CSS and SVG, no script,
// no external asset, so it can be archived and opened offline.
//
//go:embed audit_report.html.tmpl
var reportHTML string

// decisionColors colour the decisions consistently in every chart.
var decisionColors = map[string]string{
	logentry.DecisionAllow:                          "#2e7d32",
	logentry.DecisionParentalConsentRequired:        "#f9a825",
	logentry.DecisionAdditionalVerificationRequired: "#ef6c00",
	logentry.DecisionDeny:                           "#c62828",
}

var reportTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":       pct,
	"decisions": logentry.Decisions,
	"color":     func(d string) string { return decisionColors[d] },
	"bars":      stackBars,
	"rateBars":  rateBars,
}).Parse(reportHTML))

// bar is one rectangle of an SVG chart.
type bar struct {
	X, Y, W, H float64
	Color      string
	Title      string
}

// column is one labelled stack in a chart.
type column struct {
	Label string
	X     float64
	Bars  []bar
}

const chartW, chartH = 720.0, 200.0

// stackBars lays out one stacked column per row (decisions stacked).
func stackBars(rows []*reportRow, byJurisdiction bool) []column {
	maxTotal := 1
	for _, r := range rows {
		maxTotal = max(maxTotal, r.Total)
	}
	n := max(len(rows), 1)
	w := chartW / float64(n)
	cols := make([]column, 0, len(rows))
	for i, r := range rows {
		label := r.Day
		if byJurisdiction {
			label = r.Jurisdiction
		}
		c := column{Label: label, X: float64(i)*w + w/2}
		y := chartH
		for _, d := range logentry.Decisions() {
			h := float64(r.Counts[d]) / float64(maxTotal) * chartH
			if h == 0 {
				continue
			}
			y -= h
			c.Bars = append(c.Bars, bar{X: float64(i)*w + w*0.15, Y: y, W: w * 0.7, H: h, Color: decisionColors[d],
				Title: label + " " + d + ": " + itoa(r.Counts[d])})
		}
		cols = append(cols, c)
	}
	return cols
}

// rateBars lays out escalation and consent rates side by side per row.
func rateBars(rows []*reportRow) []column {
	n := max(len(rows), 1)
	w := chartW / float64(n)
	cols := make([]column, 0, len(rows))
	for i, r := range rows {
		c := column{Label: r.Jurisdiction, X: float64(i)*w + w/2}
		for j, v := range []struct {
			rate  float64
			color string
			name  string
		}{{r.EscalationRate(), decisionColors[logentry.DecisionAdditionalVerificationRequired], "escalation"},
			{r.ConsentRate(), decisionColors[logentry.DecisionParentalConsentRequired], "consent"}} {
			h := v.rate * chartH
			c.Bars = append(c.Bars, bar{X: float64(i)*w + w*0.15 + float64(j)*w*0.35, Y: chartH - h, W: w * 0.35, H: h,
				Color: v.color, Title: r.Jurisdiction + " " + v.name + " rate: " + pct(v.rate)})
		}
		cols = append(cols, c)
	}
	return cols
}

func itoa(n int) string { return strconv.Itoa(n) }

// writeHTML renders the report page.
func writeHTML(w io.Writer, rep *report) error {
	return reportTmpl.Execute(w, rep)
}
