package index

import (
	"errors"
	"fmt"

	"github.com/twinsearch/twin/internal/vec"
)

// VectorIndex is the plug point shared by HNSW, Flat, CoderHNSW and the LSH
// index in package lsh (which keeps the same method set without importing
// this package).
type VectorIndex interface {
	// Add inserts v under id, replacing the vector already stored there.
	Add(id uint32, v []float32) error
	// Delete removes id; it is never returned by Search afterwards.
	Delete(id uint32) error
	// Search returns up to k hits, best first. ef is the search breadth
	// where the index has one (raised to k when smaller; <= 0 = default).
	Search(q []float32, k, ef int) ([]vec.Hit, error)
	// Len returns the number of live vectors.
	Len() int
}

var (
	_ VectorIndex = (*HNSW)(nil)
	_ VectorIndex = (*Flat)(nil)
	_ VectorIndex = (*CoderHNSW)(nil)
)

var (
	// ErrDim reports a vector whose length is not the index dimension.
	ErrDim = errors.New("index: vector dimension mismatch")
	// ErrNotFinite reports a vector holding NaN or ±Inf.
	ErrNotFinite = errors.New("index: vector holds NaN or Inf")
	// ErrBadK reports k <= 0.
	ErrBadK = errors.New("index: k must be positive")
	// ErrNotFound reports an id or document that is not in the index.
	ErrNotFound = errors.New("index: not found")
	// ErrLocked reports an index directory held by another process.
	ErrLocked = errors.New("index: locked")
	// ErrModel reports an index built with another model.
	ErrModel = errors.New("index: built with another model")
	// ErrClosed reports use of a closed collection.
	ErrClosed = errors.New("index: collection is closed")
)

// checkVector validates a vector against the index dimension.
func checkVector(v []float32, dim int) error {
	if len(v) != dim {
		return fmt.Errorf("%w: got %d, index has %d", ErrDim, len(v), dim)
	}
	if !vec.Finite(v) {
		return ErrNotFinite
	}
	return nil
}

// checkQuery validates a query and normalises k and ef: ef below k is
// raised to k, ef <= 0 becomes def (then at least k).
func checkQuery(q []float32, dim, k, ef, def int) (int, error) {
	if err := checkVector(q, dim); err != nil {
		return 0, err
	}
	if k <= 0 {
		return 0, fmt.Errorf("%w: k = %d", ErrBadK, k)
	}
	if ef <= 0 {
		ef = def
	}
	return max(ef, k), nil
}
