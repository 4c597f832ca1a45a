package retriever

import (
	"fmt"
	"sort"

	"github.com/twinsearch/twin/eval"
)

// TuneQuery is one dev query's candidates, fetched once at the largest k'
// of the grid (Retriever.Candidates).
type TuneQuery struct {
	QID  string
	Cand Candidates
}

// TuneResult is one grid point's dev score.
type TuneResult struct {
	Settings Settings
	Metrics  eval.Metrics
}

// Grid returns the default tuning grid: the three shapes, k' in {50, 100, 200}
// (never above maxKPrime), RRF k in {5, 10, 20, 40, 60, 100} and weighted
// fusion with alpha in {0, 0.1, ..., 1} under min-max and z-score.
func Grid(maxKPrime int) []Settings {
	var g []Settings
	for _, shape := range []string{ShapeUnion, ShapeRerank, ShapeFull} {
		for _, kp := range []int{50, 100, 200} {
			if kp > maxKPrime {
				continue
			}
			for _, rk := range []float64{5, 10, 20, 40, 60, 100} {
				g = append(g, Settings{Mode: Hybrid, Shape: shape, KPrime: kp, Fusion: FusionRRF, RRFK: rk})
			}
			for _, norm := range []Norm{MinMax, ZScore} {
				for i := 0; i <= 10; i++ {
					a := float64(i) / 10
					g = append(g, Settings{Mode: Hybrid, Shape: shape, KPrime: kp, Fusion: FusionWeighted, Alpha: &a, Norm: norm})
				}
			}
		}
	}
	return g
}

// Tune fuses every dev query under every grid point and ranks the points by
// mean nDCG@10 on qrels (ties: recall@100, then grid order). Fusion is pure,
// so the cost is fusion only: no index is touched.
func Tune(qs []TuneQuery, qrels eval.Qrels, grid []Settings) ([]TuneResult, error) {
	if len(qs) == 0 {
		return nil, fmt.Errorf("retriever: tune: no dev queries")
	}
	out := make([]TuneResult, 0, len(grid))
	for _, g := range grid {
		if err := g.Validate(); err != nil {
			return nil, err
		}
		g = resolveStatic(g)
		run := eval.Run{}
		for _, q := range qs {
			hits := FuseCandidates(q.Cand, g)
			if len(hits) > 100 {
				hits = hits[:100]
			}
			eh := make([]eval.Hit, len(hits))
			for i, h := range hits {
				eh[i] = eval.Hit{DocID: h.DocID, Score: h.Score}
			}
			run[q.QID] = eh
		}
		rep := eval.Evaluate(qrels, run, eval.Options{})
		out = append(out, TuneResult{Settings: g, Metrics: rep.Mean})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i].Metrics, out[j].Metrics
		if a.NDCG10 != b.NDCG10 {
			return a.NDCG10 > b.NDCG10
		}
		return a.Recall100 > b.Recall100
	})
	return out, nil
}

// resolveStatic applies the defaults that do not depend on a collection.
func resolveStatic(s Settings) Settings {
	if s.Fusion == "" {
		s.Fusion = FusionRRF
	}
	if s.Shape == "" {
		s.Shape = ShapeUnion
	}
	if s.RRFK == 0 {
		s.RRFK = 60
	}
	if s.Norm == "" {
		s.Norm = MinMax
	}
	if s.Alpha == nil {
		a := DefaultAlpha
		s.Alpha = &a
	}
	if s.KPrime == 0 {
		s.KPrime = 100
	}
	return s
}
