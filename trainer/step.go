package trainer

import (
	"math"
	"sync"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/internal/vec"
)

// batchTexts is one mini-batch as texts: Q[i] (query tower) pairs with
// P[i] (document tower); N are extra negatives (document tower) with NegOf.
type batchTexts struct {
	Q, P, N []string
	NegOf   []int
	Y       []float64 // nil: all pairs positive
}

func (b *batchTexts) size() int { return len(b.Q) }

// adam holds AdamW moments for the model's tensors. Embedding rows are
// updated lazily: only rows a batch touched, with the global step's bias
// correction (TensorFlow's LazyAdam).
type adam struct {
	tm, tv [][]float32 // per table
	dm, dv [][]float32 // per dense layer: W then B interleaved (2k, 2k+1)
	sm, sv []float64   // loss scalars
}

func newAdam(n *net, scalars int) *adam {
	a := &adam{}
	for _, t := range n.tables {
		a.tm = append(a.tm, hugeFloats(len(t)))
		a.tv = append(a.tv, hugeFloats(len(t)))
	}
	for _, d := range n.dense {
		a.dm = append(a.dm, make([]float32, len(d.W)), make([]float32, len(d.B)))
		a.dv = append(a.dv, make([]float32, len(d.W)), make([]float32, len(d.B)))
	}
	a.sm = make([]float64, scalars)
	a.sv = make([]float64, scalars)
	return a
}

// hyper are the per-step optimiser constants.
type hyper struct {
	lr, embLR   float64
	b1, b2, eps float64
	wd, embWD   float64
	step        int // 1-based
	clip        float64
	c1, c2      float64 // bias corrections
	scale       float32 // gradient scale from clipping
	gradNorm    float64
}

// adamConst are the constants of one AdamW update (layout used by adamAVX2).
type adamConst struct {
	sc, b1, ob1, b2, ob2, invC2, eps, decay, step float32
}

// adamUpdate applies one AdamW update to w with gradient g (times scale).
func adamUpdate(w, g, m, v []float32, lr, wd float64, h *hyper) {
	if useAVX2 && len(g) >= 8 {
		c := adamConst{sc: h.scale, b1: float32(h.b1), ob1: float32(1 - h.b1), b2: float32(h.b2), ob2: float32(1 - h.b2),
			invC2: float32(1 / h.c2), eps: float32(h.eps), decay: float32(1 - lr*wd), step: float32(lr / h.c1)}
		adamAVX2(w, g, m, v, &c)
		k := len(g) &^ 7
		if k == len(g) {
			return
		}
		w, g, m, v = w[k:], g[k:], m[k:], v[k:]
	}
	b1, b2 := float32(h.b1), float32(h.b2)
	ob1, ob2 := 1-b1, 1-b2
	stepSize := float32(lr / h.c1)
	invC2 := float32(1 / h.c2)
	eps := float32(h.eps)
	decay := float32(1 - lr*wd)
	sc := h.scale
	w = w[:len(g)]
	m = m[:len(g)]
	v = v[:len(g)]
	for i, gi := range g {
		gi *= sc
		mi := b1*m[i] + ob1*gi
		vi := b2*v[i] + ob2*gi*gi
		m[i], v[i] = mi, vi
		w[i] = w[i]*decay - stepSize*mi/(float32(math.Sqrt(float64(vi*invC2)))+eps)
	}
}

// sparseGrad gathers the embedding-row gradients of one table for a batch.
// Row gradients are not materialised (for a batch of 256 SciFact crop pairs
// they would be ~45 MB): the occurrences (text, weight) of each touched row
// are sorted by row, and rowGrad sums them on demand from the texts'
// bag gradients, which stay in cache. The clipping norm pass and the
// update pass each call it once per row.
type sparseGrad struct {
	slot  []int32  // bucket -> row slot this step, -1 when untouched
	rows  []uint32 // touched buckets in slot order
	start []int32  // occurrences of slot s: occ[start[s]:start[s+1]]
	occT  []int32  // trace index
	occV  []float32
}

