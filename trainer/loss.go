package trainer

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Emb is one batch of embeddings as a loss sees them, in float64 (losses are
// cheap next to the towers, and float64 keeps their gradient tests exact).
//
//   - Q[i] is the i-th anchor (query tower), P[i] its partner (document tower).
//   - N holds extra negatives (document tower), e.g. mined hard negatives;
//     NegOf[k] is the anchor N[k] was mined for, or -1 for a negative shared by
//     the whole batch. N may be empty.
//   - Y holds one label per pair, or is nil when every (Q[i], P[i]) is a
//     positive pair (BEIR qrels, self-supervised crops).
//
// Label convention: Y[i] = 1 marks a similar pair, 0 a dissimilar pair
// (MRPC's "Quality" column). Graded scores (STS-B 0-5, SICK 1-5) are rescaled
// to [0, 1] by the data loader (Pairs.Normalize), so 1 is always "most similar".
type Emb struct {
	Q, P, N [][]float64
	NegOf   []int
	Y       []float64
}

// Loss is a training objective over a batch of embeddings.
//
// Eval returns the loss (a mean over the batch) and writes dLoss/dEmbedding
// into g, which has the same shape as e (g's rows are overwritten, not
// accumulated). Every loss here is a function of the inner products of the
// rows only, which for the unit vectors the towers produce are cosines.
// A Loss may keep learnable scalars (Params/Grads); it is not safe for
// concurrent use.
type Loss interface {
	Name() string
	Eval(e, g *Emb) float64
	// NeedsLabels reports whether the loss needs Emb.Y.
	NeedsLabels() bool
}

// ScalarParams is implemented by losses with learnable scalars (BCE's scale
// and bias); the trainer updates them with the dense optimizer.
type ScalarParams interface {
	Params() []float64
	Grads() []float64
}

// ErrUnknownLoss reports a loss name NewLoss does not know.
var ErrUnknownLoss = errors.New("trainer: unknown loss")

// LossNames lists the names NewLoss accepts.
var LossNames = []string{"infonce", "contrastive", "online-contrastive", "bce", "triplet", "triplet-hard", "cosent", "mse"}

// LossOptions holds the knobs of every loss; the zero value means the defaults
// given per field.
type LossOptions struct {
	Temperature float64 // InfoNCE; default 0.05
	Symmetric   bool    // InfoNCE: add the positive->query direction
	Margin      float64 // contrastive default 0.5, triplet default 0.2
	Distance    string  // contrastive/triplet: "euclidean" (default; sqrt(2-2cos)) or "cosine" (1-cos)
	Scale       float64 // BCE initial scale (default 10), CoSENT scale (default 20)
	Bias        float64 // BCE initial bias (default -5)
	LearnScale  bool    // BCE: learn scale and bias
}

// NewLoss returns the loss with the given name (see LossNames).
func NewLoss(name string, o LossOptions) (Loss, error) {
	dist := o.Distance
	if dist == "" {
		dist = "euclidean"
	}
	if dist != "euclidean" && dist != "cosine" {
		return nil, fmt.Errorf("trainer: unknown distance %q (want euclidean or cosine)", o.Distance)
	}
	def := func(v, d float64) float64 {
		if v == 0 {
			return d
		}
		return v
	}
	switch strings.ToLower(name) {
	case "infonce", "mnrl":
		return &InfoNCE{Temperature: def(o.Temperature, 0.05), Symmetric: o.Symmetric}, nil
	case "contrastive":
		return &Contrastive{Margin: def(o.Margin, 0.5), Cosine: dist == "cosine"}, nil
	case "online-contrastive":
		return &Contrastive{Margin: def(o.Margin, 0.5), Cosine: dist == "cosine", Online: true}, nil
	case "bce":
		return &BCE{Scale: def(o.Scale, 10), Bias: def(o.Bias, -5), Learn: o.LearnScale}, nil
	case "triplet":
		return &Triplet{Margin: def(o.Margin, 0.2), Cosine: dist == "cosine"}, nil
	case "triplet-hard":
		return &Triplet{Margin: def(o.Margin, 0.2), Cosine: dist == "cosine", Hard: true}, nil
	case "cosent":
		return &CoSENT{Scale: def(o.Scale, 20)}, nil
	case "mse":
		return &MSE{}, nil
	}
	return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownLoss, name, strings.Join(LossNames, ", "))
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// axpy: y += a*x
func axpy(a float64, x, y []float64) {
	for i := range x {
		y[i] += a * x[i]
	}
}

func zero(g [][]float64) {
	for _, r := range g {
		clear(r)
	}
}

func zeroEmb(g *Emb) { zero(g.Q); zero(g.P); zero(g.N) }

// candidates returns the document-side rows an anchor is compared with:
// P[0..n) then N. negOK(i, k) says whether N[k] is a negative for anchor i.
func negOK(e *Emb, i, k int) bool {
	return len(e.NegOf) == 0 || e.NegOf[k] < 0 || e.NegOf[k] == i
}

// ---------------------------------------------------------------- InfoNCE

// InfoNCE is the multiple-negatives ranking loss: for anchor i the target is
// P[i] among every P[j] and the extra negatives N (softmax of cosine /
// Temperature, cross-entropy). Symmetric adds the P[i] -> Q[j] direction.
type InfoNCE struct {
	Temperature float64
	Symmetric   bool
}

func (l *InfoNCE) Name() string      { return "infonce" }
func (l *InfoNCE) NeedsLabels() bool { return false }

func (l *InfoNCE) Eval(e, g *Emb) float64 {
	zeroEmb(g)
	n := len(e.Q)
	if n == 0 {
		return 0
	}
	inv := 1 / l.Temperature
	m := n + len(e.N)
	logit := make([]float64, m)
	var total float64
	cand := func(j int) ([]float64, []float64) {
		if j < n {
			return e.P[j], g.P[j]
		}
		return e.N[j-n], g.N[j-n]
	}
	for i := 0; i < n; i++ {
		mx := math.Inf(-1)
		for j := 0; j < m; j++ {
			if j >= n && !negOK(e, i, j-n) {
				logit[j] = math.Inf(-1)
				continue
			}
			c, _ := cand(j)
			logit[j] = dot(e.Q[i], c) * inv
			mx = math.Max(mx, logit[j])
		}
		var z float64
		for j := 0; j < m; j++ {
			logit[j] = math.Exp(logit[j] - mx) // now unnormalised prob
			z += logit[j]
		}
		total += -(math.Log(logit[i] / z))
		for j := 0; j < m; j++ {
			p := logit[j] / z
			if j == i {
				p -= 1
			}
			if p == 0 {
				continue
			}
			c, gc := cand(j)
			w := p * inv / float64(n)
			axpy(w, c, g.Q[i])
			axpy(w, e.Q[i], gc)
		}
	}
	loss := total / float64(n)
	if l.Symmetric {
		lg := make([]float64, n)
		var t2 float64
		for i := 0; i < n; i++ {
			mx := math.Inf(-1)
			for j := 0; j < n; j++ {
				lg[j] = dot(e.P[i], e.Q[j]) * inv
				mx = math.Max(mx, lg[j])
			}
			var z float64
			for j := range lg {
				lg[j] = math.Exp(lg[j] - mx)
				z += lg[j]
			}
			t2 += -math.Log(lg[i] / z)
			for j := 0; j < n; j++ {
				p := lg[j] / z
				if j == i {
					p -= 1
				}
				w := p * inv / float64(n)
				axpy(w, e.Q[j], g.P[i])
				axpy(w, e.P[i], g.Q[j])
			}
		}
		loss = (loss*float64(n) + t2) / float64(n)
	}
	return loss
}

// ---------------------------------------------------------------- pairs

// pairList enumerates the (a, b, y) pairs a pair loss sees: the labelled
// pairs (Q[i], P[i], Y[i]) when Y is set, else every in-batch combination
// (Q[i], P[j]) with y = [i == j], plus (Q[i], N[k]) negatives.
type pairRef struct {
	a, b   []float64
	ga, gb []float64
	y      float64
}

func pairList(e, g *Emb) []pairRef {
	n := len(e.Q)
	var ps []pairRef
	if e.Y != nil {
		for i := 0; i < n; i++ {
			ps = append(ps, pairRef{e.Q[i], e.P[i], g.Q[i], g.P[i], e.Y[i]})
		}
	} else {
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				y := 0.0
				if i == j {
					y = 1
				}
				ps = append(ps, pairRef{e.Q[i], e.P[j], g.Q[i], g.P[j], y})
			}
		}
	}
	for i := 0; i < n; i++ {
		for k := range e.N {
			if len(e.NegOf) > 0 && e.NegOf[k] == i || (e.Y == nil && negOK(e, i, k)) {
				ps = append(ps, pairRef{e.Q[i], e.N[k], g.Q[i], g.N[k], 0})
			}
		}
	}
	return ps
}

