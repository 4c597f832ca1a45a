package retriever

import (
	"context"
	"errors"
	"fmt"

	"github.com/twinsearch/twin/index"
	"github.com/twinsearch/twin/index/bm25"
)

// Collection adapts an index.Collection to the dense side of a Retriever
// (DenseIndex and VectorStore) and serves its documents (Doc).
type Collection struct{ C *index.Collection }

var (
	_ DenseIndex  = Collection{}
	_ VectorStore = Collection{}
)

// SearchVector runs the collection's HNSW search.
func (c Collection) SearchVector(ctx context.Context, q []float32, k, ef int) ([]Scored, error) {
	h, err := c.C.Search(q, k, ef)
	if err != nil {
		return nil, err
	}
	out := make([]Scored, len(h))
	for i, x := range h {
		out[i] = Scored{x.DocID, float64(x.Score)}
	}
	sortScored(out) // equal scores by doc id, as everywhere in the retriever
	return out, nil
}

// Len returns the number of documents.
func (c Collection) Len() int { return c.C.Len() }

// Vector returns a document's stored vector, nil when it is not there.
func (c Collection) Vector(ctx context.Context, id string) ([]float32, error) {
	d, err := c.C.Get(id)
	if errors.Is(err, index.ErrNotFound) {
		return nil, nil
	}
	return d.Vector, err
}

// Doc returns a document's title and text (ok false when absent).
func (c Collection) Doc(ctx context.Context, id string) (title, text string, ok bool, err error) {
	d, err := c.C.Get(id)
	if errors.Is(err, index.ErrNotFound) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	return d.Title, d.Text, true, nil
}

// BM25Follower keeps a BM25 index in step with a collection: pass it in
// index.Options.Followers when opening the collection for writing, e.g.
//
//	bm, _ := bm25.Open(retriever.BM25Dir(dir), bm25.Options{})
//	coll, _ := index.Open(dir, index.Options{..., Followers: []index.Follower{retriever.BM25Follower(bm)}})
//	_, err := retriever.SyncBM25(ctx, coll, bm, false) // catch up after a crash or a first build
func BM25Follower(ix *bm25.Index) index.Follower { return bm25Follower{ix} }

type bm25Follower struct{ ix *bm25.Index }

// Apply applies the changes in order: runs of upserts go in one call,
// deletes in between.
func (f bm25Follower) Apply(ctx context.Context, changes []index.Change) error {
	var up []bm25.Doc
	var del []string
	flushUp := func() error {
		if len(up) == 0 {
			return nil
		}
		err := f.ix.Upsert(ctx, up)
		up = up[:0]
		return err
	}
	flushDel := func() error {
		if len(del) == 0 {
			return nil
		}
		err := f.ix.Delete(ctx, del)
		del = del[:0]
		return err
	}
	for _, c := range changes {
		if c.Doc == nil {
			if err := flushUp(); err != nil {
				return err
			}
			del = append(del, c.DocID)
			continue
		}
		if err := flushDel(); err != nil {
			return err
		}
		up = append(up, bm25.Doc{ID: c.DocID, Title: c.Doc.Title, Text: c.Doc.Text})
	}
	if err := flushUp(); err != nil {
		return err
	}
	return flushDel()
}

// SyncBM25 brings ix in step with coll when it may not be: when force is
// set, when the document counts differ, or when the collection was not
// closed cleanly (a crash between the store's commit and the follower).
// It re-indexes every document of the collection and deletes BM25 entries
// the collection no longer holds. It reports whether it re-indexed.
// Cost: one pass over the collection (SciFact: a few seconds).
func SyncBM25(ctx context.Context, coll *index.Collection, ix *bm25.Index, force bool) (bool, error) {
	st, err := coll.Stats()
	if err != nil {
		return false, err
	}
	n, err := ix.Count()
	if err != nil {
		return false, err
	}
	if !force && n == st.Docs && st.CleanClose {
		return false, nil
	}
	keep := make(map[string]bool, st.Docs)
	const batch = 2000
	var docs []bm25.Doc
	err = coll.IterateDocs(ctx, func(_ uint32, d index.Doc) error {
		keep[d.ID] = true
		docs = append(docs, bm25.Doc{ID: d.ID, Title: d.Title, Text: d.Text})
		if len(docs) == batch {
			err := ix.Upsert(ctx, docs)
			docs = docs[:0]
			return err
		}
		return nil
	})
	if err == nil {
		err = ix.Upsert(ctx, docs)
	}
	if err != nil {
		return true, fmt.Errorf("sync bm25 with %s: %w", coll.Dir(), err)
	}
	ids, err := ix.IDs(ctx)
	if err != nil {
		return true, err
	}
	var gone []string
	for _, id := range ids {
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	return true, ix.Delete(ctx, gone)
}
