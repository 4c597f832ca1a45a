package trainer

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func randRows(r *rand.Rand, n, d int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, d)
		var s float64
		for j := range out[i] {
			out[i][j] = r.NormFloat64()
			s += out[i][j] * out[i][j]
		}
		for j := range out[i] {
			out[i][j] /= math.Sqrt(s)
		}
	}
	return out
}

func likeEmb(e *Emb) *Emb {
	mk := func(x [][]float64) [][]float64 {
		out := make([][]float64, len(x))
		for i := range x {
			out[i] = make([]float64, len(x[i]))
		}
		return out
	}
	return &Emb{Q: mk(e.Q), P: mk(e.P), N: mk(e.N), NegOf: e.NegOf, Y: e.Y}
}

// checkLossGrad compares Eval's gradient with central differences.
func checkLossGrad(t *testing.T, l Loss, e *Emb) {
	t.Helper()
	g := likeEmb(e)
	loss := l.Eval(e, g)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		t.Fatalf("loss %v", loss)
	}
	scratch := likeEmb(e)
	const h = 1e-6
	worst := 0.0
	check := func(rows, grows [][]float64, what string) {
		for i := range rows {
			for j := range rows[i] {
				old := rows[i][j]
				rows[i][j] = old + h
				lp := l.Eval(e, scratch)
				rows[i][j] = old - h
				lm := l.Eval(e, scratch)
				rows[i][j] = old
				num := (lp - lm) / (2 * h)
				diff := math.Abs(num - grows[i][j])
				if diff > 1e-5+1e-4*math.Abs(num) {
					t.Errorf("%s d%s[%d][%d]: analytic %.8g numeric %.8g", l.Name(), what, i, j, grows[i][j], num)
					return
				}
				worst = math.Max(worst, diff)
			}
		}
	}
	check(e.Q, g.Q, "Q")
	check(e.P, g.P, "P")
	check(e.N, g.N, "N")
	if sp, ok := l.(ScalarParams); ok {
		b := l.(*BCE)
		if b.Learn {
			gs := append([]float64(nil), sp.Grads()...)
			for k, p := range []*float64{&b.Scale, &b.Bias} {
				old := *p
				*p = old + h
				lp := l.Eval(e, scratch)
				*p = old - h
				lm := l.Eval(e, scratch)
				*p = old
				num := (lp - lm) / (2 * h)
				if math.Abs(num-gs[k]) > 1e-5+1e-4*math.Abs(num) {
					t.Errorf("bce scalar %d: analytic %g numeric %g", k, gs[k], num)
				}
			}
		}
	}
}

func TestLossGradients(t *testing.T) {
	const d = 6
	type mk func(r *rand.Rand) *Emb
	positives := func(r *rand.Rand) *Emb {
		return &Emb{Q: randRows(r, 5, d), P: randRows(r, 5, d)}
	}
	withNeg := func(r *rand.Rand) *Emb {
		return &Emb{Q: randRows(r, 4, d), P: randRows(r, 4, d), N: randRows(r, 3, d), NegOf: []int{0, -1, 2}}
	}
	binary := func(r *rand.Rand) *Emb {
		return &Emb{Q: randRows(r, 6, d), P: randRows(r, 6, d), Y: []float64{1, 0, 1, 1, 0, 0}}
	}
	graded := func(r *rand.Rand) *Emb {
		y := make([]float64, 6)
		for i := range y {
			y[i] = float64(r.IntN(6)) / 5
		}
		return &Emb{Q: randRows(r, 6, d), P: randRows(r, 6, d), Y: y}
	}
	cases := []struct {
		name string
		loss Loss
		data []mk
	}{
		{"infonce", &InfoNCE{Temperature: 0.1}, []mk{positives, withNeg}},
		{"infonce-sym", &InfoNCE{Temperature: 0.2, Symmetric: true}, []mk{positives, withNeg}},
		{"contrastive-euclid", &Contrastive{Margin: 1.2}, []mk{positives, withNeg, binary, graded}},
		{"contrastive-cos", &Contrastive{Margin: 0.8, Cosine: true}, []mk{positives, withNeg, binary}},
		{"online-contrastive", &Contrastive{Margin: 1.2, Online: true}, []mk{positives, withNeg, binary}},
		{"bce-fixed", &BCE{Scale: 5, Bias: -1}, []mk{positives, binary, graded}},
		{"bce-learn", &BCE{Scale: 5, Bias: -1, Learn: true}, []mk{positives, withNeg, binary}},
		{"triplet-all", &Triplet{Margin: 0.5}, []mk{positives, withNeg, binary}},
		{"triplet-all-cos", &Triplet{Margin: 0.5, Cosine: true}, []mk{positives, withNeg}},
		{"triplet-hard", &Triplet{Margin: 0.5, Hard: true}, []mk{positives, withNeg}},
		{"cosent", &CoSENT{Scale: 20}, []mk{binary, graded}},
		{"mse", &MSE{}, []mk{binary, graded}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 3; seed++ {
				for _, m := range c.data {
					checkLossGrad(t, c.loss, m(rand.New(rand.NewPCG(seed, 7))))
				}
			}
		})
	}
}

// A loss must go down along its negative gradient (catches sign errors that
// a symmetric check would miss) and be larger for swapped positives.
func TestLossDescends(t *testing.T) {
	for _, name := range LossNames {
		l, err := NewLoss(name, LossOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r := rand.New(rand.NewPCG(3, 3))
		e := &Emb{Q: randRows(r, 8, 5), P: randRows(r, 8, 5)}
		if l.NeedsLabels() {
			e.Y = []float64{1, 0, 0.5, 1, 0.2, 0.8, 0, 1}
		}
		g := likeEmb(e)
		before := l.Eval(e, g)
		for _, rows := range [][][]float64{e.Q, e.P} {
			gr := g.Q
			if &rows[0] == &e.P[0] {
				gr = g.P
			}
			for i := range rows {
				axpy(-1e-3, gr[i], rows[i])
			}
		}
		after := l.Eval(e, likeEmb(e))
		if !(after < before) && before > 0 {
			t.Errorf("%s: loss %g -> %g after a gradient step", name, before, after)
		}
	}
}

func TestNewLossUnknown(t *testing.T) {
	_, err := NewLoss("hinge", LossOptions{})
	if !errors.Is(err, ErrUnknownLoss) {
		t.Fatalf("err = %v", err)
	}
	if _, err := NewLoss("triplet", LossOptions{Distance: "manhattan"}); err == nil {
		t.Fatal("want error for unknown distance")
	}
}

func TestSpearman(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	if s := spearman(x, []float64{10, 20, 30, 40, 50}); math.Abs(s-1) > 1e-12 {
		t.Fatal(s)
	}
	if s := spearman(x, []float64{5, 4, 3, 2, 1}); math.Abs(s+1) > 1e-12 {
		t.Fatal(s)
	}
	if s := spearman([]float64{1, 1, 2}, []float64{1, 2, 3}); s <= 0 || s >= 1 {
		t.Fatal(s)
	}
}
