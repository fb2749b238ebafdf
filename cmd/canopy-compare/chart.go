package main

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
)

// The chart: three panels over the same cells (workload × clients): ops/s
// and p99 of both systems on log scales, and the Canopy/ZooKeeper ratio
// with a line at 1.0.
const (
	chartW     = 1400
	chartH     = 1260
	marginL    = 90
	marginR    = 20
	panelPitch = 410
	plotTop    = 40 // from a panel's top to its plot
	plotH      = 300
	textScale  = 2
)

var (
	colCanopy = color.RGBA{33, 113, 181, 255}
	colZK     = color.RGBA{230, 126, 34, 255}
	colBetter = color.RGBA{56, 142, 60, 255}
	colWorse  = color.RGBA{198, 40, 40, 255}
	colAxis   = color.RGBA{60, 60, 60, 255}
	colGrid   = color.RGBA{220, 220, 220, 255}
	colText   = color.RGBA{20, 20, 20, 255}
)

// shortName is a workload's label under its bars.
var shortName = map[string]string{
	wlCreate: "CREATE", wlSet: "SET", wlGet: "GET", wlStaleGet: "STALE",
	wlMixed: "MIXED", wlSession: "SESSION", wlWatch: "WATCH", wlLock: "LOCK",
}

// chartPNG draws cells as a PNG.
func chartPNG(cells []cell) ([]byte, error) {
	img := image.NewRGBA(image.Rect(0, 0, chartW, chartH))
	fillRect(img, 0, 0, chartW, chartH, color.White)
	ops := func(m measure) float64 { return m.OpsPerSec }
	p99 := func(m measure) float64 { return m.P99ms }
	logPanel(img, 10, "OPS/S, LOG SCALE (HIGHER IS BETTER)", cells, ops, formatCount)
	logPanel(img, 10+panelPitch, "P99 LATENCY MS, LOG SCALE (LOWER IS BETTER)", cells, p99, formatMs)
	ratioPanel(img, 10+2*panelPitch, cells)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func plotW() int { return chartW - marginL - marginR }

// groupX is the left edge and width of cell i's group of bars.
func groupX(i, n int) (int, int) {
	w := plotW() / max(n, 1)
	return marginL + i*w, w
}

// xLabels writes each cell's clients under its group and each workload's
// name under its run of cells, with a separator between workloads.
func xLabels(img *image.RGBA, top int, cells []cell) {
	bottom := top + plotTop + plotH
	n := len(cells)
	for i := 0; i < n; {
		j := i
		for j < n && cells[j].Workload == cells[i].Workload {
			j++
		}
		x0, _ := groupX(i, n)
		x1, _ := groupX(j, n)
		name := shortName[cells[i].Workload]
		if name == "" {
			name = strings.ToUpper(cells[i].Workload)
		}
		drawText(img, (x0+x1-textWidth(name, textScale))/2, bottom+24, name, textScale, colText)
		if i > 0 {
			fillRect(img, x0, top+plotTop, 1, plotH+36, colGrid)
		}
		for k := i; k < j; k++ {
			gx, gw := groupX(k, n)
			lbl := fmt.Sprint(cells[k].Clients)
			if isLatency(cells[k].Workload) {
				lbl = "1 PAIR"
			}
			drawText(img, gx+(gw-textWidth(lbl, textScale))/2, bottom+8, lbl, textScale, colText)
		}
		i = j
	}
}

func logPanel(img *image.RGBA, top int, title string, cells []cell, val func(measure) float64, label func(float64) string) {
	drawText(img, marginL, top+8, title, textScale, colText)
	legend(img, top+8)
	lo, hi := math.Inf(1), 0.0
	for _, c := range cells {
		for _, v := range []float64{val(c.Canopy), val(c.ZooKeeper)} {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if hi == 0 {
		lo, hi = 1, 10
	}
	eLo, eHi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if eHi <= eLo {
		eHi = eLo + 1
	}
	bottom := top + plotTop + plotH
	y := func(v float64) int {
		f := (math.Log10(v) - eLo) / (eHi - eLo)
		return bottom - int(f*plotH)
	}
	for e := eLo; e <= eHi; e++ {
		v := math.Pow(10, e)
		gy := y(v)
		fillRect(img, marginL, gy, plotW(), 1, colGrid)
		s := label(v)
		drawText(img, marginL-8-textWidth(s, textScale), gy-5, s, textScale, colText)
	}
	n := len(cells)
	for i, c := range cells {
		gx, gw := groupX(i, n)
		bw := gw * 35 / 100
		for k, m := range []measure{c.Canopy, c.ZooKeeper} {
			v := val(m)
			if v <= 0 {
				continue
			}
			col := colCanopy
			if k == 1 {
				col = colZK
			}
			by := y(v)
			fillRect(img, gx+gw*12/100+k*bw, by, bw, bottom-by, col)
		}
	}
	axes(img, top)
	xLabels(img, top, cells)
}

func ratioPanel(img *image.RGBA, top int, cells []cell) {
	drawText(img, marginL, top+8, "CANOPY / ZOOKEEPER (ABOVE 1.0: CANOPY BETTER. OPS/S, OR P50 FOR WATCH AND LOCK)", textScale, colText)
	hiR := 2.0
	for _, c := range cells {
		hiR = math.Max(hiR, c.Ratio*1.15)
	}
	hiR = math.Ceil(hiR*2) / 2
	bottom := top + plotTop + plotH
	y := func(v float64) int { return bottom - int(v/hiR*plotH) }
	step := 0.5
	if hiR > 4 {
		step = 1
	}
	for v := 0.0; v <= hiR+1e-9; v += step {
		gy := y(v)
		fillRect(img, marginL, gy, plotW(), 1, colGrid)
		s := fmt.Sprintf("%.1f", v)
		drawText(img, marginL-8-textWidth(s, textScale), gy-5, s, textScale, colText)
	}
	n := len(cells)
	for i, c := range cells {
		gx, gw := groupX(i, n)
		if c.Ratio <= 0 {
			drawText(img, gx+(gw-textWidth("N/A", textScale))/2, bottom-16, "N/A", textScale, colText)
			continue
		}
		col := colBetter
		if c.Ratio < 1 {
			col = colWorse
		}
		bw := gw * 50 / 100
		by := y(c.Ratio)
		fillRect(img, gx+(gw-bw)/2, by, bw, bottom-by, col)
		s := fmt.Sprintf("%.2f", c.Ratio)
		drawText(img, gx+(gw-textWidth(s, textScale))/2, by-14, s, textScale, colText)
	}
	// The line at 1.0, dashed.
	ly := y(1)
	for x := marginL; x < marginL+plotW(); x += 12 {
		fillRect(img, x, ly-1, 7, 2, colText)
	}
	axes(img, top)
	xLabels(img, top, cells)
}

func axes(img *image.RGBA, top int) {
	fillRect(img, marginL, top+plotTop, 1, plotH+1, colAxis)
	fillRect(img, marginL, top+plotTop+plotH, plotW(), 1, colAxis)
}

func legend(img *image.RGBA, y int) {
	x := chartW - marginR - 260
	fillRect(img, x, y, 14, 10, colCanopy)
	drawText(img, x+20, y, "CANOPY", textScale, colText)
	x += 120
	fillRect(img, x, y, 14, 10, colZK)
	drawText(img, x+20, y, "ZOOKEEPER", textScale, colText)
}

// formatCount writes a power of ten as 1, 10, 100, 1K, 10K, ...
func formatCount(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%gM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%gK", v/1e3)
	}
	return fmt.Sprintf("%g", v)
}

func formatMs(v float64) string { return fmt.Sprintf("%g", v) }
