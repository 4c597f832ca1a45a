package lsh

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinsearch/twin/internal/vec"
	"golang.org/x/sync/errgroup"
)

// Representative says which member stands for a duplicate group.
type Representative string

const (
	// RepFirst picks the member with the smallest id (the earliest added
	// document when ids are assigned in arrival order). The default.
	RepFirst Representative = "first"
	// RepCentral picks the member most similar to the group's mean
	// direction (the normalised sum of its vectors): O(members*dim).
	RepCentral Representative = "central"
)

// DedupOptions configures Dedup.
type DedupOptions struct {
	// Threshold is the cosine tau in (0, 1] at or above which two vectors are
	// duplicates (compared with a 1e-6 tolerance for float32 rounding).
	Threshold float64
	// Probes is the number of extra buckets probed per table for each
	// vector. 0 (the default) uses Options.Probes; -1 probes none.
	Probes int
	// Representative picks each group's representative (default RepFirst).
	Representative Representative
	// Workers is the number of goroutines (default GOMAXPROCS).
	Workers int
	// Progress, if set, is called from worker goroutines with the number of
	// vectors processed so far (roughly every 1024).
	Progress func(done int)
}

// Validate reports every problem with o at once.
func (o DedupOptions) Validate() error {
	var errs []error
	if !(o.Threshold > 0 && o.Threshold <= 1) {
		errs = append(errs, fmt.Errorf("threshold %v: want a cosine in (0, 1]", o.Threshold))
	}
	if o.Probes < -1 {
		errs = append(errs, fmt.Errorf("probes %d: want >= -1", o.Probes))
	}
	switch o.Representative {
	case "", RepFirst, RepCentral:
	default:
		errs = append(errs, fmt.Errorf("representative %q: want %q or %q", o.Representative, RepFirst, RepCentral))
	}
	if o.Workers < 0 {
		errs = append(errs, fmt.Errorf("workers %d: want >= 0", o.Workers))
	}
	return joinErrs("lsh: invalid dedup options", errs)
}

// Member is one document of a duplicate group.
type Member struct {
	ID uint32 `json:"id"`
	// Similarity is the cosine to the group's representative (1 for itself).
	Similarity float32 `json:"similarity"`
}

// Group is a set of near-duplicates: the connected components of the graph
// whose edges are verified pairs with cosine >= tau (single linkage, so two
// members may be less similar than tau through a chain).
type Group struct {
	ID             int      `json:"group"`
	Representative uint32   `json:"representative"`
	Members        []Member `json:"members"` // representative first, then by similarity, then id
}

// DedupStats summarises a Dedup run.
type DedupStats struct {
	Docs         int   `json:"docs"`
	Groups       int   `json:"groups"`
	DocsInGroups int   `json:"docs_in_groups"`
	Pairs        int64 `json:"pairs"`       // verified pairs with cosine >= tau
	Comparisons  int64 `json:"comparisons"` // exact cosines computed
	AllPairs     int64 `json:"all_pairs"`   // n(n-1)/2
	// CandidateFraction is Comparisons / AllPairs.
	CandidateFraction float64       `json:"candidate_fraction"`
	Elapsed           time.Duration `json:"elapsed_ns"`
}

