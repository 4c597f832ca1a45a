package retriever

import (
	"math"
	"strings"
	"testing"
)

func l(src string, pairs ...any) List {
	out := List{Source: src}
	for i := 0; i < len(pairs); i += 2 {
		out.Hits = append(out.Hits, Scored{pairs[i].(string), pairs[i+1].(float64)})
	}
	return out
}

func order(h []Hit) string {
	var s []string
	for _, x := range h {
		s = append(s, x.DocID)
	}
	return strings.Join(s, " ")
}

func TestRRF(t *testing.T) {
	dense := l("dense", "a", 0.9, "b", 0.8, "c", 0.7)
	lex := l("bm25", "c", 12.0, "d", 11.0, "a", 3.0)
	h := RRF([]List{dense, lex}, 60)
	// a: 1/61 + 1/63; c: 1/63 + 1/61; b: 1/62; d: 1/62 -> a,c tie -> id order; b,d tie
	if got := order(h); got != "a c b d" {
		t.Fatalf("order %q", got)
	}
	if math.Abs(h[0].Score-(1.0/61+1.0/63)) > 1e-15 {
		t.Fatalf("score %v", h[0].Score)
	}
	c := h[2].Sources // b
	if c[0].Rank != 2 || c[1].Rank != 0 || c[0].Score != 0.8 || c[1].Part != 0 {
		t.Fatalf("explanation of b: %+v", c)
	}
	// k changes the balance: with k=1, rank 1 dominates
	h = RRF([]List{l("x", "p", 1.0, "q", 0.5), l("y", "q", 1.0, "r", 0.5, "p", 0.1)}, 1)
	// p: 1/2+1/4=.75, q: 1/3+1/2=.833, r: 1/3
	if got := order(h); got != "q p r" {
		t.Fatalf("k=1 order %q", got)
	}
	if got := order(RRF(nil, 0)); got != "" {
		t.Fatalf("empty: %q", got)
	}
}

func TestWeightedMinMax(t *testing.T) {
	dense := l("dense", "a", 0.9, "b", 0.5, "c", 0.1)
	lex := l("bm25", "c", 20.0, "d", 10.0)
	for _, tc := range []struct {
		alpha float64
		want  string
	}{
		{1, "a b c d"},   // dense only: a 1, b .5, c 0, d 0 (absent) -> c, d tie by id
		{0, "c a b d"},   // bm25 only: c 1; d (worst) 0 ties a, b (absent, 0) -> id order
		{0.5, "a c b d"}, // checked below with the explanation
	} {
		h := Weighted([]List{dense, lex}, []float64{tc.alpha, 1 - tc.alpha}, MinMax)
		if tc.alpha == 0.5 {
			// a = .5*1 + 0 = .5; c = .5*0 + .5*1 = .5; b = .25; d = 0
			if got := order(h); got != "a c b d" {
				t.Fatalf("alpha .5 order %q", got)
			}
			if h[1].Sources[1].Norm != 1 || h[1].Sources[0].Norm != 0 || h[1].Sources[1].Part != 0.5 {
				t.Fatalf("explanation of c: %+v", h[1].Sources)
			}
			continue
		}
		if got := order(h); got != tc.want {
			t.Fatalf("alpha %v: order %q, want %q", tc.alpha, got, tc.want)
		}
	}
}

func TestWeightedZScore(t *testing.T) {
	dense := l("dense", "a", 3.0, "b", 1.0) // mean 2, sd 1 -> a 1, b -1
	lex := l("bm25", "b", 10.0, "c", 10.0)  // sd 0 -> 0 for all
	h := Weighted([]List{dense, lex}, []float64{0.5, 0.5}, ZScore)
	// a: .5*1 + .5*0 (absent from bm25: min z = 0) = .5; b: -.5; c: .5*(-1) (absent: min z of dense) = -.5
	if got := order(h); got != "a b c" {
		t.Fatalf("order %q", got)
	}
	if h[0].Score != 0.5 || h[1].Score != -0.5 || h[2].Score != -0.5 {
		t.Fatalf("scores %+v", h)
	}
}

func TestWeightedPanicsOnBadWeights(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("want panic")
		}
	}()
	Weighted([]List{{}}, nil, MinMax)
}

func TestSingleAndDuplicates(t *testing.T) {
	h := Single(l("bm25", "x", 2.0, "y", 1.0))
	if order(h) != "x y" || h[1].Sources[0].Rank != 2 {
		t.Fatalf("%+v", h)
	}
	// a doc listed twice in one source keeps its best rank
	h = RRF([]List{l("s", "a", 1.0, "a", 0.5, "b", 0.1)}, 60)
	if h[0].DocID != "a" || h[0].Sources[0].Rank != 1 || len(h) != 2 {
		t.Fatalf("%+v", h)
	}
}
