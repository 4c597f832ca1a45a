package trainer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/eval"
	"github.com/twinsearch/twin/internal/vec"
)

// Evaluator scores a model on held-out data. Evaluate returns the figure
// early stopping watches (higher is better) and every figure it computed.
type Evaluator interface {
	Metric() string
	Evaluate(ctx context.Context, m *encoder.Model) (float64, map[string]float64, error)
}

// ErrNoQrels reports a dev split without relevance judgements.
var ErrNoQrels = errors.New("trainer: dev split has no qrels")

// RetrievalDev scores dense retrieval with exact cosine search over a
// corpus: nDCG@10 (the watched metric), Recall@100 and MRR@10.
type RetrievalDev struct {
	Docs    []string // document bodies, in corpus order
	DocIDs  []string
	Queries map[string]string
	Qrels   eval.Qrels
}

// NewRetrievalDev reads every body of c into memory (the dev evaluation
// encodes the whole corpus each time) and keeps the queries of qrels.
func NewRetrievalDev(c *Corpus, queries map[string]string, qrels eval.Qrels) (*RetrievalDev, error) {
	if len(qrels) == 0 {
		return nil, ErrNoQrels
	}
	d := &RetrievalDev{DocIDs: c.IDs, Queries: map[string]string{}, Qrels: qrels}
	for i := 0; i < c.Len(); i++ {
		b, err := c.Body(i)
		if err != nil {
			return nil, err
		}
		d.Docs = append(d.Docs, b)
	}
	for qid := range qrels {
		if t, ok := queries[qid]; ok {
			d.Queries[qid] = t
		}
	}
	if len(d.Queries) == 0 {
		return nil, fmt.Errorf("%w: none of its %d query ids is in the queries file", ErrNoQrels, len(qrels))
	}
	return d, nil
}

func (d *RetrievalDev) Metric() string { return "ndcg@10" }

func (d *RetrievalDev) Evaluate(ctx context.Context, m *encoder.Model) (float64, map[string]float64, error) {
	rep, err := RetrieveEval(ctx, m, d.Docs, d.DocIDs, d.Queries, d.Qrels)
	if err != nil {
		return 0, nil, err
	}
	return rep.Mean.NDCG10, map[string]float64{
		"ndcg@10": rep.Mean.NDCG10, "recall@100": rep.Mean.Recall100, "mrr@10": rep.Mean.MRR10,
	}, nil
}

// EncodeAll encodes texts with one tower into a fresh matrix.
func EncodeAll(ctx context.Context, m *encoder.Model, t encoder.TowerKind, texts []string) ([][]float32, error) {
	flat := make([]float32, len(texts)*m.Dim())
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = flat[i*m.Dim() : (i+1)*m.Dim()]
	}
	return out, m.EncodeBatch(ctx, t, texts, out)
}

// ExactSearch returns the top k documents of each query by inner product.
func ExactSearch(q, docs [][]float32, k int) [][]vec.Hit {
	out := make([][]vec.Hit, len(q))
	for i, qv := range q {
		hits := make([]vec.Hit, 0, len(docs))
		for j, dv := range docs {
			hits = append(hits, vec.Hit{ID: uint32(j), Score: vec.Dot(qv, dv)})
		}
		sort.Slice(hits, func(a, b int) bool {
			if hits[a].Score != hits[b].Score {
				return hits[a].Score > hits[b].Score
			}
			return hits[a].ID < hits[b].ID
		})
		out[i] = hits[:min(k, len(hits))]
	}
	return out
}

// RetrieveEval encodes docs and queries, searches exactly (top 100) and
// scores the run against qrels.
func RetrieveEval(ctx context.Context, m *encoder.Model, docs, docIDs []string, queries map[string]string, qrels eval.Qrels) (eval.Report, error) {
	dv, err := EncodeAll(ctx, m, encoder.DocTower, docs)
	if err != nil {
		return eval.Report{}, err
	}
	qids := make([]string, 0, len(queries))
	for id := range queries {
		qids = append(qids, id)
	}
	slices.Sort(qids)
	qt := make([]string, len(qids))
	for i, id := range qids {
		qt[i] = queries[id]
	}
	qv, err := EncodeAll(ctx, m, encoder.QueryTower, qt)
	if err != nil {
		return eval.Report{}, err
	}
	hits := ExactSearch(qv, dv, 100)
	run := eval.Run{}
	for i, id := range qids {
		for _, h := range hits[i] {
			run[id] = append(run[id], eval.Hit{DocID: docIDs[h.ID], Score: float64(h.Score)})
		}
	}
	return eval.Evaluate(qrels, run, eval.Options{}), nil
}