// Dedup finds groups of near-duplicate vectors and calls emit for each group
// of two or more, in increasing order of the group's smallest id; groups get
// IDs 0, 1, ... in that order. It streams: each vector queries its own
// buckets (plus probes) for vectors added after it, a per-worker visited
// array makes each candidate pair compared once per query vector, and only
// verified pairs (cosine >= tau) are kept, folded into a union-find over
// slots. Memory is O(n) beyond the index; no candidate-pair list is built.
// An error from emit stops the run and is returned. Dedup holds the read
// lock for the whole run (minutes at a million vectors): writers wait.
func (x *Index) Dedup(ctx context.Context, o DedupOptions, emit func(Group) error) (DedupStats, error) {
	start := time.Now()
	if err := o.Validate(); err != nil {
		return DedupStats{}, err
	}
	probes := o.Probes
	switch probes {
	case 0:
		probes = x.probes
	case -1:
		probes = 0
	}
	workers := o.Workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	tau := float32(o.Threshold) - 1e-6

	x.mu.Lock()
	x.mergeLocked()
	x.mu.Unlock()
	x.mu.RLock()
	defer x.mu.RUnlock()

	n := len(x.ids)
	uf := newUnionFind(n)
	var ufMu sync.Mutex
	var next, done atomic.Int64
	var comparisons, pairs atomic.Int64
	const chunk = 256
	g, gctx := errgroup.WithContext(ctx)
	for range min(workers, max(1, (n+chunk-1)/chunk)) {
		g.Go(func() error {
			s := &scratch{proj: make([]float32, x.k*x.l), home: make([]uint64, x.l)}
			var found [][2]uint32
			for {
				if err := gctx.Err(); err != nil {
					return err
				}
				lo := int(next.Add(chunk)) - chunk
				if lo >= n {
					return nil
				}
				var cmp int64
				found = found[:0]
				for i := lo; i < min(lo+chunk, n); i++ {
					sl := uint32(i)
					if x.isDead(sl) {
						continue
					}
					vi, err := x.vector(sl)
					if err != nil {
						return err
					}
					copy(s.home, x.sigs[i*x.l:(i+1)*x.l])
					if probes > 0 {
						x.Project(s.proj, vi)
					}
					x.collect(s, probes, i)
					for _, sj := range s.cands {
						vj, err := x.vector(sj)
						if err != nil {
							return err
						}
						cmp++
						if vec.Dot(vi, vj) >= tau {
							found = append(found, [2]uint32{sl, sj})
						}
					}
				}
				comparisons.Add(cmp)
				pairs.Add(int64(len(found)))
				if len(found) > 0 {
					ufMu.Lock()
					for _, p := range found {
						uf.union(p[0], p[1])
					}
					ufMu.Unlock()
				}
				if d := done.Add(int64(min(chunk, n-lo))); o.Progress != nil {
					o.Progress(int(d))
				}
			}
		})
	}
	if err := g.Wait(); err != nil {
		return DedupStats{}, err
	}

	st := DedupStats{
		Docs:        n - x.nDead,
		Pairs:       pairs.Load(),
		Comparisons: comparisons.Load(),
	}
	st.AllPairs = int64(st.Docs) * int64(st.Docs-1) / 2
	if st.AllPairs > 0 {
		st.CandidateFraction = float64(st.Comparisons) / float64(st.AllPairs)
	}

	// Group slots by root with a counting sort; groups ordered by their
	// smallest id.
	root := make([]uint32, n)
	size := make([]uint32, n)
	for i := range n {
		if x.isDead(uint32(i)) {
			root[i] = ^uint32(0)
			continue
		}
		r := uf.find(uint32(i))
		root[i] = r
		size[r]++
	}
	type grp struct {
		root  uint32
		minID uint32
	}
	var groups []grp
	minID := make(map[uint32]uint32)
	for i := range n {
		r := root[i]
		if r == ^uint32(0) || size[r] < 2 {
			continue
		}
		if m, ok := minID[r]; !ok || x.ids[i] < m {
			minID[r] = x.ids[i]
		}
	}
	for r, m := range minID {
		groups = append(groups, grp{r, m})
	}
	slices.SortFunc(groups, func(a, b grp) int { return cmpU32(a.minID, b.minID) })
	offset := make(map[uint32]int, len(groups))
	total := 0
	for _, gr := range groups {
		offset[gr.root] = total
		total += int(size[gr.root])
	}
	members := make([]uint32, total)
	fill := make(map[uint32]int, len(groups))
	for i := range n {
		r := root[i]
		if r == ^uint32(0) || size[r] < 2 {
			continue
		}
		members[offset[r]+fill[r]] = uint32(i)
		fill[r]++
	}
	st.Groups = len(groups)
	st.DocsInGroups = total
	mean := make([]float32, x.dim)
	for gi, gr := range groups {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		ms := members[offset[gr.root] : offset[gr.root]+int(size[gr.root])]
		g, err := x.makeGroup(gi, ms, o.Representative, mean)
		if err != nil {
			return st, err
		}
		if err := emit(g); err != nil {
			return st, err
		}
	}
	st.Elapsed = time.Since(start)
	return st, nil
}

func (x *Index) makeGroup(id int, slots []uint32, rep Representative, mean []float32) (Group, error) {
	repSlot := slots[0]
	if rep == RepCentral {
		clear(mean)
		for _, sl := range slots {
			v, err := x.vector(sl)
			if err != nil {
				return Group{}, err
			}
			for i, f := range v {
				mean[i] += f
			}
		}
		best := float32(-2)
		for _, sl := range slots {
			v, _ := x.vector(sl)
			if d := vec.Dot(mean, v); d > best || (d == best && x.ids[sl] < x.ids[repSlot]) {
				best, repSlot = d, sl
			}
		}
	} else {
		for _, sl := range slots {
			if x.ids[sl] < x.ids[repSlot] {
				repSlot = sl
			}
		}
	}
	rv, err := x.vector(repSlot)
	if err != nil {
		return Group{}, err
	}
	g := Group{ID: id, Representative: x.ids[repSlot], Members: make([]Member, 0, len(slots))}
	for _, sl := range slots {
		v, err := x.vector(sl)
		if err != nil {
			return Group{}, err
		}
		sim := vec.Dot(rv, v)
		if sl == repSlot {
			sim = 1
		}
		g.Members = append(g.Members, Member{ID: x.ids[sl], Similarity: sim})
	}
	slices.SortFunc(g.Members, func(a, b Member) int {
		switch {
		case a.ID == g.Representative:
			return -1
		case b.ID == g.Representative:
			return 1
		case a.Similarity > b.Similarity:
			return -1
		case a.Similarity < b.Similarity:
			return 1
		}
		return cmpU32(a.ID, b.ID)
	})
	return g, nil
}

func cmpU32(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// unionFind is a disjoint-set forest over slots with path halving and
// union by size. Not safe for concurrent use.
type unionFind struct {
	parent []uint32
	size   []uint32
}

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]uint32, n), size: make([]uint32, n)}
	for i := range u.parent {
		u.parent[i] = uint32(i)
		u.size[i] = 1
	}
	return u
}

func (u *unionFind) find(a uint32) uint32 {
	for u.parent[a] != a {
		u.parent[a] = u.parent[u.parent[a]]
		a = u.parent[a]
	}
	return a
}

func (u *unionFind) union(a, b uint32) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	if u.size[ra] < u.size[rb] {
		ra, rb = rb, ra
	}
	u.parent[rb] = ra
	u.size[ra] += u.size[rb]
}
