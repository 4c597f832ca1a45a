package index

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/twinsearch/twin/internal/vec"
)

// mixture returns n unit vectors of length d drawn around c cluster centres
// (a small cousin of gmm100k).
func mixture(seed uint64, n, d, c int) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([][]float32, c)
	for i := range centres {
		centres[i] = make([]float32, d)
		for j := range centres[i] {
			centres[i][j] = float32(rng.NormFloat64())
		}
	}
	out := make([][]float32, n)
	for i := range out {
		ctr := centres[rng.IntN(c)]
		v := make([]float32, d)
		for j := range v {
			v[j] = ctr[j] + float32(rng.NormFloat64())
		}
		vec.Normalize(v)
		out[i] = v
	}
	return out
}

// recallAt compares hits with exact results from f over the same queries.
func recallAt(t *testing.T, idx VectorIndex, f *Flat, qs [][]float32, k, ef int) float64 {
	t.Helper()
	found, total := 0, 0
	for _, q := range qs {
		want, err := f.Search(q, k, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := idx.Search(q, k, ef)
		if err != nil {
			t.Fatal(err)
		}
		set := map[uint32]bool{}
		for _, h := range want {
			set[h.ID] = true
		}
		for _, h := range got {
			if set[h.ID] {
				found++
			}
		}
		total += len(want)
	}
	return float64(found) / float64(total)
}

func TestHNSWRecall(t *testing.T) {
	for _, tc := range []struct {
		name       string
		n, d, c    int
		m, efc, ef int
		workers    int
	}{
		{"clustered/seq", 5000, 32, 20, 16, 100, 64, 1},
		{"clustered/parallel", 5000, 32, 20, 16, 100, 64, 2},
		{"uniform/m8", 3000, 16, 1, 8, 100, 64, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := mixture(uint64(tc.n+tc.d), tc.n, tc.d, tc.c)
			qs := mixture(uint64(tc.n+tc.d), 200, tc.d, tc.c) // same centres, other points
			h := NewHNSW(tc.d, HNSWOptions{M: tc.m, EfConstruction: tc.efc, Seed: 1})
			f := NewFlat(tc.d)
			ids := make([]uint32, len(data))
			for i, v := range data {
				ids[i] = uint32(i)
				f.Add(uint32(i), v)
			}
			if tc.workers == 1 {
				for i, v := range data {
					if err := h.Add(uint32(i), v); err != nil {
						t.Fatal(err)
					}
				}
			} else if err := h.AddBatch(ids, data, tc.workers); err != nil {
				t.Fatal(err)
			}
			if h.Len() != tc.n {
				t.Fatalf("Len %d, want %d", h.Len(), tc.n)
			}
			r := recallAt(t, h, f, qs, 10, tc.ef)
			t.Logf("recall@10 = %.4f", r)
			if r < 0.95 {
				t.Fatalf("recall@10 = %.4f < 0.95", r)
			}
		})
	}
}

func TestHNSWDeterministic(t *testing.T) {
	data := mixture(3, 1000, 16, 5)
	build := func() *HNSW {
		h := NewHNSW(16, HNSWOptions{M: 8, EfConstruction: 50, Seed: 42})
		for i, v := range data {
			h.Add(uint32(i), v)
		}
		return h
	}
	a, b := build(), build()
	ba, _ := a.MarshalBinary()
	bb, _ := b.MarshalBinary()
	if string(ba) != string(bb) {
		t.Fatal("same seed and order gave different graphs")
	}
}

func TestHNSWDelete(t *testing.T) {
	const n, d = 4000, 24
	data := mixture(11, n, d, 10)
	qs := mixture(12, 200, d, 10)
	for _, compact := range []bool{false, true} {
		name := "tombstones"
		if compact {
			name = "compacted"
		}
		t.Run(name, func(t *testing.T) {
			h := NewHNSW(d, HNSWOptions{M: 12, EfConstruction: 100, Seed: 5, CompactRatio: -1})
			f := NewFlat(d)
			for i, v := range data {
				h.Add(uint32(i), v)
				f.Add(uint32(i), v)
			}
			t.Logf("recall@10 before deleting = %.4f", recallAt(t, h, f, qs, 10, 64))
			rng := rand.New(rand.NewPCG(9, 9))
			deleted := map[uint32]bool{}
			for len(deleted) < n/10 {
				id := uint32(rng.IntN(n))
				if deleted[id] {
					continue
				}
				deleted[id] = true
				if err := h.Delete(id); err != nil {
					t.Fatal(err)
				}
				f.Delete(id)
			}
			if err := h.Delete(uint32(n + 5)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("delete unknown: %v", err)
			}
			if compact {
				h.Compact()
				if h.Tombstones() != 0 {
					t.Fatalf("tombstones after compact: %d", h.Tombstones())
				}
			}
			if h.Len() != n-n/10 {
				t.Fatalf("Len %d", h.Len())
			}
			for _, q := range qs {
				hits, _ := h.Search(q, 50, 100)
				for _, x := range hits {
					if deleted[x.ID] {
						t.Fatalf("deleted id %d returned", x.ID)
					}
				}
			}
			r := recallAt(t, h, f, qs, 10, 64)
			t.Logf("recall@10 after deleting 10%% = %.4f", r)
			if r < 0.95 {
				t.Fatalf("recall %.4f < 0.95", r)
			}
			// Re-add the deleted ids, in id order so the graph (and the
			// recall below) is the same on every run: they come back.
			readd := make([]uint32, 0, len(deleted))
			for id := range deleted {
				readd = append(readd, id)
			}
			slices.Sort(readd)
			for _, id := range readd {
				if err := h.Add(id, data[id]); err != nil {
					t.Fatal(err)
				}
				f.Add(id, data[id])
			}
			if h.Len() != n {
				t.Fatalf("Len after re-add %d", h.Len())
			}
			for _, id := range readd {
				hits, _ := h.Search(data[id], 1, 64)
				if len(hits) == 0 || hits[0].Score < 0.999 {
					t.Fatalf("re-added id %d not found by its own vector: %v", id, hits)
				}
				break
			}
			r = recallAt(t, h, f, qs, 10, 64)
			if r < 0.95 {
				t.Fatalf("recall after re-add %.4f", r)
			}
		})
	}
}

