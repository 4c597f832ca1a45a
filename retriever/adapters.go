package retriever

import (
	"context"
	"fmt"
	"sync"

	"github.com/twinsearch/twin/index"
	"github.com/twinsearch/twin/index/bm25"
)

// BM25Source adapts a bm25.Index to Lexical.
func BM25Source(ix *bm25.Index) Lexical { return bm25Source{ix} }

type bm25Source struct{ ix *bm25.Index }

func (b bm25Source) Search(ctx context.Context, q string, k int) ([]Scored, error) {
	h, err := b.ix.Search(ctx, q, k)
	if err != nil {
		return nil, err
	}
	out := make([]Scored, len(h))
	for i, x := range h {
		out[i] = Scored{x.DocID, x.Score}
	}
	return out, nil
}

func (b bm25Source) Score(ctx context.Context, q string, ids []string) ([]float64, error) {
	return b.ix.Score(ctx, q, ids)
}

func (b bm25Source) Count() (int, error) { return b.ix.Count() }

// MemVectors is a small in-memory dense source over an exact index.Flat
// with string doc ids: for tests, fixtures and collections too small for
// HNSW. Safe for concurrent use.
type MemVectors struct {
	dim  int
	mu   sync.RWMutex
	flat *index.Flat
	ids  []string          // internal -> doc id ("" = free)
	num  map[string]uint32 // doc id -> internal
	vecs map[string][]float32
}

// NewMemVectors returns an empty store for vectors of length dim.
func NewMemVectors(dim int) *MemVectors {
	return &MemVectors{dim: dim, flat: index.NewFlat(dim), num: map[string]uint32{}, vecs: map[string][]float32{}}
}

// Upsert stores v (normalised to unit length) under id.
func (m *MemVectors) Upsert(id string, v []float32) error {
	if len(v) != m.dim {
		return fmt.Errorf("retriever: vector for %q has %d values, want %d", id, len(v), m.dim)
	}
	u := append([]float32(nil), v...)
	normalize(u)
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.num[id]
	if !ok {
		n = uint32(len(m.ids))
		m.ids = append(m.ids, id)
		m.num[id] = n
	}
	m.vecs[id] = u
	return m.flat.Add(n, u)
}

// Delete removes id (absent ids are ignored).
func (m *MemVectors) Delete(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, ok := m.num[id]
	if !ok {
		return nil
	}
	delete(m.num, id)
	delete(m.vecs, id)
	m.ids[n] = ""
	return m.flat.Delete(n)
}

// Len returns the number of vectors.
func (m *MemVectors) Len() int { return m.flat.Len() }

// SearchVector returns the k nearest by cosine (exact; ef ignored), ties by
// doc id ascending.
func (m *MemVectors) SearchVector(ctx context.Context, q []float32, k, ef int) ([]Scored, error) {
	if k > m.flat.Len() {
		k = m.flat.Len()
	}
	if k == 0 {
		return nil, nil
	}
	h, err := m.flat.Search(q, m.flat.Len(), 0) // all, so ties are ordered by doc id below
	if err != nil {
		return nil, err
	}
	m.mu.RLock()
	out := make([]Scored, 0, len(h))
	for _, x := range h {
		out = append(out, Scored{m.ids[x.ID], float64(x.Score)})
	}
	m.mu.RUnlock()
	sortScored(out)
	return out[:k], nil
}

// Vector returns the stored vector of id, or nil.
func (m *MemVectors) Vector(ctx context.Context, id string) ([]float32, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.vecs[id], nil
}

var (
	_ DenseIndex  = (*MemVectors)(nil)
	_ VectorStore = (*MemVectors)(nil)
)
