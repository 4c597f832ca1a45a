package trainer

import (
	"math"

	"github.com/twinsearch/twin/internal/vec"
)

// infoNCE32 is InfoNCE computed in float32 with SIMD dot products and
// parallel over anchors, on the traced outputs directly; it writes
// dLoss/dout into s.gOut. It computes the same function as InfoNCE.Eval
// (tested), which stays the float64 reference.
func (s *stepper) infoNCE32(l *InfoNCE, b *batchTexts) float64 {
	nq, np, nn := len(b.Q), len(b.P), len(b.N)
	n, m := nq, np+nn
	d := s.n.dim
	for len(s.gOut) < nq+np+nn {
		s.gOut = append(s.gOut, make([]float32, d))
	}
	out := func(k int) []float32 { return s.traces[k].out }
	cand := func(j int) int { return nq + j } // candidate j -> trace index
	if cap(s.wbuf) < n*m {
		s.wbuf = make([]float32, n*m)
	}
	w := s.wbuf[:n*m]
	inv := 1 / l.Temperature
	losses := make([]float64, s.workers)
	scale := float32(inv / float64(n))
	// Row softmax per anchor: w[i][j] = (p_ij - [i==j]) / (n*T).
	s.parallel(n, func(wk, lo, hi int) {
		logit := make([]float64, m)
		var tot float64
		for i := lo; i < hi; i++ {
			mx := math.Inf(-1)
			for j := 0; j < m; j++ {
				if j >= np && len(b.NegOf) > 0 && b.NegOf[j-np] >= 0 && b.NegOf[j-np] != i {
					logit[j] = math.Inf(-1)
					continue
				}
				logit[j] = float64(vec.Dot(out(i), out(cand(j)))) * inv
				mx = math.Max(mx, logit[j])
			}
			var z float64
			for j := range logit {
				logit[j] = math.Exp(logit[j] - mx)
				z += logit[j]
			}
			tot -= math.Log(logit[i] / z)
			row := w[i*m : (i+1)*m]
			for j := range row {
				p := logit[j] / z
				if j == i {
					p--
				}
				row[j] = float32(p) * scale
			}
		}
		losses[wk] += tot
	})
	var loss float64
	for _, v := range losses {
		loss += v
	}
	loss /= float64(n)
	s.pairGrads(w, n, m, nq)
	if !l.Symmetric {
		return loss
	}
	// Positive -> query direction over the in-batch queries.
	w2 := make([]float32, n*n)
	losses = make([]float64, s.workers)
	s.parallel(n, func(wk, lo, hi int) {
		lg := make([]float64, n)
		var tot float64
		for i := lo; i < hi; i++ {
			mx := math.Inf(-1)
			for j := 0; j < n; j++ {
				lg[j] = float64(vec.Dot(out(cand(i)), out(j))) * inv
				mx = math.Max(mx, lg[j])
			}
			var z float64
			for j := range lg {
				lg[j] = math.Exp(lg[j] - mx)
				z += lg[j]
			}
			tot -= math.Log(lg[i] / z)
			for j := range lg {
				p := lg[j] / z
				if j == i {
					p--
				}
				w2[i*n+j] = float32(p) * scale
			}
		}
		losses[wk] += tot
	})
	for _, v := range losses {
		loss += v / float64(n)
	}
	s.parallel(n, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			g := s.gOut[cand(i)]
			for j := 0; j < n; j++ {
				vec.Axpy(w2[i*n+j], out(j), g)
			}
		}
	})
	s.parallel(n, func(_, lo, hi int) {
		for j := lo; j < hi; j++ {
			g := s.gOut[j]
			for i := 0; i < n; i++ {
				vec.Axpy(w2[i*n+j], out(cand(i)), g)
			}
		}
	})
	return loss
}

// bce32 is BCE over every in-batch pair (unlabelled batches), in float32
// with SIMD dot products and parallel over anchors, like infoNCE32. It
// computes the same function and gradients as BCE.Eval (tested).
func (s *stepper) bce32(l *BCE, b *batchTexts) float64 {
	nq, np, nn := len(b.Q), len(b.P), len(b.N)
	n, m := nq, np+nn
	d := s.n.dim
	for len(s.gOut) < nq+np+nn {
		s.gOut = append(s.gOut, make([]float32, d))
	}
	out := func(k int) []float32 { return s.traces[k].out }
	cand := func(j int) int { return nq + j }
	valid := func(i, j int) bool {
		return j < np || len(b.NegOf) == 0 || b.NegOf[j-np] < 0 || b.NegOf[j-np] == i
	}
	pairs := 0
	for i := 0; i < n; i++ {
		for j := 0; j < m; j++ {
			if valid(i, j) {
				pairs++
			}
		}
	}
	if cap(s.wbuf) < n*m {
		s.wbuf = make([]float32, n*m)
	}
	w := s.wbuf[:n*m]
	inv := 1 / float64(pairs)
	type part struct{ loss, gs, gb float64 }
	parts := make([]part, s.workers)
	s.parallel(n, func(wk, lo, hi int) {
		var p part
		for i := lo; i < hi; i++ {
			row := w[i*m : (i+1)*m]
			for j := 0; j < m; j++ {
				if !valid(i, j) {
					row[j] = 0
					continue
				}
				c := float64(vec.Dot(out(i), out(cand(j))))
				y := 0.0
				if j == i {
					y = 1
				}
				x := l.Scale*c + l.Bias
				p.loss += math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) - y*x
				dx := (sigmoid(x) - y) * inv
				p.gs += dx * c
				p.gb += dx
				row[j] = float32(dx * l.Scale)
			}
		}
		parts[wk] = p
	})
	var loss float64
	l.grads = [2]float64{}
	for _, p := range parts {
		loss += p.loss
		if l.Learn {
			l.grads[0] += p.gs
			l.grads[1] += p.gb
		}
	}
	s.pairGrads(w, n, m, nq)
	return loss * inv
}

// pairGrads turns the n x m matrix w of d loss / d (Q_i . C_j) into the
// output gradients gQ_i = sum_j w_ij C_j and gC_j = sum_i w_ij Q_i, where
// query i is trace i and candidate j is trace nq+j, in parallel over rows
// and then columns.
func (s *stepper) pairGrads(w []float32, n, m, nq int) {
	out := func(k int) []float32 { return s.traces[k].out }
	s.parallel(n, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			g := s.gOut[i]
			clear(g)
			for j, wij := range w[i*m : (i+1)*m] {
				if wij != 0 {
					vec.Axpy(wij, out(nq+j), g)
				}
			}
		}
	})
	s.parallel(m, func(_, lo, hi int) {
		for j := lo; j < hi; j++ {
			g := s.gOut[nq+j]
			clear(g)
			for i := 0; i < n; i++ {
				if wij := w[i*m+j]; wij != 0 {
					vec.Axpy(wij, out(i), g)
				}
			}
		}
	})
}