// dist returns D and dD/dcos for cosine c: Euclidean between unit vectors
// sqrt(2-2c), or cosine distance 1-c.
func dist(c float64, cosine bool) (d, dd float64) {
	if cosine {
		return 1 - c, -1
	}
	d2 := 2 - 2*c
	if d2 < 1e-12 {
		d2 = 1e-12
	}
	d = math.Sqrt(d2)
	return d, -1 / d
}

// Contrastive is the margin contrastive loss (Hadsell, Chopra, LeCun 2006):
// similar pairs (y=1) pay D^2/2, dissimilar pairs (y=0) max(0, Margin-D)^2/2,
// where D is the Euclidean distance between the unit vectors (sqrt(2-2cos))
// or, with Cosine, the cosine distance 1-cos. A graded y in (0, 1) mixes the
// two terms. Online keeps only the hard pairs: positives farther than the
// closest negative and negatives closer than the farthest positive
// (sentence-transformers' OnlineContrastiveLoss). The loss is summed over the
// kept pairs and divided by the number of anchors.
type Contrastive struct {
	Margin float64
	Cosine bool
	Online bool
}

func (l *Contrastive) Name() string {
	if l.Online {
		return "online-contrastive"
	}
	return "contrastive"
}
func (l *Contrastive) NeedsLabels() bool { return false }

