package retriever

import (
	"fmt"
	"testing"

	"github.com/twinsearch/twin/eval"
)

func TestTunePicksTheInformativeSource(t *testing.T) {
	// Dense ranks the relevant doc first; BM25 ranks junk "z..." first and
	// never finds it. Weighted fusion with alpha > 0.5 is perfect; RRF ties
	// the two rank-1 docs and eval breaks ties by doc id descending (trec_eval), so the junk "z..." wins.
	var qs []TuneQuery
	qrels := eval.Qrels{}
	for i := 0; i < 20; i++ {
		q := fmt.Sprintf("q%d", i)
		rel := fmt.Sprintf("r%d", i)
		qrels[q] = map[string]int{rel: 1}
		d := List{Source: "dense", Hits: []Scored{{rel, 0.9}, {"x1", 0.5}, {"x2", 0.4}}}
		b := List{Source: "bm25", Hits: []Scored{{"z" + q, 20}, {"x2", 10}}}
		qs = append(qs, TuneQuery{QID: q, Cand: Candidates{Dense: d, BM25: b, Rescored: List{Source: "bm25", Hits: []Scored{{"x2", 10}}}}})
	}
	res, err := Tune(qs, qrels, Grid(200))
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(Grid(200)) || len(Grid(100)) >= len(Grid(200)) {
		t.Fatalf("%d results for %d grid points", len(res), len(Grid(200)))
	}
	best := res[0]
	if best.Metrics.NDCG10 != 1 || best.Settings.Fusion != FusionWeighted || best.Settings.AlphaValue() <= 0.5 {
		t.Fatalf("best %+v alpha %v", best, best.Settings.AlphaValue())
	}
	worst := res[len(res)-1]
	if worst.Metrics.NDCG10 >= 1 {
		t.Fatalf("every grid point perfect: the test cannot tell them apart")
	}
	if _, err := Tune(nil, qrels, Grid(100)); err == nil {
		t.Fatal("no queries: want error")
	}
}
