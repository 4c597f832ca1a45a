package trainer

import (
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// writePlot draws the training loss (a moving average) and the dev metric
// against the step, one panel each, into a PNG.
func writePlot(path string, recs []Record, metric string) error {
	var loss, dev plotter.XYs
	const win = 20
	var sum float64
	var q []float64
	for _, r := range recs {
		if r.Dev != nil {
			if v, ok := r.Dev[metric]; ok {
				dev = append(dev, plotter.XY{X: float64(r.Step), Y: v})
			}
			continue
		}
		if math.IsNaN(r.Loss) || math.IsInf(r.Loss, 0) {
			continue
		}
		q = append(q, r.Loss)
		sum += r.Loss
		if len(q) > win {
			sum -= q[0]
			q = q[1:]
		}
		loss = append(loss, plotter.XY{X: float64(r.Step), Y: sum / float64(len(q))})
	}
	pl := plot.New()
	pl.Title.Text = "training loss (moving average of 20 steps)"
	pl.X.Label.Text = "step"
	pl.Y.Label.Text = "loss"
	if len(loss) > 0 {
		l, err := plotter.NewLine(loss)
		if err != nil {
			return err
		}
		pl.Add(l)
	}
	pd := plot.New()
	pd.Title.Text = "dev " + metric
	pd.X.Label.Text = "step"
	pd.Y.Label.Text = metric
	if len(dev) > 0 {
		l, pts, err := plotter.NewLinePoints(dev)
		if err != nil {
			return err
		}
		pd.Add(l, pts)
	}
	const w, h = 8 * vg.Inch, 7 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadY: vg.Millimeter * 4, PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{{pl}, {pd}}, tiles, dc)
	pl.Draw(canvases[0][0])
	pd.Draw(canvases[1][0])
	return saveImage(path, img)
}
