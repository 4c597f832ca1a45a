package trainer

import (
	"context"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/index/bm25"
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

// MineBM25 sets q.Negatives from BM25 (index/bm25, in memory): for each
// query the top lexical matches that are not known positives, ranks
// [skip, skip+depth) of them. Lexical negatives are the classic DPR choice;
// they stay fixed, so mining once is enough.
func MineBM25(ctx context.Context, q *Qrels, skip, depth int) error {
	ix, err := bm25.Open("", bm25.Options{})
	if err != nil {
		return err
	}
	defer ix.Close()
	docs := make([]bm25.Doc, 0, 1024)
	flush := func() error {
		err := ix.Upsert(ctx, docs)
		docs = docs[:0]
		return err
	}
	for i := 0; i < q.C.Len(); i++ {
		title, text, err := q.C.Doc(i)
		if err != nil {
			return err
		}
		docs = append(docs, bm25.Doc{ID: q.C.IDs[i], Title: title, Text: text})
		if len(docs) == cap(docs) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	negs := map[int][]int{}
	for qi, qid := range q.QIDs {
		hits, err := ix.Search(ctx, q.Queries[qid], skip+depth+len(q.Positives[qi]))
		if err != nil {
			return err
		}
		rank := 0
		for _, h := range hits {
			di, ok := q.C.Lookup(h.DocID)
			if !ok || q.Positives[qi][di] {
				continue
			}
			if rank >= skip && len(negs[qi]) < depth {
				negs[qi] = append(negs[qi], di)
			}
			rank++
		}
	}
	q.Negatives = negs
	return nil
}
