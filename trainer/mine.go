package trainer

import (
	"context"

	"github.com/twinsearch/twin/encoder"
)

// MineModel refreshes q.Negatives with hard negatives from the current
// model: for each query, exact cosine search over the whole corpus, known
// positives removed, then the documents at ranks [skip, skip+depth) of what
// is left (the top few are skipped: they are often unlabelled positives).
func MineModel(ctx context.Context, m *encoder.Model, q *Qrels, skip, depth int) error {
	docs := make([]string, q.C.Len())
	for i := range docs {
		b, err := q.C.Body(i)
		if err != nil {
			return err
		}
		docs[i] = b
	}
	dv, err := EncodeAll(ctx, m, encoder.DocTower, docs)
	if err != nil {
		return err
	}
	qt := make([]string, len(q.QIDs))
	for i, id := range q.QIDs {
		qt[i] = q.Queries[id]
	}
	qv, err := EncodeAll(ctx, m, encoder.QueryTower, qt)
	if err != nil {
		return err
	}
	hits := ExactSearch(qv, dv, skip+depth+32)
	negs := map[int][]int{}
	for qi, hs := range hits {
		rank := 0
		for _, h := range hs {
			if q.Positives[qi][int(h.ID)] {
				continue
			}
			if rank >= skip && len(negs[qi]) < depth {
				negs[qi] = append(negs[qi], int(h.ID))
			}
			rank++
		}
	}
	q.Negatives = negs
	return nil
}
