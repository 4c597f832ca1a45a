package trainer

import (
	"fmt"
	"math"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/internal/vec"
	"github.com/viterin/vek/vek32"
)

// net is the trainer's view of an encoder.Model: its distinct parameter
// tensors (tied towers share them, Heads share the body) and the forward and
// backward passes. The slices alias the model's weights, so updates made by
// the optimizer are updates of the model.
type net struct {
	m       *encoder.Model
	act     string
	bagDim  int
	dim     int
	buckets int
	towers  [2]*encoder.Tower
	tables  [][]float32 // distinct embedding tables
	tableOf [2]int      // tower side -> table index
	dense   []*encoder.Dense
	layers  [2][]int // per side: indices into dense of Hidden..., Proj
}

func newNet(m *encoder.Model) (*net, error) {
	cfg := m.Config
	n := &net{m: m, act: cfg.Activation, bagDim: cfg.BagDim, dim: cfg.Dim,
		buckets: m.Featurizer().Buckets()}
	n.towers = [2]*encoder.Tower{m.Query, m.Doc}
	seen := map[*encoder.Dense]int{}
	for side, tw := range n.towers {
		if tw == nil || tw.Proj == nil {
			return nil, fmt.Errorf("trainer: model has no %s tower", encoder.TowerKind(side))
		}
		if len(tw.Emb) != n.buckets*n.bagDim {
			return nil, fmt.Errorf("trainer: %s tower embedding has %d values, want %d x %d", encoder.TowerKind(side), len(tw.Emb), n.buckets, n.bagDim)
		}
		found := -1
		for i, t := range n.tables {
			if &t[0] == &tw.Emb[0] {
				found = i
			}
		}
		if found < 0 {
			found = len(n.tables)
			// Move the table to huge-page-advised memory (same values); every
			// tower sharing it is repointed below.
			moved := hugeFloats(len(tw.Emb))
			copy(moved, tw.Emb)
			old := &tw.Emb[0]
			for _, other := range n.towers {
				if other != nil && len(other.Emb) > 0 && &other.Emb[0] == old {
					other.Emb = moved
				}
			}
			n.tables = append(n.tables, moved)
		}
		n.tableOf[side] = found
		for _, d := range append(append([]*encoder.Dense(nil), tw.Hidden...), tw.Proj) {
			k, ok := seen[d]
			if !ok {
				k = len(n.dense)
				seen[d] = k
				n.dense = append(n.dense, d)
			}
			n.layers[side] = append(n.layers[side], k)
		}
	}
	return n, nil
}

// trace is the forward state of one text, kept for its backward pass.
type trace struct {
	side int
	feat encoder.Features
	h    [][]float32 // h[0] = bag, h[l+1] = output of hidden layer l (after activation)
	z    []float32   // projection output
	norm float64     // ||z||
	out  []float32   // z / ||z||
	gBag []float32   // dLoss/dh[0], filled by backward
}

func (n *net) newTrace() *trace {
	t := &trace{}
	t.h = append(t.h, make([]float32, n.bagDim))
	for _, k := range n.layers[0][:len(n.layers[0])-1] {
		t.h = append(t.h, make([]float32, n.dense[k].Out))
	}
	t.z = make([]float32, n.dim)
	t.out = make([]float32, n.dim)
	t.gBag = make([]float32, n.bagDim)
	return t
}

// forward runs side's tower on t.feat, exactly as encoder.Model.ForwardFeatures does.
func (n *net) forward(t *trace) {
	emb := n.tables[n.tableOf[t.side]]
	h0 := t.h[0]
	clear(h0)
	vec.Bag(h0, emb, t.feat.Idx, t.feat.Val[:len(t.feat.Idx)])
	ls := n.layers[t.side]
	for l, k := range ls[:len(ls)-1] {
		n.dense[k].Forward(t.h[l], t.h[l+1])
		encoder.Activate(n.act, t.h[l+1])
	}
	n.dense[ls[len(ls)-1]].Forward(t.h[len(t.h)-1], t.z)
	var s float64
	for _, v := range t.z {
		s += float64(v) * float64(v)
	}
	t.norm = math.Sqrt(s)
	if t.norm > 0 && !math.IsInf(t.norm, 0) && !math.IsNaN(t.norm) {
		inv := float32(1 / t.norm)
		for i, v := range t.z {
			t.out[i] = v * inv
		}
	} else {
		t.norm = 0
		clear(t.out)
	}
}

// grads holds the dense-layer gradients of one worker.
type grads struct {
	w, b [][]float32 // per dense layer
	gh   [2][]float32
}

func (n *net) newGrads() *grads {
	g := &grads{}
	width := n.bagDim
	for _, d := range n.dense {
		g.w = append(g.w, make([]float32, len(d.W)))
		g.b = append(g.b, make([]float32, len(d.B)))
		width = max(width, d.In, d.Out)
	}
	g.gh = [2][]float32{make([]float32, width), make([]float32, width)}
	return g
}

func (g *grads) zero() {
	for i := range g.w {
		clear(g.w[i])
		clear(g.b[i])
	}
}

// backward takes dLoss/dout (gOut, len dim) for the text of t, adds the
// dense gradients into g and leaves dLoss/dh0 in t.gBag.
func (n *net) backward(t *trace, gOut []float32, g *grads) {
	clear(t.gBag)
	if t.norm == 0 {
		return
	}
	// out = z/||z||: dz = (gOut - out (out·gOut)) / ||z||
	dotOG := vek32.Dot(t.out, gOut)
	inv := float32(1 / t.norm)
	gz := g.gh[0][:n.dim]
	for i := range gz {
		gz[i] = (gOut[i] - t.out[i]*dotOG) * inv
	}
	ls := n.layers[t.side]
	cur, next := g.gh[0], g.gh[1]
	gcur := gz
	for l := len(ls) - 1; l >= 0; l-- {
		k := ls[l]
		d := n.dense[k]
		in := t.h[l]
		if l < len(ls)-1 {
			// gcur is dLoss/d(activation output) of layer l; through the activation
			post := t.h[l+1]
			switch n.act {
			case "relu":
				for i, v := range post {
					if v <= 0 {
						gcur[i] = 0
					}
				}
			case "identity":
			default:
				for i, v := range post {
					gcur[i] *= 1 - v*v
				}
			}
		}
		gw, gb := g.w[k], g.b[k]
		var gin []float32
		if l == 0 {
			gin = t.gBag
		} else {
			gin = next[:d.In]
			clear(gin)
		}
		for o := 0; o < d.Out; o++ {
			v := gcur[o]
			if v == 0 {
				continue
			}
			gb[o] += v
			vec.Axpy(v, in, gw[o*d.In:(o+1)*d.In])
			vec.Axpy(v, d.W[o*d.In:(o+1)*d.In], gin)
		}
		gcur = gin
		cur, next = next, cur
	}
	_ = cur
}