// PairsDev scores pair cosines against labels: Spearman x100 for graded
// scores (watched), and for binary labels accuracy and F1 at the best
// threshold (F1 watched).
type PairsDev struct {
	P *Pairs
}

func (d *PairsDev) binary() bool {
	for _, e := range d.P.Items {
		if e.Y != 0 && e.Y != 1 {
			return false
		}
	}
	return true
}

func (d *PairsDev) Metric() string {
	if d.binary() {
		return "f1"
	}
	return "spearman"
}

// PairCosines encodes both sides of every pair and returns their cosines.
func PairCosines(ctx context.Context, m *encoder.Model, p *Pairs) ([]float64, error) {
	a := make([]string, len(p.Items))
	b := make([]string, len(p.Items))
	for i, e := range p.Items {
		a[i], b[i] = e.A, e.B
	}
	av, err := EncodeAll(ctx, m, encoder.QueryTower, a)
	if err != nil {
		return nil, err
	}
	bv, err := EncodeAll(ctx, m, encoder.DocTower, b)
	if err != nil {
		return nil, err
	}
	cos := make([]float64, len(a))
	for i := range cos {
		cos[i] = float64(vec.Dot(av[i], bv[i]))
	}
	return cos, nil
}

func (d *PairsDev) Evaluate(ctx context.Context, m *encoder.Model) (float64, map[string]float64, error) {
	cos, err := PairCosines(ctx, m, d.P)
	if err != nil {
		return 0, nil, err
	}
	y := d.P.Labels()
	out := map[string]float64{"spearman": 100 * spearman(cos, y)}
	if !d.binary() {
		return out["spearman"], out, nil
	}
	acc, f1, thr := bestThreshold(cos, y)
	out["accuracy"], out["f1"], out["threshold"] = acc, f1, thr
	return f1, out, nil
}

// bestThreshold sweeps the cosine threshold over the sorted scores and
// returns the best accuracy and the best F1 (each at its own threshold; the
// threshold returned is F1's).
func bestThreshold(cos, y []float64) (acc, f1, thr float64) {
	idx := make([]int, len(cos))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return cos[idx[a]] > cos[idx[b]] })
	pos := 0
	for _, v := range y {
		if v >= 0.5 {
			pos++
		}
	}
	tp, fp := 0, 0
	n := len(cos)
	acc = float64(n-pos) / float64(n) // threshold above every score
	for k, i := range idx {
		if y[i] >= 0.5 {
			tp++
		} else {
			fp++
		}
		if k+1 < n && cos[idx[k+1]] == cos[i] {
			continue
		}
		tn := (n - pos) - fp
		if a := float64(tp+tn) / float64(n); a > acc {
			acc = a
		}
		if tp > 0 {
			p, r := float64(tp)/float64(tp+fp), float64(tp)/float64(pos)
			if f := 2 * p * r / (p + r); f > f1 {
				f1, thr = f, cos[i]
			}
		}
	}
	return acc, f1, thr
}

// SplitQrels carves a dev split from qrels: a seeded fraction of the
// queries (at least one) goes to dev, the rest stays in train.
func SplitQrels(q eval.Qrels, frac float64, seed uint64) (train, dev eval.Qrels, err error) {
	if len(q) == 0 {
		return nil, nil, ErrNoQrels
	}
	if frac <= 0 || frac >= 1 {
		return nil, nil, fmt.Errorf("trainer: dev fraction %g outside (0, 1)", frac)
	}
	ids := make([]string, 0, len(q))
	for id := range q {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	r := rand.New(rand.NewPCG(seed, 0xde5))
	r.Shuffle(len(ids), func(a, b int) { ids[a], ids[b] = ids[b], ids[a] })
	nd := max(1, int(frac*float64(len(ids))))
	if nd >= len(ids) {
		return nil, nil, fmt.Errorf("trainer: %d queries are too few to carve a dev split", len(ids))
	}
	return q.Subset(ids[nd:]), q.Subset(ids[:nd]), nil
}