func (l *Contrastive) Eval(e, g *Emb) float64 {
	zeroEmb(g)
	n := len(e.Q)
	if n == 0 {
		return 0
	}
	ps := pairList(e, g)
	cs := make([]float64, len(ps))
	ds := make([]float64, len(ps))
	minNeg, maxPos := math.Inf(1), math.Inf(-1)
	for k, p := range ps {
		cs[k] = dot(p.a, p.b)
		ds[k], _ = dist(cs[k], l.Cosine)
		if p.y >= 0.5 {
			maxPos = math.Max(maxPos, ds[k])
		} else {
			minNeg = math.Min(minNeg, ds[k])
		}
	}
	var total float64
	scale := 1 / float64(n)
	for k, p := range ps {
		if l.Online {
			if p.y >= 0.5 && !(ds[k] > minNeg) || p.y < 0.5 && !(ds[k] < maxPos) {
				continue
			}
		}
		d, dd := dist(cs[k], l.Cosine)
		var dl float64 // dLoss/dD
		total += p.y * d * d / 2
		dl += p.y * d
		if h := l.Margin - d; h > 0 {
			total += (1 - p.y) * h * h / 2
			dl -= (1 - p.y) * h
		}
		w := dl * dd * scale // dLoss/dcos
		if w != 0 {
			axpy(w, p.b, p.ga)
			axpy(w, p.a, p.gb)
		}
	}
	return total * scale
}

// BCE is binary cross-entropy on a scaled cosine: p = sigmoid(Scale*cos +
// Bias), target y in [0, 1]. With Learn, Scale and Bias are trained too
// (SigLIP-style); their gradients are in Grads after Eval.
type BCE struct {
	Scale, Bias float64
	Learn       bool
	grads       [2]float64
	params      [2]float64
}

func (l *BCE) Name() string      { return "bce" }
func (l *BCE) NeedsLabels() bool { return false }

// Params returns [scale, bias] as a slice the optimizer may update in place
// (SetParams copies them back).
func (l *BCE) Params() []float64 { l.params = [2]float64{l.Scale, l.Bias}; return l.params[:] }
func (l *BCE) Grads() []float64  { return l.grads[:] }

// SetParams stores scale and bias.
func (l *BCE) SetParams(p []float64) { l.Scale, l.Bias = p[0], p[1] }

func (l *BCE) Eval(e, g *Emb) float64 {
	zeroEmb(g)
	l.grads = [2]float64{}
	n := len(e.Q)
	if n == 0 {
		return 0
	}
	ps := pairList(e, g)
	var total float64
	scale := 1 / float64(len(ps))
	for _, p := range ps {
		c := dot(p.a, p.b)
		x := l.Scale*c + l.Bias
		// loss = softplus(x) - y*x, stable form
		total += math.Max(x, 0) + math.Log1p(math.Exp(-math.Abs(x))) - p.y*x
		dx := (sigmoid(x) - p.y) * scale
		if l.Learn {
			l.grads[0] += dx * c
			l.grads[1] += dx
		}
		axpy(dx*l.Scale, p.b, p.ga)
		axpy(dx*l.Scale, p.a, p.gb)
	}
	return total * scale
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	ex := math.Exp(x)
	return ex / (1 + ex)
}

// Triplet is the triplet margin loss max(0, D(a,p) - D(a,n) + Margin) with
// the partner P[i] as positive and every other P[j] plus the anchor's
// negatives in N as negatives. Batch-all (Hard false) averages over the
// triplets with a positive loss; batch-hard (Hard true) keeps for each anchor
// only the closest negative (Hermans et al. 2017). Labelled pairs (Y set)
// use only anchors whose pair is positive (y >= 0.5).
type Triplet struct {
	Margin float64
	Cosine bool
	Hard   bool
}

func (l *Triplet) Name() string {
	if l.Hard {
		return "triplet-hard"
	}
	return "triplet"
}
func (l *Triplet) NeedsLabels() bool { return false }

