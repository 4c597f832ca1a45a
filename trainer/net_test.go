package trainer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/twinsearch/twin/encoder"
)

func tinyModel(t testing.TB, tying encoder.Tying, act string, hidden []int, seed uint64) *encoder.Model {
	t.Helper()
	m, err := encoder.New(encoder.Config{
		Features:   encoder.FeatureConfig{Bits: 10},
		BagDim:     8,
		Hidden:     hidden,
		Activation: act,
		Dim:        6,
		Tying:      tying,
	}, seed)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// refForward is a float64 re-implementation of the tower, the oracle of
// the gradient tests.
func refForward(m *encoder.Model, side int, f *encoder.Features, act string) []float64 {
	tw := m.Query
	if side == 1 {
		tw = m.Doc
	}
	d := m.Config.BagDim
	h := make([]float64, d)
	for j, id := range f.Idx {
		for k := 0; k < d; k++ {
			h[k] += float64(f.Val[j]) * float64(tw.Emb[int(id)*d+k])
		}
	}
	dense := func(l *encoder.Dense, x []float64) []float64 {
		out := make([]float64, l.Out)
		for o := range out {
			s := float64(l.B[o])
			for i := 0; i < l.In; i++ {
				s += float64(l.W[o*l.In+i]) * x[i]
			}
			out[o] = s
		}
		return out
	}
	for _, l := range tw.Hidden {
		h = dense(l, h)
		for i, v := range h {
			switch act {
			case "relu":
				h[i] = math.Max(v, 0)
			case "identity":
			default:
				h[i] = math.Tanh(v)
			}
		}
	}
	z := dense(tw.Proj, h)
	var s float64
	for _, v := range z {
		s += v * v
	}
	s = math.Sqrt(s)
	for i := range z {
		z[i] /= s
	}
	return z
}

var testTexts = []string{
	"the quick brown fox jumps", "a lazy dog sleeps all day", "proteins fold in water",
	"neurons fire together", "cats and dogs", "gradient descent converges slowly",
	"brown dogs jump", "water boils at high temperature",
}

func testBatch(labels bool) *batchTexts {
	b := &batchTexts{Q: testTexts[:4], P: testTexts[4:8]}
	if labels {
		b.Y = []float64{1, 0.2, 0.6, 0}
	}
	return b
}

// refLoss evaluates loss on the float64 reference forward of batch b.
func refLoss(m *encoder.Model, loss Loss, b *batchTexts, act string) float64 {
	feat := m.Featurizer()
	e := &Emb{Y: b.Y, NegOf: b.NegOf}
	enc := func(side int, texts []string) [][]float64 {
		var out [][]float64
		for _, s := range texts {
			var f encoder.Features
			feat.Featurize(s, &f)
			out = append(out, refForward(m, side, &f, act))
		}
		return out
	}
	e.Q, e.P, e.N = enc(0, b.Q), enc(1, b.P), enc(1, b.N)
	return loss.Eval(e, likeEmb(e))
}

func TestForwardMatchesEncoder(t *testing.T) {
	for _, tying := range []encoder.Tying{encoder.Tied, encoder.Untied, encoder.Heads} {
		for _, act := range []string{"tanh", "relu", "identity"} {
			m := tinyModel(t, tying, act, []int{7, 5}, 3)
			n, err := newNet(m)
			if err != nil {
				t.Fatal(err)
			}
			tr := n.newTrace()
			var s encoder.Scratch
			want := make([]float32, m.Dim())
			for side := 0; side < 2; side++ {
				for _, text := range testTexts {
					tr.side = side
					m.Featurizer().Featurize(text, &tr.feat)
					n.forward(tr)
					m.ForwardFeatures(encoder.TowerKind(side), &tr.feat, &s, want)
					for i := range want {
						if math.Abs(float64(want[i]-tr.out[i])) > 1e-5 {
							t.Fatalf("%s/%s side %d %q: out[%d] = %g, encoder %g", tying, act, side, text, i, tr.out[i], want[i])
						}
					}
				}
			}
		}
	}
}

// TestTowerGradients checks every parameter family (embedding rows, hidden
// W and B, projection W and B) of tied, untied and heads models against
// central differences of the float64 reference, through real losses.
func TestTowerGradients(t *testing.T) {
	cases := []struct {
		tying  encoder.Tying
		act    string
		hidden []int
		loss   Loss
		labels bool
	}{
		{encoder.Tied, "tanh", []int{7}, &InfoNCE{Temperature: 0.3}, false},
		{encoder.Untied, "tanh", []int{7}, &InfoNCE{Temperature: 0.3, Symmetric: true}, false},
		{encoder.Heads, "tanh", []int{7, 5}, &InfoNCE{Temperature: 0.3}, false},
		{encoder.Tied, "relu", []int{7}, &MSE{}, true},
		{encoder.Untied, "identity", []int{}, &CoSENT{Scale: 5}, true},
		{encoder.Heads, "tanh", []int{7}, &Triplet{Margin: 0.5}, false},
		{encoder.Tied, "tanh", []int{6}, &Contrastive{Margin: 1}, true},
		{encoder.Tied, "tanh", []int{6}, &BCE{Scale: 4, Bias: -1}, true},
	}
	for ci, c := range cases {
		t.Run(fmt.Sprintf("%d-%s-%s-%s", ci, c.tying, c.act, c.loss.Name()), func(t *testing.T) {
			m := tinyModel(t, c.tying, c.act, c.hidden, uint64(ci+1))
			// Shrink embeddings so tanh does not saturate.
			for _, tw := range []*encoder.Tower{m.Query, m.Doc} {
				for i := range tw.Emb {
					tw.Emb[i] *= 0.5
				}
			}
			n, err := newNet(m)
			if err != nil {
				t.Fatal(err)
			}
			b := testBatch(c.labels)
			s := newStepper(n, c.loss, 2)
			s.grad(b)
			r := rand.New(rand.NewPCG(uint64(ci), 1))
			check := func(what string, p []float32, i int, analytic float32) {
				t.Helper()
				old := p[i]
				const h = 2e-4
				p[i] = old + h
				hp := float64(p[i]) - float64(old)
				lp := refLoss(m, c.loss, b, c.act)
				p[i] = old - h
				hm := float64(old) - float64(p[i])
				lm := refLoss(m, c.loss, b, c.act)
				p[i] = old
				num := (lp - lm) / (hp + hm)
				if math.Abs(num-float64(analytic)) > 2e-4+2e-3*math.Abs(num) {
					t.Errorf("%s[%d]: analytic %.6g numeric %.6g", what, i, analytic, num)
				}
			}
			for k, d := range n.dense {
				for range 6 {
					i := r.IntN(len(d.W))
					check(fmt.Sprintf("dense%d.W", k), d.W, i, s.wg[0].w[k][i])
				}
				for range 3 {
					i := r.IntN(len(d.B))
					check(fmt.Sprintf("dense%d.B", k), d.B, i, s.wg[0].b[k][i])
				}
			}
			for ti, sg := range s.sg {
				if len(sg.rows) == 0 {
					t.Fatalf("table %d: no rows touched", ti)
				}
				for range 12 {
					sl := r.IntN(len(sg.rows))
					k := r.IntN(n.bagDim)
					row := int(sg.rows[sl])
					acc := make([]float32, n.bagDim)
					sg.rowGrad(sl, s.traces, acc)
					check(fmt.Sprintf("emb%d[%d]", ti, row), n.tables[ti], row*n.bagDim+k, acc[k])
				}
				// An untouched row has no gradient: perturbing it changes nothing.
				for row := 0; row < n.buckets; row++ {
					if sg.slot[row] < 0 {
						check(fmt.Sprintf("emb%d[untouched %d]", ti, row), n.tables[ti], row*n.bagDim, 0)
						break
					}
				}
			}
		})
	}
}

// The parallel step must give the same update as the single-worker step.
func TestStepWorkersAgree(t *testing.T) {
	run := func(workers int) *encoder.Model {
		m := tinyModel(t, encoder.Tied, "tanh", []int{7}, 9)
		n, _ := newNet(m)
		s := newStepper(n, &InfoNCE{Temperature: 0.1}, workers)
		for step := 1; step <= 3; step++ {
			h := &hyper{lr: 1e-2, embLR: 1e-2, b1: 0.9, b2: 0.999, eps: 1e-8, step: step, clip: 1}
			s.step(testBatch(false), h)
		}
		return m
	}
	a, b := run(1), run(2)
	for i := range a.Query.Emb {
		if d := math.Abs(float64(a.Query.Emb[i] - b.Query.Emb[i])); d > 1e-5 {
			t.Fatalf("emb[%d] differs by %g", i, d)
		}
	}
	for i := range a.Query.Proj.W {
		if d := math.Abs(float64(a.Query.Proj.W[i] - b.Query.Proj.W[i])); d > 1e-5 {
			t.Fatalf("proj[%d] differs by %g", i, d)
		}
	}
}

// The float32 InfoNCE and BCE fast paths equal the float64 reference.
func TestInfoNCE32MatchesReference(t *testing.T) {
	for _, l := range []Loss{&InfoNCE{Temperature: 0.1}, &InfoNCE{Temperature: 0.2, Symmetric: true}, &BCE{Scale: 7, Bias: -2, Learn: true}} {
		sym := l.Name() // for messages
		m := tinyModel(t, encoder.Untied, "tanh", []int{7}, 5)
		n, _ := newNet(m)
		b := testBatch(false)
		b.N = []string{"an extra negative text", "another shared one"}
		b.NegOf = []int{1, -1}
		fast := newStepper(n, l, 2)
		ref := newStepper(n, l, 1)
		ref.reference = true
		fast.forwardBatch(b)
		ref.forwardBatch(b)
		lf := fast.lossOf(b)
		var gf []float64
		if sp, ok := l.(ScalarParams); ok {
			gf = append(gf, sp.Grads()...)
		}
		lr := ref.lossOf(b)
		if math.Abs(lf-lr) > 1e-5 {
			t.Fatalf("%s: loss %g, reference %g", sym, lf, lr)
		}
		if sp, ok := l.(ScalarParams); ok {
			for k, g := range sp.Grads() {
				if math.Abs(g-gf[k]) > 1e-5 {
					t.Fatalf("%s: scalar grad %d = %g, reference %g", sym, k, gf[k], g)
				}
			}
		}
		for k := range 10 {
			for i := range fast.gOut[k] {
				if d := math.Abs(float64(fast.gOut[k][i] - ref.gOut[k][i])); d > 1e-5 {
					t.Fatalf("%s: gOut[%d][%d] = %g, reference %g", sym, k, i, fast.gOut[k][i], ref.gOut[k][i])
				}
			}
		}
	}
}
