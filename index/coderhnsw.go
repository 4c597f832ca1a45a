package index

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"sync"

	"github.com/coder/hnsw"

	"github.com/twinsearch/twin/internal/vec"
)

// CoderHNSW adapts github.com/coder/hnsw v0.6.1 to VectorIndex. It exists
// for the benchmark tables only: measured on this machine (go run
// ./bench/ann; bench/RESULTS.md) it reaches recall@10 of 0.065-0.073
// on gmm100k (100k x 128, M=16) at every ef from 16 to 256 — ef does not
// change its results (its result set is bounded by k rather than ef and its
// heap evicts the wrong end) — against 0.983 for twin's HNSW at ef=64; its
// Delete can panic with a nil pointer, re-adding a key panics, it returns
// results unordered, and it has no locks.
//
// The adapter makes it safe to call: it checks dimensions and finiteness
// before calling the library (which panics on a mismatch), holds a mutex
// around every call, refuses to re-add an id (ErrReAdd), and implements
// Delete as a tombstone filtered out of results instead of calling the
// library's Delete.
type CoderHNSW struct {
	dim int
	mu  sync.Mutex
	// guarded by mu
	g       *hnsw.Graph[uint32]
	present map[uint32]bool // false: deleted
	live    int
}

// ErrReAdd reports an Add of an id CoderHNSW already holds; the library
// panics on it.
var ErrReAdd = errors.New("index: coder/hnsw cannot re-add an id")

// NewCoderHNSW returns an empty coder/hnsw graph with M links, efSearch
// default ef, cosine distance and a level generator seeded with seed.
func NewCoderHNSW(dim, m, ef int, seed int64) *CoderHNSW {
	if dim <= 0 {
		panic("index: NewCoderHNSW with dim <= 0")
	}
	g := hnsw.NewGraph[uint32]()
	g.M = m
	g.EfSearch = ef
	g.Distance = hnsw.CosineDistance
	g.Rng = rand.New(rand.NewSource(seed))
	return &CoderHNSW{dim: dim, g: g, present: map[uint32]bool{}}
}

// Add inserts v under a new id.
func (c *CoderHNSW) Add(id uint32, v []float32) error {
	if err := checkVector(v, c.dim); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.present[id]; ok {
		return fmt.Errorf("%w: %d", ErrReAdd, id)
	}
	c.g.Add(hnsw.MakeNode(id, append([]float32(nil), v...)))
	c.present[id] = true
	c.live++
	return nil
}

// Delete hides id from results (tombstone; the library's Delete is not
// called because it can panic).
func (c *CoderHNSW) Delete(id uint32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.present[id] {
		return fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	c.present[id] = false
	c.live--
	return nil
}

// Len returns the number of live vectors.
func (c *CoderHNSW) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// Search asks the library for k plus the number of tombstones results at
// efSearch = ef and returns the best k live ones, sorted (the library
// returns them unordered). Scores are 1 - cosine
// distance, i.e. cosine similarity.
func (c *CoderHNSW) Search(q []float32, k, ef int) ([]vec.Hit, error) {
	ef, err := checkQuery(q, c.dim, k, ef, 20)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live == 0 {
		return nil, nil
	}
	c.g.EfSearch = ef
	dead := len(c.present) - c.live
	nodes := c.g.Search(q, k+dead)
	out := make([]vec.Hit, 0, len(nodes))
	for _, n := range nodes {
		if c.present[n.Key] {
			out = append(out, vec.Hit{ID: n.Key, Score: 1 - hnsw.CosineDistance(q, n.Value)})
		}
	}
	// The library does not return its results in order.
	slices.SortStableFunc(out, func(a, b vec.Hit) int { return cmp.Compare(b.Score, a.Score) })
	return out[:min(k, len(out))], nil
}