func (l *Triplet) Eval(e, g *Emb) float64 {
	zeroEmb(g)
	n := len(e.Q)
	type trip struct {
		i      int
		nb, gn []float64
		loss   float64
		dap    float64
		ddp    float64
		ddn    float64
		cn     float64
	}
	var ts []trip
	for i := 0; i < n; i++ {
		if e.Y != nil && e.Y[i] < 0.5 {
			continue
		}
		cp := dot(e.Q[i], e.P[i])
		dp, ddp := dist(cp, l.Cosine)
		var best *trip
		consider := func(nb, gn []float64) {
			cn := dot(e.Q[i], nb)
			dn, ddn := dist(cn, l.Cosine)
			t := trip{i: i, nb: nb, gn: gn, loss: dp - dn + l.Margin, dap: cp, ddp: ddp, ddn: ddn, cn: cn}
			if l.Hard {
				if best == nil || t.loss > best.loss {
					tt := t
					best = &tt
				}
				return
			}
			if t.loss > 0 {
				ts = append(ts, t)
			}
		}
		for j := 0; j < n; j++ {
			if j != i && (e.Y == nil || e.Y[j] >= 0.5) {
				consider(e.P[j], g.P[j])
			}
		}
		for k := range e.N {
			if negOK(e, i, k) {
				consider(e.N[k], g.N[k])
			}
		}
		if best != nil && best.loss > 0 {
			ts = append(ts, *best)
		}
	}
	if len(ts) == 0 {
		return 0
	}
	var total float64
	var div float64
	if l.Hard {
		div = float64(n)
	} else {
		div = float64(len(ts))
	}
	for _, t := range ts {
		total += t.loss
		i := t.i
		// d loss/d cp = ddp ; d loss/d cn = -ddn
		axpy(t.ddp/div, e.P[i], g.Q[i])
		axpy(t.ddp/div, e.Q[i], g.P[i])
		axpy(-t.ddn/div, t.nb, g.Q[i])
		axpy(-t.ddn/div, e.Q[i], t.gn)
	}
	return total / div
}

// CoSENT ranks pair cosines by their gold scores (Su 2022): loss =
// log(1 + sum over pairs (i, j) with y_i > y_j of exp(Scale*(cos_j - cos_i))).
// It needs graded (or binary) labels.
type CoSENT struct{ Scale float64 }

func (l *CoSENT) Name() string      { return "cosent" }
func (l *CoSENT) NeedsLabels() bool { return true }

func (l *CoSENT) Eval(e, g *Emb) float64 {
	zeroEmb(g)
	n := len(e.Q)
	if n == 0 || e.Y == nil {
		return 0
	}
	c := make([]float64, n)
	for i := range c {
		c[i] = dot(e.Q[i], e.P[i])
	}
	// logsumexp over {0} U {s(c_j - c_i) : y_i > y_j}
	mx := 0.0
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if e.Y[i] > e.Y[j] {
				mx = math.Max(mx, l.Scale*(c[j]-c[i]))
			}
		}
	}
	z := math.Exp(-mx)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if e.Y[i] > e.Y[j] {
				z += math.Exp(l.Scale*(c[j]-c[i]) - mx)
			}
		}
	}
	dc := make([]float64, n)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			if e.Y[i] > e.Y[j] {
				w := math.Exp(l.Scale*(c[j]-c[i])-mx) / z * l.Scale
				dc[j] += w
				dc[i] -= w
			}
		}
	}
	for i := 0; i < n; i++ {
		axpy(dc[i], e.P[i], g.Q[i])
		axpy(dc[i], e.Q[i], g.P[i])
	}
	return mx + math.Log(z)
}

// MSE is the mean squared error between the pair cosine and the label
// (sentence-transformers' CosineSimilarityLoss): mean (cos - y)^2.
type MSE struct{}

func (l *MSE) Name() string      { return "mse" }
func (l *MSE) NeedsLabels() bool { return true }

func (l *MSE) Eval(e, g *Emb) float64 {
	zeroEmb(g)
	n := len(e.Q)
	if n == 0 || e.Y == nil {
		return 0
	}
	var total float64
	for i := 0; i < n; i++ {
		r := dot(e.Q[i], e.P[i]) - e.Y[i]
		total += r * r
		w := 2 * r / float64(n)
		axpy(w, e.P[i], g.Q[i])
		axpy(w, e.Q[i], g.P[i])
	}
	return total / float64(n)
}

// spearman returns Spearman's rank correlation of x and y (average ranks for ties).
func spearman(x, y []float64) float64 {
	rx, ry := ranks(x), ranks(y)
	return pearson(rx, ry)
}

func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}

func pearson(x, y []float64) float64 {
	n := float64(len(x))
	if n < 2 {
		return 0
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}
