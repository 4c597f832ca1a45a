package lsh

import (
	"errors"
	"fmt"
)

var (
	// ErrDim reports a vector whose length is not Options.Dim.
	ErrDim = errors.New("lsh: vector dimension mismatch")
	// ErrZeroVector reports a vector of zero norm, which has no direction to hash.
	ErrZeroVector = errors.New("lsh: vector has zero norm")
	// ErrNotFinite reports a vector holding NaN or ±Inf.
	ErrNotFinite = errors.New("lsh: vector has NaN or Inf")
	// ErrNotFound reports an id that is not in the index.
	ErrNotFound = errors.New("lsh: id not found")
	// ErrBadK reports k <= 0 in Search.
	ErrBadK = errors.New("lsh: k must be positive")
	// ErrNoVector reports that Options.Source returned no vector (or one of the
	// wrong length) for a live id.
	ErrNoVector = errors.New("lsh: source returned no vector")
)

// MaxK is the largest number of bits per key.
const MaxK = 64

// maxL bounds the number of tables (a sanity limit, also for decoders).
const maxL = 4096

// Options configures an Index. Everything that changes what stored keys mean
// (Dim, K, L, Seed) is persisted with the index.
type Options struct {
	// Dim is the vector dimension. Required, > 0.
	Dim int
	// K is the number of bits per key, 1..64. Required: Choose picks it.
	K int
	// L is the number of hash tables, 1..4096. Required: Choose picks it.
	L int
	// Probes is the number of extra buckets probed per table by Search and
	// Query (multi-probe), in increasing order of the squared margins of the
	// flipped bits. 0 (the default) probes only the vector's own bucket.
	Probes int
	// Rerank bounds how many candidates Search scores by exact cosine:
	// those found in the most tables. 0 (the default) scores them all.
	Rerank int
	// Seed seeds the random hyperplanes (math/rand/v2 PCG). 0 is a valid seed.
	Seed uint64
	// Source, when set, returns the unit vector stored for an id; the index
	// then keeps no copy of its own. It must be safe for concurrent use.
	// nil (the default): the index keeps a normalised copy of every vector.
	Source func(id uint32) []float32
}

// Validate reports every problem with o at once.
func (o Options) Validate() error {
	var errs []error
	if o.Dim <= 0 {
		errs = append(errs, fmt.Errorf("dim %d: want > 0", o.Dim))
	}
	if o.K < 1 || o.K > MaxK {
		errs = append(errs, fmt.Errorf("K %d bits per key: want 1..%d", o.K, MaxK))
	}
	if o.L < 1 || o.L > maxL {
		errs = append(errs, fmt.Errorf("L %d tables: want 1..%d", o.L, maxL))
	}
	if o.Probes < 0 {
		errs = append(errs, fmt.Errorf("probes %d: want >= 0", o.Probes))
	} else if o.K >= 1 && o.K < 63 && uint64(o.Probes) >= uint64(1)<<o.K {
		errs = append(errs, fmt.Errorf("probes %d: a %d-bit key has only %d other buckets", o.Probes, o.K, (uint64(1)<<o.K)-1))
	}
	if o.Rerank < 0 {
		errs = append(errs, fmt.Errorf("rerank %d: want >= 0", o.Rerank))
	}
	return joinErrs("lsh: invalid options", errs)
}

// joinErrs folds problems into one single-line error (nil if none).
func joinErrs(prefix string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	msg := prefix + ": "
	for i, e := range errs {
		if i > 0 {
			msg += "; "
		}
		msg += e.Error()
	}
	return errors.New(msg)
}