// sortOccurrences assigns slots to the rows of table ti touched by traces
// and counting-sorts the occurrences by slot.
func (s *sparseGrad) sortOccurrences(traces []*trace, n *net, ti int) {
	s.reset()
	for _, t := range traces {
		if n.tableOf[t.side] != ti || t.norm == 0 {
			continue
		}
		for _, id := range t.feat.Idx {
			if s.slot[id] < 0 {
				s.slot[id] = int32(len(s.rows))
				s.rows = append(s.rows, id)
			}
		}
	}
	s.start = append(s.start[:0], make([]int32, len(s.rows)+1)...)
	total := 0
	for _, t := range traces {
		if n.tableOf[t.side] != ti || t.norm == 0 {
			continue
		}
		for _, id := range t.feat.Idx {
			s.start[s.slot[id]+1]++
		}
		total += len(t.feat.Idx)
	}
	for i := 1; i < len(s.start); i++ {
		s.start[i] += s.start[i-1]
	}
	if cap(s.occT) < total {
		s.occT = make([]int32, total)
		s.occV = make([]float32, total)
	}
	s.occT, s.occV = s.occT[:total], s.occV[:total]
	fill := append([]int32(nil), s.start[:len(s.rows)]...)
	for k, t := range traces {
		if n.tableOf[t.side] != ti || t.norm == 0 {
			continue
		}
		for j, id := range t.feat.Idx {
			sl := s.slot[id]
			s.occT[fill[sl]] = int32(k)
			s.occV[fill[sl]] = t.feat.Val[j]
			fill[sl]++
		}
	}
}

// rowGrad writes the gradient of slot sl's embedding row into dst.
func (s *sparseGrad) rowGrad(sl int, traces []*trace, dst []float32) {
	clear(dst)
	for k := s.start[sl]; k < s.start[sl+1]; k++ {
		vec.Axpy(s.occV[k], traces[s.occT[k]].gBag, dst)
	}
}

func newSparseGrad(buckets int) *sparseGrad {
	s := &sparseGrad{slot: make([]int32, buckets)}
	for i := range s.slot {
		s.slot[i] = -1
	}
	return s
}

func (s *sparseGrad) reset() {
	for _, r := range s.rows {
		s.slot[r] = -1
	}
	s.rows = s.rows[:0]
}

// stepper runs the parallel training step. Not safe for concurrent use.
type stepper struct {
	n       *net
	loss    Loss
	opt     *adam
	workers int
	traces  []*trace
	wg      []*grads
	sg      []*sparseGrad
	scratch []*encoder.Scratch
	emb     Emb
	gemb    Emb
	gOut    [][]float32
	wbuf    []float32
	// reference forces the float64 loss path (tests).
	reference bool
}

func newStepper(n *net, loss Loss, workers int) *stepper {
	s := &stepper{n: n, loss: loss, workers: max(1, workers)}
	scalars := 0
	if sp, ok := loss.(ScalarParams); ok {
		scalars = len(sp.Params())
	}
	s.opt = newAdam(n, scalars)
	for w := 0; w < s.workers; w++ {
		s.wg = append(s.wg, n.newGrads())
	}
	for range n.tables {
		s.sg = append(s.sg, newSparseGrad(n.buckets))
	}
	return s
}

// parallel runs f(w, lo, hi) over [0, count) split into s.workers ranges.
func (s *stepper) parallel(count int, f func(w, lo, hi int)) {
	if s.workers == 1 || count < 2 {
		f(0, 0, count)
		return
	}
	var wg sync.WaitGroup
	per := (count + s.workers - 1) / s.workers
	for w := 0; w < s.workers; w++ {
		lo, hi := w*per, min(count, (w+1)*per)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(w, lo, hi)
		}()
	}
	wg.Wait()
}

// stepResult reports one step.
type stepResult struct {
	loss     float64
	gradNorm float64
	rows     int // embedding rows updated
}

// texts lays the batch out as one list: Q then P then N, with their sides.
func (b *batchTexts) all() ([]string, []int) {
	texts := make([]string, 0, len(b.Q)+len(b.P)+len(b.N))
	sides := make([]int, 0, cap(texts))
	texts = append(texts, b.Q...)
	for range b.Q {
		sides = append(sides, 0)
	}
	texts = append(texts, b.P...)
	texts = append(texts, b.N...)
	for len(sides) < len(texts) {
		sides = append(sides, 1)
	}
	return texts, sides
}

