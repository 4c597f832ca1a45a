package trainer

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The AdamW SIMD kernel must agree with the scalar code for every length
// (the axpy and bag kernels are tested in internal/vec).
func TestKernelsMatchScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 70; n++ {
		x := make([]float32, n)
		y := make([]float32, n)
		for i := range x {
			x[i], y[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
		}
		// AdamW: SIMD vs scalar.
		h := &hyper{b1: 0.9, b2: 0.999, eps: 1e-8, step: 3, scale: 0.5}
		h.c1, h.c2 = 1-math.Pow(h.b1, 3), 1-math.Pow(h.b2, 3)
		w1, m1, v1 := append([]float32(nil), x...), make([]float32, n), make([]float32, n)
		for i := range v1 {
			m1[i], v1[i] = float32(r.NormFloat64()), float32(r.Float64())
		}
		w2, m2, v2 := append([]float32(nil), w1...), append([]float32(nil), m1...), append([]float32(nil), v1...)
		adamUpdate(w1, y, m1, v1, 1e-2, 0.1, h)
		old := useAVX2
		useAVX2 = false
		adamUpdate(w2, y, m2, v2, 1e-2, 0.1, h)
		useAVX2 = old
		for i := range w1 {
			if math.Abs(float64(w1[i]-w2[i])) > 1e-6 || math.Abs(float64(m1[i]-m2[i])) > 1e-6 || math.Abs(float64(v1[i]-v2[i])) > 1e-6 {
				t.Fatalf("adam n=%d [%d]: w %g/%g m %g/%g v %g/%g", n, i, w1[i], w2[i], m1[i], m2[i], v1[i], v2[i])
			}
		}
	}
}
