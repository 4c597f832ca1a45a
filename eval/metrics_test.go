package eval

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

func TestEvaluateHandComputed(t *testing.T) {
	l2 := math.Log2
	tests := []struct {
		name  string
		qrels Qrels
		run   Run
		opt   Options
		want  map[string]Metrics
		// counts
		queries, noQrels, empty, self int
	}{{
		name:  "graded",
		qrels: Qrels{"q1": {"d1": 2, "d2": 1, "d3": 0, "d4": 1}},
		run:   Run{"q1": {{"d2", 0.6}, {"d3", 0.9}, {"d5", 0.7}, {"d1", 0.8}}},
		// sorted: d3(0) d1(2) d5(-) d2(1); relevant: d1 d2 d4
		want: map[string]Metrics{"q1": {
			NDCG10:    (2/l2(3) + 1/l2(5)) / (2/l2(2) + 1/l2(3) + 1/l2(4)),
			Recall100: 2.0 / 3,
			MRR10:     1.0 / 2,
			MAP100:    (1.0/2 + 2.0/4) / 3,
		}},
		queries: 1,
	}, {
		name:  "ties broken by doc id descending",
		qrels: Qrels{"q": {"a": 1}},
		run:   Run{"q": {{"a", 1}, {"b", 1}, {"c", 1}, {"0", 2}}},
		// sorted: 0 c b a -> a at rank 4
		want:    map[string]Metrics{"q": {NDCG10: 1 / l2(5), Recall100: 1, MRR10: 1.0 / 4, MAP100: 1.0 / 4}},
		queries: 1,
	}, {
		name:    "empty run and query without qrels",
		qrels:   Qrels{"q1": {"d1": 1}, "q2": {"d9": 0}},
		run:     Run{"q2": {{"d9", 1}}, "q3": {{"d1", 1}}},
		want:    map[string]Metrics{"q1": {}},
		queries: 1, noQrels: 2, empty: 1,
	}, {
		name:  "self hits dropped",
		qrels: Qrels{"d1": {"d2": 1}},
		run:   Run{"d1": {{"d1", 9}, {"d2", 5}}},
		opt:   Options{DropSelfHits: true},
		want:  map[string]Metrics{"d1": {NDCG10: 1, Recall100: 1, MRR10: 1, MAP100: 1}},
		// without dropping d2 would be rank 2
		queries: 1, self: 1,
	}, {
		name:  "cut-offs: relevant doc at rank 11 counts for recall and MAP, not nDCG@10/MRR@10",
		qrels: Qrels{"q": {"r": 3}},
		run: func() Run {
			var h []Hit
			for i := 0; i < 10; i++ {
				h = append(h, Hit{string(rune('a' + i)), float64(100 - i)})
			}
			return Run{"q": append(h, Hit{"r", 1})}
		}(),
		want:    map[string]Metrics{"q": {NDCG10: 0, Recall100: 1, MRR10: 0, MAP100: 1.0 / 11}},
		queries: 1,
	}, {
		name:    "duplicate doc in run keeps the best score",
		qrels:   Qrels{"q": {"a": 1, "b": 1}},
		run:     Run{"q": {{"a", 1}, {"b", 2}, {"a", 3}}},
		want:    map[string]Metrics{"q": {NDCG10: 1, Recall100: 1, MRR10: 1, MAP100: 1}},
		queries: 1,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := Evaluate(tc.qrels, tc.run, tc.opt)
			if rep.Queries != tc.queries || rep.NoQrels != tc.noQrels || rep.EmptyRun != tc.empty || rep.SelfHits != tc.self {
				t.Fatalf("counts: queries %d noqrels %d empty %d self %d, want %d %d %d %d",
					rep.Queries, rep.NoQrels, rep.EmptyRun, rep.SelfHits, tc.queries, tc.noQrels, tc.empty, tc.self)
			}
			var mean Metrics
			for q, w := range tc.want {
				g, ok := rep.PerQuery[q]
				if !ok {
					t.Fatalf("query %s not scored", q)
				}
				if !near(g.NDCG10, w.NDCG10) || !near(g.Recall100, w.Recall100) || !near(g.MRR10, w.MRR10) || !near(g.MAP100, w.MAP100) {
					t.Errorf("query %s: got %+v, want %+v", q, g, w)
				}
				mean.NDCG10 += w.NDCG10 / float64(len(tc.want))
			}
			if !near(rep.Mean.NDCG10, mean.NDCG10) {
				t.Errorf("mean nDCG %v, want %v", rep.Mean.NDCG10, mean.NDCG10)
			}
		})
	}
}

func TestEvaluateDoesNotModifyRun(t *testing.T) {
	run := Run{"q": {{"a", 1}, {"b", 2}}}
	Evaluate(Qrels{"q": {"a": 1}}, run, Options{DropSelfHits: true})
	if run["q"][0].DocID != "a" || len(run["q"]) != 2 {
		t.Fatalf("run modified: %v", run)
	}
}
