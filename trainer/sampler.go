package trainer

import (
	"fmt"
	"math/rand/v2"
)

// sampler draws batches from weighted sources. Every draw is a pure
// function of (seed, source, draw number), so the sampler's whole state is
// the draw count per source: a checkpoint stores it and a resumed run draws
// the same batches. Within an epoch of a source its items come in a seeded
// permutation. A batch never holds the same text twice: an item that would
// repeat a text already in the batch is skipped (and counted as drawn).
type sampler struct {
	srcs    []Source
	weights []float64
	seed    uint64
	draws   []int64
	perm    [][]int32
	permEp  []int64
}

func newSampler(srcs []Source, weights []float64, seed uint64) (*sampler, error) {
	if len(srcs) == 0 {
		return nil, fmt.Errorf("%w: no training data", ErrData)
	}
	if weights == nil {
		for _, s := range srcs {
			weights = append(weights, float64(s.Len()))
		}
	}
	if len(weights) != len(srcs) {
		return nil, fmt.Errorf("trainer: %d weights for %d sources", len(weights), len(srcs))
	}
	var sum float64
	for i, w := range weights {
		if w < 0 || srcs[i].Len() == 0 {
			return nil, fmt.Errorf("%w: source %s: weight %g, %d items", ErrData, srcs[i].Name(), w, srcs[i].Len())
		}
		sum += w
	}
	if sum <= 0 {
		return nil, fmt.Errorf("trainer: source weights sum to %g", sum)
	}
	lab := srcs[0].Labelled()
	for _, s := range srcs[1:] {
		if s.Labelled() != lab {
			return nil, fmt.Errorf("trainer: cannot mix labelled and unlabelled sources (%s, %s)", srcs[0].Name(), s.Name())
		}
	}
	return &sampler{srcs: srcs, weights: weights, seed: seed, draws: make([]int64, len(srcs)),
		perm: make([][]int32, len(srcs)), permEp: make([]int64, len(srcs))}, nil
}

func (s *sampler) labelled() bool { return s.srcs[0].Labelled() }

// total is the number of items over all sources.
func (s *sampler) total() int {
	n := 0
	for _, src := range s.srcs {
		n += src.Len()
	}
	return n
}

// epoch is the number of passes over the data so far (fractional).
func (s *sampler) epoch() float64 {
	var d int64
	for _, x := range s.draws {
		d += x
	}
	return float64(d) / float64(s.total())
}

func (s *sampler) item(si int, k int64) int {
	n := int64(s.srcs[si].Len())
	ep := k / n
	if s.perm[si] == nil || s.permEp[si] != ep {
		r := rand.New(rand.NewPCG(s.seed^0x5eed, uint64(si)<<40|uint64(ep)))
		p := make([]int32, n)
		for i := range p {
			p[i] = int32(i)
		}
		r.Shuffle(len(p), func(a, b int) { p[a], p[b] = p[b], p[a] })
		s.perm[si], s.permEp[si] = p, ep
	}
	return int(s.perm[si][k%n])
}

// next draws a batch of size examples for the given step.
func (s *sampler) next(step int64, size int) (*batchTexts, error) {
	r := rand.New(rand.NewPCG(s.seed, uint64(step)))
	var sum float64
	for _, w := range s.weights {
		sum += w
	}
	seen := map[string]bool{}
	b := &batchTexts{}
	if s.labelled() {
		b.Y = []float64{}
	}
	for tries := 0; len(b.Q) < size; tries++ {
		if tries > 20*size+100 {
			break // too many duplicates: a smaller batch
		}
		x := r.Float64() * sum
		si := 0
		for si < len(s.weights)-1 && x >= s.weights[si] {
			x -= s.weights[si]
			si++
		}
		k := s.draws[si]
		s.draws[si]++
		er := rand.New(rand.NewPCG(s.seed^uint64(si+1)*0x9e3779b97f4a7c15, uint64(k)))
		e, err := s.srcs[si].Example(s.item(si, k), er)
		if err != nil {
			return nil, err
		}
		if e.A == "" || e.B == "" || seen[e.A] || seen[e.B] || e.A == e.B && !s.labelled() {
			continue
		}
		var negs []string
		for _, n := range e.Neg {
			if n != "" && !seen[n] && n != e.A && n != e.B {
				negs = append(negs, n)
			}
		}
		seen[e.A], seen[e.B] = true, true
		for _, n := range negs {
			seen[n] = true
			b.N = append(b.N, n)
			b.NegOf = append(b.NegOf, len(b.Q))
		}
		b.Q = append(b.Q, e.A)
		b.P = append(b.P, e.B)
		if b.Y != nil {
			b.Y = append(b.Y, e.Y)
		}
	}
	if len(b.Q) == 0 {
		return nil, fmt.Errorf("%w: could not draw a batch without repeated texts", ErrData)
	}
	return b, nil
}
