package index

import (
	"runtime"
	"slices"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/twinsearch/twin/internal/vec"
)

// Flat is an exact (brute-force) index: Search scores every live vector.
// It is the recall oracle for HNSW and LSH and the right choice for small
// collections (cost O(n·dim) per query, 4·dim bytes per vector plus one byte
// of bookkeeping).
//
// Flat is safe for concurrent use: searches run in parallel, writes take an
// exclusive lock.
type Flat struct {
	dim int
	mu  sync.RWMutex
	// guarded by mu
	vecs []float32 // slot i at [i*dim:(i+1)*dim]
	live []bool
	n    int // live count
}

// NewFlat returns an empty exact index for vectors of length dim (> 0).
func NewFlat(dim int) *Flat {
	if dim <= 0 {
		panic("index: NewFlat with dim <= 0")
	}
	return &Flat{dim: dim}
}

// Dim returns the vector length.
func (f *Flat) Dim() int { return f.dim }

// Add stores a copy of v under id, replacing any vector stored there.
func (f *Flat) Add(id uint32, v []float32) error {
	if err := checkVector(v, f.dim); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if int(id) >= len(f.live) {
		n := max(int(id)+1, 2*len(f.live))
		f.live = slices.Grow(f.live, n-len(f.live))[:n]
		f.vecs = slices.Grow(f.vecs, n*f.dim-len(f.vecs))[:n*f.dim]
	}
	copy(f.vecs[int(id)*f.dim:], v)
	if !f.live[id] {
		f.live[id] = true
		f.n++
	}
	return nil
}

// Delete removes id.
func (f *Flat) Delete(id uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if int(id) >= len(f.live) || !f.live[id] {
		return ErrNotFound
	}
	f.live[id] = false
	f.n--
	return nil
}

// Len returns the number of live vectors.
func (f *Flat) Len() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.n
}

// Search returns the exact top k (fewer when the index holds fewer), best
// first; ties are broken by lower id. ef is ignored.
func (f *Flat) Search(q []float32, k, ef int) ([]vec.Hit, error) {
	if _, err := checkQuery(q, f.dim, k, ef, k); err != nil {
		return nil, err
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	h := make(minHeap, 0, k+1)
	return f.searchLocked(q, k, h), nil
}

func (f *Flat) searchLocked(q []float32, k int, h minHeap) []vec.Hit {
	d := f.dim
	for i, ok := range f.live {
		if !ok {
			continue
		}
		s := vec.Dot(q, f.vecs[i*d:(i+1)*d])
		if len(h) < k {
			h.push(cand{s, uint32(i)})
		} else if s > h[0].score {
			h[0] = cand{s, uint32(i)}
			h.fix0()
		}
	}
	out := make([]vec.Hit, len(h))
	for i := len(h) - 1; i >= 0; i-- {
		c := h.pop()
		out[i] = vec.Hit{ID: c.id, Score: c.score}
	}
	return out
}

// SearchBatch answers many queries over workers goroutines (<= 0: all
// cores); dst[i] holds the hits of qs[i].
func (f *Flat) SearchBatch(qs [][]float32, k, workers int) ([][]vec.Hit, error) {
	for _, q := range qs {
		if _, err := checkQuery(q, f.dim, k, 0, k); err != nil {
			return nil, err
		}
	}
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	workers = min(workers, max(len(qs), 1))
	out := make([][]vec.Hit, len(qs))
	f.mu.RLock()
	defer f.mu.RUnlock()
	var g errgroup.Group
	for w := range workers {
		g.Go(func() error {
			h := make(minHeap, 0, k+1)
			for i := w; i < len(qs); i += workers {
				out[i] = f.searchLocked(qs[i], k, h[:0])
			}
			return nil
		})
	}
	g.Wait()
	return out, nil
}

// fix0 restores the heap after the top was replaced.
func (h minHeap) fix0() {
	n := len(h)
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].score < h[l].score {
			m = r
		}
		if h[i].score <= h[m].score {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
