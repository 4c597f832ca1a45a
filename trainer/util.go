package trainer

import (
	"bytes"
	"io"
	"math"

	"github.com/twinsearch/twin/internal/frame"
	"gonum.org/v1/plot/vg/vgimg"
)

// noBest is the best dev metric before any evaluation (JSON cannot hold -Inf).
const noBest = -math.MaxFloat64

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func saveImage(path string, img *vgimg.Canvas) error {
	return frame.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}
