package web

import (
	"fmt"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/config"
	"github.com/cutover/cutover/internal/store"
)

// The charts are inline SVG drawn by the server: no chart library, and
// a live update is just a new fragment. Coordinates are in a fixed
// viewBox that CSS scales to the page's width; deployment.html's
// traffic chart has the same numbers.
const (
	chartW, chartH         = 800, 220
	chartLeft, chartTop    = 44, 10
	chartPlotW, chartPlotH = chartW - chartLeft - 10, chartH - chartTop - 28
)

// trafficChart is production traffic of the old and new revision over
// the deployment's life, as step lines.
type trafficChart struct {
	NewShare  int // the new revision's share now, percent
	OldShare  int
	Points    string // "seconds:percent ..." of every change, for tests and curious people
	NewLine   string // SVG polyline points
	OldLine   string
	Start     string // axis labels
	End       string
	Span      string
	Gridlines []gridline
}

type gridline struct {
	Y     int
	Label string
}

// newTrafficChart plots the production weights in history from start
// to end. newGroup is the target group of the deployed revision; before
// its first weight change the old revision has all traffic, or, for an
// app's first deployment, nothing serves.
func newTrafficChart(start, end time.Time, history []store.WeightChange, newGroup string, first bool) trafficChart {
	span := max(end.Sub(start), time.Second)
	x := func(t time.Time) int {
		off := min(max(t.Sub(start), 0), span)
		return chartLeft + int(float64(chartPlotW)*float64(off)/float64(span))
	}
	y := func(pct int) int { return chartTop + chartPlotH - chartPlotH*pct/100 }

	c := trafficChart{Start: formatClock(start), End: formatClock(end), Span: formatDuration(span)}
	for _, p := range []int{0, 50, 100} {
		c.Gridlines = append(c.Gridlines, gridline{Y: y(p), Label: fmt.Sprintf("%d%%", p)})
	}
	pct, oldPct := 0, 100
	if first {
		oldPct = 0
	}
	var newPts, oldPts, points []string
	add := func(t time.Time) {
		newPts = append(newPts, fmt.Sprintf("%d,%d", x(t), y(pct)))
		oldPts = append(oldPts, fmt.Sprintf("%d,%d", x(t), y(oldPct)))
	}
	add(start)
	for _, wc := range history {
		if wc.Listener != "production" {
			continue
		}
		total := 0
		for _, w := range wc.Weights {
			total += w
		}
		if total == 0 {
			continue
		}
		add(wc.At) // the step's corner
		pct = wc.Weights[newGroup] * 100 / total
		oldPct = 100 - pct
		add(wc.At)
		points = append(points, fmt.Sprintf("%.1f:%d", wc.At.Sub(start).Seconds(), pct))
	}
	add(end)
	c.NewShare, c.OldShare = pct, oldPct
	c.NewLine = strings.Join(newPts, " ")
	c.OldLine = strings.Join(oldPts, " ")
	c.Points = strings.Join(points, " ")
	return c
}

// metricPanel is one metric of both task sets, with the alarm threshold.
type metricPanel struct {
	Title     string // "Error rate", "p99 latency"
	Window    string
	Rows      []metricRow
	Threshold string // "" without an alarm on this metric
	ThreshPct int    // where the threshold line is drawn, in percent of the bar's track
	Alarm     bool   // the new task set is above the threshold
}

type metricRow struct {
	Label    string // "old (blue)", "new (green)"
	Role     string // "old", "new"
	Value    string
	Requests int64
	BarPct   int // the bar's length, in percent of the track
}

// metricPanels reads the error rate and p99 of both target groups over
// the window of the deployment's alarms (30s when none is set).
func metricPanels(m Metrics, app string, g groups, alarms []config.Alarm) []metricPanel {
	window := 30 * time.Second
	for _, a := range alarms {
		if a.For > 0 {
			window = a.For
			break
		}
	}
	sets := []panelSet{{label: "new (" + g.New + ")", role: "new", group: g.New}}
	if !g.rolling() && g.Old != "" {
		sets = []panelSet{{label: "old (" + g.Old + ")", role: "old", group: g.Old}, sets[0]}
	}
	for i, s := range sets {
		ws := m.Window(app+"-"+s.group, window)
		sets[i].errRate, sets[i].p99, sets[i].reqs = ws.ErrorRate, ws.P99, ws.Requests
	}
	var panels []metricPanel
	for _, metric := range []string{config.MetricErrorRate, config.MetricLatencyP99} {
		panels = append(panels, panelFor(metric, sets, alarms, window))
	}
	return panels
}

// panelSet is one task set's row in the metric panels, with what its
// target group measured over the window.
type panelSet struct {
	label, role, group string

	errRate float64
	p99     time.Duration
	reqs    int64
}

// value is the set's figure for metric: a fraction, or seconds.
func (s panelSet) value(metric string) float64 {
	if metric == config.MetricLatencyP99 {
		return s.p99.Seconds()
	}
	return s.errRate
}

// formatMetric writes a value of metric: a percentage, or a duration.
func formatMetric(metric string, v float64) string {
	if metric == config.MetricLatencyP99 {
		return formatDuration(time.Duration(v * float64(time.Second)))
	}
	return fmt.Sprintf("%.2f%%", v*100)
}

// panelFor draws metric for sets (the old set first, when there is one)
// against the first alarm on it; a relative alarm's threshold is a
// multiple of the first set's value.
func panelFor(metric string, sets []panelSet, alarms []config.Alarm, window time.Duration) metricPanel {
	p := metricPanel{Title: "Error rate", Window: formatDuration(window)}
	scale := 0.01 // 1%, or 10ms
	if metric == config.MetricLatencyP99 {
		p.Title = "p99 latency"
	}
	threshold := -1.0
	for _, a := range alarms {
		if a.Metric != metric {
			continue
		}
		threshold = a.Above
		if a.RelativeToBlue {
			threshold = a.Above * sets[0].value(metric)
		}
		p.Threshold = formatMetric(metric, threshold)
		if a.RelativeToBlue {
			p.Threshold += fmt.Sprintf(" (%g× old)", a.Above)
		}
		break
	}
	for _, s := range sets {
		scale = max(scale, s.value(metric))
	}
	scale = max(scale, threshold) * 1.25
	for _, s := range sets {
		row := metricRow{Label: s.label, Role: s.role, Value: "no requests", Requests: s.reqs}
		if row.Requests > 0 {
			row.Value, row.BarPct = formatMetric(metric, s.value(metric)), int(100*s.value(metric)/scale)
		}
		p.Rows = append(p.Rows, row)
	}
	if threshold >= 0 {
		newest := sets[len(sets)-1]
		p.ThreshPct = int(100 * threshold / scale)
		p.Alarm = newest.value(metric) > threshold && newest.reqs > 0
	}
	return p
}