func TestHNSWReplace(t *testing.T) {
	data := mixture(21, 500, 8, 4)
	h := NewHNSW(8, HNSWOptions{M: 8, EfConstruction: 50})
	for i, v := range data {
		h.Add(uint32(i), v)
	}
	// Move id 0 onto id 1's vector: both are now found there.
	h.Add(0, data[1])
	if h.Len() != 500 {
		t.Fatalf("Len %d after replace", h.Len())
	}
	hits, _ := h.Search(data[1], 2, 50)
	if len(hits) != 2 || hits[1].Score < 0.999 {
		t.Fatalf("replaced vector not found: %v", hits)
	}
}

func TestBadInput(t *testing.T) {
	nan := []float32{1, float32(math.NaN()), 0, 0}
	inf := []float32{1, float32(math.Inf(1)), 0, 0}
	for _, idx := range []VectorIndex{NewHNSW(4, HNSWOptions{}), NewFlat(4), NewCoderHNSW(4, 16, 20, 1)} {
		if err := idx.Add(1, []float32{1, 2, 3}); !errors.Is(err, ErrDim) {
			t.Errorf("%T wrong dim: %v", idx, err)
		}
		if err := idx.Add(1, nan); !errors.Is(err, ErrNotFinite) {
			t.Errorf("%T NaN: %v", idx, err)
		}
		if err := idx.Add(1, inf); !errors.Is(err, ErrNotFinite) {
			t.Errorf("%T Inf: %v", idx, err)
		}
		for i := range 5 {
			if err := idx.Add(uint32(i), []float32{1, float32(i), 0, 0}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := idx.Search([]float32{1, 0, 0, 0}, 0, 10); !errors.Is(err, ErrBadK) {
			t.Errorf("%T k=0: %v", idx, err)
		}
		if _, err := idx.Search([]float32{1, 0, 0}, 1, 10); !errors.Is(err, ErrDim) {
			t.Errorf("%T query dim: %v", idx, err)
		}
		if _, err := idx.Search(nan, 1, 10); !errors.Is(err, ErrNotFinite) {
			t.Errorf("%T query NaN: %v", idx, err)
		}
		// k larger than the collection: all of it; ef < k is raised.
		hits, err := idx.Search([]float32{1, 0, 0, 0}, 100, 1)
		if err != nil || len(hits) != 5 {
			t.Errorf("%T k > n: %d hits, %v", idx, len(hits), err)
		}
		for i := 1; i < len(hits); i++ {
			if hits[i].Score > hits[i-1].Score {
				t.Errorf("%T hits not best first: %v", idx, hits)
			}
		}
	}
}

func TestHNSWConcurrent(t *testing.T) {
	const d = 16
	data := mixture(31, 3000, d, 8)
	h := NewHNSW(d, HNSWOptions{M: 8, EfConstruction: 64, CompactRatio: 0.05})
	for i, v := range data[:1000] {
		h.Add(uint32(i), v)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := h.Search(data[(i*7+r)%len(data)], 10, 32); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 1000; i < len(data); i++ {
		h.Add(uint32(i), data[i])
		if i%3 == 0 {
			h.Delete(uint32(i - 500))
		}
	}
	ids := []uint32{5000, 5001, 5002, 5003, 5004, 5005, 5006, 5007}
	h.AddBatch(ids, data[:8], 2)
	close(stop)
	wg.Wait()
}

func TestAddBatchDuplicates(t *testing.T) {
	h := NewHNSW(2, HNSWOptions{})
	h.Add(1, []float32{1, 0})
	vs := [][]float32{{0, 1}, {1, 0}, {0, 1}, {-1, 0}}
	ids := []uint32{1, 2, 2, 1} // 1 exists: replaced by its last vector; 2 repeated
	if err := h.AddBatch(ids, vs, 2); err != nil {
		t.Fatal(err)
	}
	if h.Len() != 2 {
		t.Fatalf("Len %d", h.Len())
	}
	if vs[0][0] != 0 || vs[1][0] != 1 {
		t.Fatal("AddBatch modified its input")
	}
	hits, _ := h.Search([]float32{-1, 0}, 1, 0)
	if hits[0].ID != 1 {
		t.Fatalf("id 1 should hold its last vector: %v", hits)
	}
	hits, _ = h.Search([]float32{0, 1}, 1, 0)
	if hits[0].ID != 2 {
		t.Fatalf("id 2 should hold its last vector: %v", hits)
	}
}
