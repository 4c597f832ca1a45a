package eval

import (
	"math"
	"slices"
	"sort"
	"strings"
)

// Hit is one retrieved document of a run.
type Hit struct {
	DocID string
	Score float64
}

// Run maps query id -> retrieved documents (any order; Evaluate sorts).
type Run map[string][]Hit

// Metrics are the per-query (or mean) figures.
type Metrics struct {
	NDCG10    float64 `json:"ndcg@10"`
	Recall100 float64 `json:"recall@100"`
	MRR10     float64 `json:"mrr@10"`
	MAP100    float64 `json:"map@100"`
}

// Options tune Evaluate. BEIR's EvaluateRetrieval.evaluate drops self-hits
// by default (ignore_identical_ids=True); twin eval does too.
type Options struct {
	// DropSelfHits removes retrieved docs whose id equals the query id.
	DropSelfHits bool
}

// Report is the outcome of Evaluate.
type Report struct {
	Mean     Metrics            `json:"mean"`
	PerQuery map[string]Metrics `json:"-"`
	Queries  int                `json:"queries"`  // queries averaged
	NoQrels  int                `json:"no_qrels"` // run queries skipped: no relevant judgement
	EmptyRun int                `json:"empty"`    // judged queries with nothing retrieved (scored 0)
	SelfHits int                `json:"self_hits,omitempty"`
}

// SortHits orders hits the way trec_eval does before scoring: score
// descending, then doc id descending (byte order). It sorts in place.
func SortHits(h []Hit) {
	sort.SliceStable(h, func(i, j int) bool {
		if h[i].Score != h[j].Score {
			return h[i].Score > h[j].Score
		}
		return h[i].DocID > h[j].DocID
	})
}

// Evaluate scores run against qrels. Every query of qrels with at least one
// relevant doc is averaged (an absent or empty run scores 0); run queries
// without relevant judgements are skipped and counted in NoQrels.
// run is not modified.
func Evaluate(qrels Qrels, run Run, opt Options) Report {
	rep := Report{PerQuery: map[string]Metrics{}}
	for qid := range run {
		if numRelevant(qrels[qid]) == 0 {
			rep.NoQrels++
		}
	}
	var sum Metrics
	for _, qid := range sortedKeys(qrels) {
		judged := qrels[qid]
		if numRelevant(judged) == 0 {
			continue
		}
		hits := slices.Clone(run[qid])
		if opt.DropSelfHits {
			n := len(hits)
			hits = slices.DeleteFunc(hits, func(h Hit) bool { return h.DocID == qid })
			rep.SelfHits += n - len(hits)
		}
		hits = dedup(hits)
		SortHits(hits)
		if len(hits) == 0 {
			rep.EmptyRun++
		}
		m := score(judged, hits)
		rep.PerQuery[qid] = m
		sum.NDCG10 += m.NDCG10
		sum.Recall100 += m.Recall100
		sum.MRR10 += m.MRR10
		sum.MAP100 += m.MAP100
		rep.Queries++
	}
	if rep.Queries > 0 {
		n := float64(rep.Queries)
		rep.Mean = Metrics{sum.NDCG10 / n, sum.Recall100 / n, sum.MRR10 / n, sum.MAP100 / n}
	}
	return rep
}

// dedup keeps the best-scored copy of a doc retrieved twice (trec_eval
// rejects such runs; a fused list may produce them).
func dedup(h []Hit) []Hit {
	seen := make(map[string]int, len(h))
	out := h[:0]
	for _, x := range h {
		if i, ok := seen[x.DocID]; ok {
			if x.Score > out[i].Score {
				out[i].Score = x.Score
			}
			continue
		}
		seen[x.DocID] = len(out)
		out = append(out, x)
	}
	return out
}

func numRelevant(judged map[string]int) int {
	n := 0
	for _, g := range judged {
		if g >= 1 {
			n++
		}
	}
	return n
}

// score computes one query's metrics; hits are sorted and unique.
func score(judged map[string]int, hits []Hit) Metrics {
	var m Metrics
	nrel := numRelevant(judged)
	// nDCG@10
	var dcg float64
	for i := 0; i < len(hits) && i < 10; i++ {
		if g := judged[hits[i].DocID]; g > 0 {
			dcg += float64(g) / math.Log2(float64(i+2))
		}
	}
	grades := make([]int, 0, len(judged))
	for _, g := range judged {
		if g > 0 {
			grades = append(grades, g)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(grades)))
	var idcg float64
	for i := 0; i < len(grades) && i < 10; i++ {
		idcg += float64(grades[i]) / math.Log2(float64(i+2))
	}
	if idcg > 0 {
		m.NDCG10 = dcg / idcg
	}
	// Recall@100, MAP@100, MRR@10
	found := 0
	var ap float64
	for i := 0; i < len(hits) && i < 100; i++ {
		if judged[hits[i].DocID] >= 1 {
			found++
			ap += float64(found) / float64(i+1)
			if found == 1 && i < 10 {
				m.MRR10 = 1 / float64(i+1)
			}
		}
	}
	m.Recall100 = float64(found) / float64(nrel)
	m.MAP100 = ap / float64(nrel)
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	k := make([]string, 0, len(m))
	for s := range m {
		k = append(k, s)
	}
	sortStrings(k)
	return k
}

func sortStrings(s []string) { slices.SortFunc(s, strings.Compare) }