// forwardBatch featurizes and runs the towers on every text of b.
func (s *stepper) forwardBatch(b *batchTexts) {
	texts, sides := b.all()
	for len(s.traces) < len(texts) {
		s.traces = append(s.traces, s.n.newTrace())
	}
	feat := s.n.m.Featurizer()
	s.parallel(len(texts), func(w, lo, hi int) {
		for i := lo; i < hi; i++ {
			t := s.traces[i]
			t.side = sides[i]
			feat.Featurize(texts[i], &t.feat)
			s.n.forward(t)
		}
	})
}

func growRows(x [][]float64, n, d int) [][]float64 {
	for len(x) < n {
		x = append(x, make([]float64, d))
	}
	return x[:n]
}

// lossOf computes the loss and dLoss/dout for the traced batch.
func (s *stepper) lossOf(b *batchTexts) float64 {
	if l, ok := s.loss.(*InfoNCE); ok && !s.reference {
		return s.infoNCE32(l, b)
	}
	if l, ok := s.loss.(*BCE); ok && !s.reference && b.Y == nil {
		return s.bce32(l, b)
	}
	nq, np, nn := len(b.Q), len(b.P), len(b.N)
	d := s.n.dim
	s.emb.Q, s.emb.P, s.emb.N = growRows(s.emb.Q, nq, d), growRows(s.emb.P, np, d), growRows(s.emb.N, nn, d)
	s.gemb.Q, s.gemb.P, s.gemb.N = growRows(s.gemb.Q, nq, d), growRows(s.gemb.P, np, d), growRows(s.gemb.N, nn, d)
	s.emb.NegOf, s.emb.Y = b.NegOf, b.Y
	s.gemb.NegOf, s.gemb.Y = b.NegOf, b.Y
	rows := func(k int) []float64 {
		switch {
		case k < nq:
			return s.emb.Q[k]
		case k < nq+np:
			return s.emb.P[k-nq]
		}
		return s.emb.N[k-nq-np]
	}
	for k := 0; k < nq+np+nn; k++ {
		r := rows(k)
		for i, v := range s.traces[k].out {
			r[i] = float64(v)
		}
	}
	loss := s.loss.Eval(&s.emb, &s.gemb)
	for len(s.gOut) < nq+np+nn {
		s.gOut = append(s.gOut, make([]float32, d))
	}
	for k := 0; k < nq+np+nn; k++ {
		var g []float64
		switch {
		case k < nq:
			g = s.gemb.Q[k]
		case k < nq+np:
			g = s.gemb.P[k-nq]
		default:
			g = s.gemb.N[k-nq-np]
		}
		for i, v := range g {
			s.gOut[k][i] = float32(v)
		}
	}
	return loss
}

// step runs forward, loss, backward and one AdamW update on batch b.
// When the loss is not finite nothing is updated and the loss is returned.
func (s *stepper) step(b *batchTexts, h *hyper) stepResult {
	loss, sq, rows := s.grad(b)
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(sq) || math.IsInf(sq, 0) {
		return stepResult{loss: math.NaN(), gradNorm: math.Sqrt(sq)}
	}
	s.update(h, sq)
	return stepResult{loss: loss, gradNorm: h.gradNorm, rows: rows}
}

// grad computes the loss of b and every gradient: dense ones summed in
// s.wg[0], embedding rows in s.sg. It returns the loss, the squared
// gradient norm and the number of embedding rows touched.
func (s *stepper) grad(b *batchTexts) (float64, float64, int) {
	s.forwardBatch(b)
	loss := s.lossOf(b)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, 0, 0
	}
	total := len(b.Q) + len(b.P) + len(b.N)
	n := s.n
	for _, g := range s.wg {
		g.zero()
	}
	// Backward through the dense layers, per worker.
	s.parallel(total, func(w, lo, hi int) {
		g := s.wg[w]
		for i := lo; i < hi; i++ {
			n.backward(s.traces[i], s.gOut[i], g)
		}
	})
	// Reduce dense gradients into worker 0.
	g0 := s.wg[0]
	for w := 1; w < len(s.wg); w++ {
		for k := range g0.w {
			addTo(g0.w[k], s.wg[w].w[k])
			addTo(g0.b[k], s.wg[w].b[k])
		}
	}
	// Sparse rows: assign slots, then gather per slot range in parallel.
	var sq float64
	rowsTouched := 0
	for ti, sg := range s.sg {
		sg.reset()
		for i := 0; i < total; i++ {
			t := s.traces[i]
			if n.tableOf[t.side] != ti {
				continue
			}
			for _, id := range t.feat.Idx {
				if sg.slot[id] < 0 {
					sg.slot[id] = int32(len(sg.rows))
					sg.rows = append(sg.rows, id)
				}
			}
		}
		sg.sortOccurrences(s.traces[:total], n, ti)
		rowsTouched += len(sg.rows)
		partial := make([]float64, s.workers)
		s.parallel(len(sg.rows), func(w, lo, hi int) {
			acc := make([]float32, n.bagDim)
			var q float64
			for sl := lo; sl < hi; sl++ {
				sg.rowGrad(sl, s.traces, acc)
				for _, v := range acc {
					q += float64(v) * float64(v)
				}
			}
			partial[w] = q
		})
		for _, q := range partial {
			sq += q
		}
	}
	for k := range g0.w {
		sq += sumSq(g0.w[k]) + sumSq(g0.b[k])
	}
	if sp, ok := s.loss.(ScalarParams); ok {
		for _, v := range sp.Grads() {
			sq += v * v
		}
	}
	return loss, sq, rowsTouched
}

// update applies AdamW with the gradients grad left, clipped to h.clip.
func (s *stepper) update(h *hyper, sq float64) {
	n := s.n
	g0 := s.wg[0]
	h.gradNorm = math.Sqrt(sq)
	h.scale = 1
	if h.clip > 0 && h.gradNorm > h.clip {
		h.scale = float32(h.clip / h.gradNorm)
	}
	h.c1 = 1 - math.Pow(h.b1, float64(h.step))
	h.c2 = 1 - math.Pow(h.b2, float64(h.step))
	// Updates: sparse rows split across workers, dense layers on worker 0's share.
	for ti, sg := range s.sg {
		tab := n.tables[ti]
		m, v := s.opt.tm[ti], s.opt.tv[ti]
		s.parallel(len(sg.rows), func(w, lo, hi int) {
			d := n.bagDim
			acc := make([]float32, d)
			for sl := lo; sl < hi; sl++ {
				r := int(sg.rows[sl])
				sg.rowGrad(sl, s.traces, acc)
				adamUpdate(tab[r*d:(r+1)*d], acc, m[r*d:(r+1)*d], v[r*d:(r+1)*d], h.embLR, h.embWD, h)
			}
		})
	}
	s.parallel(len(n.dense), func(w, lo, hi int) {
		for k := lo; k < hi; k++ {
			d := n.dense[k]
			adamUpdate(d.W, g0.w[k], s.opt.dm[2*k], s.opt.dv[2*k], h.lr, h.wd, h)
			adamUpdate(d.B, g0.b[k], s.opt.dm[2*k+1], s.opt.dv[2*k+1], h.lr, 0, h)
		}
	})
	if sp, ok := s.loss.(ScalarParams); ok {
		p := sp.Params()
		for i, g := range sp.Grads() {
			g *= float64(h.scale)
			s.opt.sm[i] = h.b1*s.opt.sm[i] + (1-h.b1)*g
			s.opt.sv[i] = h.b2*s.opt.sv[i] + (1-h.b2)*g*g
			p[i] -= h.lr * (s.opt.sm[i] / h.c1) / (math.Sqrt(s.opt.sv[i]/h.c2) + h.eps)
		}
		if b, ok := s.loss.(*BCE); ok {
			b.SetParams(p)
		}
	}
	n.m.ResetFingerprint()
}

func addTo(dst, x []float32) {
	for i, v := range x {
		dst[i] += v
	}
}

func sumSq(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}
