package index

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"unsafe"

	"golang.org/x/sync/errgroup"

	"github.com/twinsearch/twin/internal/vec"
)

// HNSWOptions configures an HNSW graph. The zero value means the defaults.
type HNSWOptions struct {
	// M is the number of links per node on the upper layers; layer 0 keeps
	// 2·M. Default 16.
	M int
	// EfConstruction is the candidate list size while inserting. Default 200.
	EfConstruction int
	// EfSearch is the candidate list size of Search when ef <= 0. Default 64.
	EfSearch int
	// Seed seeds the level generator. Equal seeds and insertion orders give
	// identical graphs (single-threaded Add; AddBatch with one worker).
	Seed uint64
	// CompactRatio triggers Compact from Delete once tombstones exceed this
	// fraction of the nodes. Default 0.25; negative disables.
	CompactRatio float64
}

func (o HNSWOptions) withDefaults() HNSWOptions {
	if o.M <= 0 {
		o.M = 16
	}
	if o.EfConstruction <= 0 {
		o.EfConstruction = 200
	}
	if o.EfSearch <= 0 {
		o.EfSearch = 64
	}
	if o.CompactRatio == 0 {
		o.CompactRatio = 0.25
	}
	return o
}

// Validate reports every out-of-range option at once.
func (o HNSWOptions) Validate() error {
	var errs []string
	if o.M < 0 || o.M > 256 {
		errs = append(errs, fmt.Sprintf("M %d outside [2, 256]", o.M))
	} else if o.M == 1 {
		errs = append(errs, "M must be at least 2")
	}
	if o.EfConstruction < 0 || o.EfConstruction > 1<<16 {
		errs = append(errs, fmt.Sprintf("efConstruction %d outside [1, 65536]", o.EfConstruction))
	}
	if o.EfSearch < 0 || o.EfSearch > 1<<16 {
		errs = append(errs, fmt.Sprintf("efSearch %d outside [1, 65536]", o.EfSearch))
	}
	if len(errs) > 0 {
		return fmt.Errorf("index: hnsw options: %v", errs)
	}
	return nil
}

const maxLevel = 16

// usePrefetch switches the neighbour prefetch (measured +28% QPS on
// gmm100k; a variable so a test can compare both).
var usePrefetch = true

// seqSeed is how many nodes AddBatch inserts sequentially into a graph
// before going parallel.
const seqSeed = 1024

// HNSW is twin's hierarchical navigable small world graph (Malkov &
// Yashunin, 2016): M links per node on the upper layers, 2·M on layer 0,
// neighbours chosen with the paper's heuristic (Algorithm 4), separate
// efConstruction and efSearch, inner-product scores (vec.Dot, SIMD).
//
// Layout: vectors in one flat []float32, layer-0 adjacency in one flat
// []uint32 (count then 2·M ids per node), upper layers in one small slice
// per node that has them; the visited set is an epoch-stamped []uint16 from
// a pool, so a search allocates only its result slice. Memory per vector:
// 4·dim + 4·(2M+1) bytes + about 4·(M+1)/(M-1) for the upper layers + 3.
//
// Deletes are tombstones: the node stays in the graph for routing but is
// never returned. Compact (run automatically when tombstones pass
// CompactRatio) repairs the neighbour lists of live nodes from the deleted
// nodes' neighbours and frees the deleted slots. Add on an existing or
// deleted id replaces its vector and relinks it.
//
// Concurrency: any number of Search calls run in parallel; Add, Delete,
// AddBatch and Compact take an exclusive lock (one writer at a time;
// AddBatch parallelises inside it with per-node locks).
type HNSW struct {
	dim  int
	opt  HNSWOptions
	m    int // links on layers >= 1
	m0   int // links on layer 0
	ml   float64
	pool sync.Pool // *scratch

	mu sync.RWMutex
	// guarded by mu
	rng        *rand.Rand
	pcg        *rand.PCG
	vecs       []float32
	levels     []int8 // -1: empty slot
	deleted    []bool
	links0     []uint32   // slot i at [i*(m0+1)]: count, then m0 ids
	upper      [][]uint32 // slot i: level*(m+1): per layer 1..level, count then m ids
	live       int
	tombstones int
	entry      uint32
	top        int // level of entry; -1 when empty

	// parallel build only
	nodeMu []sync.Mutex
	epMu   sync.Mutex
}

// NewHNSW returns an empty graph for vectors of length dim (> 0). It panics
// on dim <= 0 or options that fail Validate (programmer errors).
func NewHNSW(dim int, opt HNSWOptions) *HNSW {
	if dim <= 0 {
		panic("index: NewHNSW with dim <= 0")
	}
	if err := opt.Validate(); err != nil {
		panic(err)
	}
	opt = opt.withDefaults()
	h := &HNSW{dim: dim, opt: opt, m: opt.M, m0: 2 * opt.M, ml: 1 / math.Log(float64(opt.M)), top: -1}
	h.pcg = rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15)
	h.rng = rand.New(h.pcg)
	return h
}

// Dim returns the vector length.
func (h *HNSW) Dim() int { return h.dim }

// Options returns the options in effect (defaults filled in).
func (h *HNSW) Options() HNSWOptions { return h.opt }

// Len returns the number of live (not deleted) vectors.
func (h *HNSW) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.live
}

// Tombstones returns the number of deleted nodes not yet compacted away.
func (h *HNSW) Tombstones() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.tombstones
}

// MemoryBytes returns the bytes held by the graph's arrays (vectors,
// links, levels and flags; not the per-search scratch).
func (h *HNSW) MemoryBytes() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 4*cap(h.vecs) + 4*cap(h.links0) + cap(h.levels) + cap(h.deleted) + 24*cap(h.upper)
	for _, u := range h.upper {
		n += 4 * cap(u)
	}
	return n
}

// hasVector reports whether id is live and holds exactly v.
func (h *HNSW) hasVector(id uint32, v []float32) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if int(id) >= len(h.levels) || h.levels[id] < 0 || h.deleted[id] || len(v) != h.dim {
		return false
	}
	for i, x := range h.vector(id) {
		if x != v[i] {
			return false
		}
	}
	return true
}

// liveIDs returns the ids of the live nodes.
func (h *HNSW) liveIDs() []uint32 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]uint32, 0, h.live)
	for i, l := range h.levels {
		if l >= 0 && !h.deleted[i] {
			out = append(out, uint32(i))
		}
	}
	return out
}

// Contains reports whether id is live.
func (h *HNSW) Contains(id uint32) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return int(id) < len(h.levels) && h.levels[id] >= 0 && !h.deleted[id]
}

func (h *HNSW) vector(id uint32) []float32 {
	i := int(id) * h.dim
	return h.vecs[i : i+h.dim : i+h.dim]
}

// links returns the neighbour list storage of id on layer l: element 0 is
// the count, then the capacity.
func (h *HNSW) links(id uint32, l int) []uint32 {
	if l == 0 {
		i := int(id) * (h.m0 + 1)
		return h.links0[i : i+h.m0+1 : i+h.m0+1]
	}
	i := (l - 1) * (h.m + 1)
	return h.upper[id][i : i+h.m+1 : i+h.m+1]
}

func (h *HNSW) randomLevel() int {
	u := h.rng.Float64()
	if u == 0 {
		u = math.SmallestNonzeroFloat64
	}
	return min(int(-math.Log(u)*h.ml), maxLevel)
}

// growLocked makes room for slots [0, n).
func (h *HNSW) growLocked(n int) {
	if n <= len(h.levels) {
		return
	}
	c := max(n, len(h.levels)+len(h.levels)/2, 1024)
	old := len(h.levels)
	h.levels = slices.Grow(h.levels, c-old)[:c]
	for i := old; i < c; i++ {
		h.levels[i] = -1
	}
	h.deleted = slices.Grow(h.deleted, c-old)[:c]
	h.vecs = slices.Grow(h.vecs, c*h.dim-len(h.vecs))[:c*h.dim]
	h.links0 = slices.Grow(h.links0, c*(h.m0+1)-len(h.links0))[:c*(h.m0+1)]
	h.upper = slices.Grow(h.upper, c-old)[:c]
}

// scratch is the per-search state: visited marks stamped with an epoch,
// the two heaps and a neighbour buffer.
type scratch struct {
	marks  []uint16
	epoch  uint16
	cands  maxHeap
	res    minHeap
	nbuf   []uint32
	todo   []uint32
	conn   []cand
	layers [][]cand // per layer: the neighbours chosen while inserting
}

func (h *HNSW) getScratch(n int) *scratch {
	s, _ := h.pool.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	if len(s.marks) < n {
		s.marks = make([]uint16, n+n/4)
		s.epoch = 0
	}
	s.epoch++
	if s.epoch == 0 {
		clear(s.marks)
		s.epoch = 1
	}
	return s
}

func (h *HNSW) putScratch(s *scratch) { h.pool.Put(s) }

// Add inserts v (copied) under id. An id that is already present, or was
// deleted, gets the new vector and is relinked.
func (h *HNSW) Add(id uint32, v []float32) error {
	if err := checkVector(v, h.dim); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.addLocked(id, v)
	return nil
}

func (h *HNSW) addLocked(id uint32, v []float32) {
	h.growLocked(int(id) + 1)
	if h.levels[id] >= 0 {
		h.resetNodeLocked(id)
	} else {
		h.initNodeLocked(id, h.randomLevel())
	}
	copy(h.vector(id), v)
	h.live++
	h.insert(id, false, nil)
}

// resetNodeLocked turns an existing node into a fresh one of the same
// level (its links are cleared; links pointing at it stay and now lead to
// the new vector).
func (h *HNSW) resetNodeLocked(id uint32) {
	if h.deleted[id] {
		h.deleted[id] = false
		h.tombstones--
	} else {
		h.live--
	}
	for l := 0; l <= int(h.levels[id]); l++ {
		h.links(id, l)[0] = 0
	}
	if h.entry == id && h.live > 0 {
		// Route the relinking through another node.
		h.pickEntryLocked(id)
	}
}

func (h *HNSW) initNodeLocked(id uint32, level int) {
	h.levels[id] = int8(level)
	if level > 0 {
		h.upper[id] = make([]uint32, level*(h.m+1))
	}
	h.links(id, 0)[0] = 0
}

// pickEntryLocked chooses the live node with the highest level other than
// skip as the entry point (O(n); only after deleting or replacing it).
func (h *HNSW) pickEntryLocked(skip uint32) {
	best, bl := uint32(0), -1
	for i, l := range h.levels {
		if int(l) > bl && uint32(i) != skip && !h.deleted[i] {
			best, bl = uint32(i), int(l)
		}
	}
	h.entry, h.top = best, bl
}

// insert links node id (vector and level already set) into the graph.
// With locked, node link lists are guarded by nodeMu (parallel build).
func (h *HNSW) insert(id uint32, locked bool, s *scratch) {
	level := int(h.levels[id])
	if locked {
		h.epMu.Lock()
	}
	ep, top := h.entry, h.top
	if top < 0 || (ep == id) {
		if top < level {
			h.entry, h.top = id, level
		}
		if locked {
			h.epMu.Unlock()
		}
		return
	}
	if level > top && locked {
		// Hold epMu for the whole insertion, as hnswlib does, so that two
		// new top-level nodes do not race for the entry point.
		defer h.epMu.Unlock()
	} else if locked {
		h.epMu.Unlock()
	}
	q := h.vector(id)
	if s == nil {
		s = h.getScratch(len(h.levels))
		defer h.putScratch(s)
	}
	epScore := vec.Dot(q, h.vector(ep))
	for l := top; l > level; l-- {
		ep, epScore = h.greedy(q, ep, epScore, l, locked, s)
	}
	// Search every layer first and link afterwards, so the node is not
	// reachable (in parallel builds) before all its own lists are set.
	lmax := min(level, top)
	for len(s.layers) <= lmax {
		s.layers = append(s.layers, nil)
	}
	for l := lmax; l >= 0; l-- {
		h.searchLayer(q, ep, epScore, h.opt.EfConstruction, l, locked, s)
		// s.res holds up to efC results; sort best first.
		sel := s.layers[l][:0]
		for len(s.res) > 0 {
			if c := s.res.pop(); c.id != id {
				sel = append(sel, c)
			}
		}
		slices.Reverse(sel)
		if len(sel) > 0 {
			ep, epScore = sel[0].id, sel[0].score
		}
		s.layers[l] = h.selectNeighbors(sel, h.m)
	}
	if locked {
		h.nodeMu[id].Lock()
	}
	for l := lmax; l >= 0; l-- {
		ln := h.links(id, l)
		ln[0] = uint32(len(s.layers[l]))
		for i, c := range s.layers[l] {
			ln[1+i] = c.id
		}
	}
	if locked {
		h.nodeMu[id].Unlock()
	}
	for l := lmax; l >= 0; l-- {
		mmax := h.m
		if l == 0 {
			mmax = h.m0
		}
		for _, c := range s.layers[l] {
			h.connect(c.id, id, c.score, l, mmax, locked, s)
		}
	}
	if level > top {
		h.entry, h.top = id, level
	}
}

// greedy walks layer l from ep to a local best for q (ef = 1).
func (h *HNSW) greedy(q []float32, ep uint32, epScore float32, l int, locked bool, s *scratch) (uint32, float32) {
	for changed := true; changed; {
		changed = false
		nb := h.neighbours(ep, l, locked, s)
		for _, n := range nb {
			if sc := vec.Dot(q, h.vector(n)); sc > epScore {
				ep, epScore, changed = n, sc, true
			}
		}
	}
	return ep, epScore
}

// neighbours returns the links of id on layer l; under locked they are
// copied into s.nbuf while holding the node's lock.
func (h *HNSW) neighbours(id uint32, l int, locked bool, s *scratch) []uint32 {
	if !locked {
		ln := h.links(id, l)
		return ln[1 : 1+ln[0]]
	}
	h.nodeMu[id].Lock()
	ln := h.links(id, l)
	s.nbuf = append(s.nbuf[:0], ln[1:1+ln[0]]...)
	h.nodeMu[id].Unlock()
	return s.nbuf
}

// searchLayer leaves in s.res (a min-heap) the best ef live nodes found on
// layer l from ep. Deleted nodes are traversed but not collected.
func (h *HNSW) searchLayer(q []float32, ep uint32, epScore float32, ef, l int, locked bool, s *scratch) {
	s.epoch++
	if s.epoch == 0 {
		clear(s.marks)
		s.epoch = 1
	}
	epoch, marks := s.epoch, s.marks
	s.cands = s.cands[:0]
	s.res = s.res[:0]
	marks[ep] = epoch
	s.cands.push(cand{epScore, ep})
	lower := float32(math.Inf(-1))
	anyDeleted := h.tombstones > 0
	if !h.deleted[ep] {
		s.res.push(cand{epScore, ep})
		lower = epScore
	}
	for len(s.cands) > 0 {
		c := s.cands[0]
		if c.score < lower && len(s.res) >= ef {
			break
		}
		s.cands.pop()
		// Mark and prefetch the unvisited neighbours first, then score
		// them, so their vectors stream in while the first is scored.
		todo := s.todo[:0]
		for _, n := range h.neighbours(c.id, l, locked, s) {
			if marks[n] == epoch {
				continue
			}
			marks[n] = epoch
			todo = append(todo, n)
			if usePrefetch {
				prefetch(unsafe.Pointer(&h.vecs[int(n)*h.dim]), 4*h.dim)
			}
		}
		s.todo = todo
		for _, n := range todo {
			sc := vec.Dot(q, h.vector(n))
			if len(s.res) < ef || sc > lower {
				s.cands.push(cand{sc, n})
				if !anyDeleted || !h.deleted[n] {
					s.res.push(cand{sc, n})
					if len(s.res) > ef {
						s.res.pop()
					}
					lower = s.res[0].score
				}
			}
		}
		// The next candidate's links are the next cache miss: start it now.
		if l == 0 && usePrefetch && len(s.cands) > 0 {
			prefetch(unsafe.Pointer(&h.links0[int(s.cands[0].id)*(h.m0+1)]), 4*(h.m0+1))
		}
	}
}

// selectNeighbors is the paper's heuristic (Algorithm 4 without extending
// or keeping pruned links): walking candidates best first, keep one only if
// it is closer to the base than to every candidate already kept. cands must
// be sorted best first; the result reuses its storage.
func (h *HNSW) selectNeighbors(cands []cand, m int) []cand {
	if len(cands) <= m {
		return cands
	}
	out := cands[:0:len(cands)]
	for i := 0; i < len(cands) && len(out) < m; i++ {
		c := cands[i]
		cv := h.vector(c.id)
		good := true
		for _, r := range out {
			if vec.Dot(cv, h.vector(r.id)) > c.score {
				good = false
				break
			}
		}
		if good {
			out = append(out, c)
		}
	}
	return out
}

// selectKeepPruned is selectNeighbors topped up with the best pruned
// candidates up to m (the paper's keepPrunedConnections), used when
// repairing lists so that a repaired node does not lose degree.
func (h *HNSW) selectKeepPruned(cands []cand, m int) []cand {
	if len(cands) <= m {
		return cands
	}
	all := slices.Clone(cands)
	sel := h.selectNeighbors(cands, m)
	for _, c := range all {
		if len(sel) >= m {
			break
		}
		if !slices.ContainsFunc(sel, func(x cand) bool { return x.id == c.id }) {
			sel = append(sel, c)
		}
	}
	return sel
}

// connect adds a link from n to id on layer l, pruning n's list with the
// heuristic when it is full.
func (h *HNSW) connect(n, id uint32, score float32, l, mmax int, locked bool, s *scratch) {
	if locked {
		h.nodeMu[n].Lock()
		defer h.nodeMu[n].Unlock()
	}
	ln := h.links(n, l)
	cnt := int(ln[0])
	for _, x := range ln[1 : 1+cnt] {
		if x == id {
			return
		}
	}
	if cnt < mmax {
		ln[1+cnt] = id
		ln[0]++
		return
	}
	nv := h.vector(n)
	cs := append(s.conn[:0], cand{score, id})
	for _, x := range ln[1 : 1+cnt] {
		cs = append(cs, cand{vec.Dot(nv, h.vector(x)), x})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	sel := h.selectNeighbors(cs, mmax)
	ln[0] = uint32(len(sel))
	for i, c := range sel {
		ln[1+i] = c.id
	}
	s.conn = cs
}

// Search returns up to k live hits for q, best first. ef <= 0 uses
// EfSearch; ef < k is raised to k. k larger than Len returns Len hits.
func (h *HNSW) Search(q []float32, k, ef int) ([]vec.Hit, error) {
	return h.SearchAppend(nil, q, k, ef)
}

// SearchAppend is Search appending to dst, so a caller that reuses dst
// searches without allocating.
func (h *HNSW) SearchAppend(dst []vec.Hit, q []float32, k, ef int) ([]vec.Hit, error) {
	ef, err := checkQuery(q, h.dim, k, ef, h.opt.EfSearch)
	if err != nil {
		return dst, err
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.top < 0 || h.live == 0 {
		return dst, nil
	}
	s := h.getScratch(len(h.levels))
	defer h.putScratch(s)
	ep := h.entry
	epScore := vec.Dot(q, h.vector(ep))
	for l := h.top; l > 0; l-- {
		ep, epScore = h.greedy(q, ep, epScore, l, false, s)
	}
	h.searchLayer(q, ep, epScore, ef, 0, false, s)
	for len(s.res) > k {
		s.res.pop()
	}
	n := len(s.res)
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	for i := n - 1; i >= 0; i-- {
		c := s.res.pop()
		dst[start+i] = vec.Hit{ID: c.id, Score: c.score}
	}
	return dst, nil
}

// AddBatch inserts vs[i] under ids[i] using workers goroutines (<= 0: all
// cores). Levels are drawn in slice order, so the level assignment is
// deterministic; with more than one worker the links depend on
// scheduling. Ids already present are replaced sequentially first.
func (h *HNSW) AddBatch(ids []uint32, vs [][]float32, workers int) error {
	if len(ids) != len(vs) {
		return fmt.Errorf("index: AddBatch: %d ids, %d vectors", len(ids), len(vs))
	}
	for i, v := range vs {
		if err := checkVector(v, h.dim); err != nil {
			return fmt.Errorf("vector %d (id %d): %w", i, ids[i], err)
		}
	}
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	maxID := uint32(0)
	for _, id := range ids {
		maxID = max(maxID, id)
	}
	if len(ids) > 0 {
		h.growLocked(int(maxID) + 1)
	}
	last := make(map[uint32]int, len(ids))
	for i, id := range ids {
		last[id] = i // a repeated id: the last vector wins
	}
	var fresh []int
	for i, id := range ids {
		if last[id] != i {
			continue
		}
		if h.levels[id] >= 0 {
			h.addLocked(id, vs[i])
			continue
		}
		fresh = append(fresh, i)
	}
	for _, i := range fresh {
		id := ids[i]
		h.initNodeLocked(id, h.randomLevel())
		copy(h.vector(id), vs[i])
	}
	h.live += len(fresh)
	if workers == 1 || len(fresh) < 2*workers {
		for _, i := range fresh {
			h.insert(ids[i], false, nil)
		}
		return nil
	}
	// Grow a small graph sequentially first: concurrent inserts into a
	// graph of a few dozen nodes left small unreachable islands in tests.
	start := 0
	for ; start < len(fresh) && h.live-len(fresh)+start < seqSeed; start++ {
		h.insert(ids[fresh[start]], false, nil)
	}
	if len(h.nodeMu) < len(h.levels) {
		h.nodeMu = make([]sync.Mutex, len(h.levels))
	}
	var g errgroup.Group
	var next sync.Mutex
	pos := start
	for range workers {
		g.Go(func() error {
			s := h.getScratch(len(h.levels))
			defer h.putScratch(s)
			for {
				next.Lock()
				p := pos
				pos += 16
				next.Unlock()
				if p >= len(fresh) {
					return nil
				}
				for _, i := range fresh[p:min(p+16, len(fresh))] {
					h.insert(ids[i], true, s)
				}
			}
		})
	}
	g.Wait()
	h.nodeMu = nil
	return nil
}

// Delete marks id deleted: it is never returned again. Once tombstones
// exceed CompactRatio of the nodes, Delete compacts the graph.
func (h *HNSW) Delete(id uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if int(id) >= len(h.levels) || h.levels[id] < 0 || h.deleted[id] {
		return fmt.Errorf("%w: id %d", ErrNotFound, id)
	}
	h.deleted[id] = true
	h.live--
	h.tombstones++
	if r := h.opt.CompactRatio; r > 0 && h.tombstones >= 64 && float64(h.tombstones) > r*float64(h.live+h.tombstones) {
		h.compactLocked()
	}
	return nil
}

// Compact repairs the graph around deleted nodes and frees their slots:
// each live node that links to a deleted one replaces those links with the
// best (by the selection heuristic) of its remaining links and the deleted
// nodes' live links; a node left with no links on layer 0 is relinked by a
// search. Cost about O(tombstones · M² · dim).
func (h *HNSW) Compact() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.compactLocked()
}

func (h *HNSW) compactLocked() {
	if h.tombstones == 0 {
		return
	}
	var cs []cand
	var isolated []uint32
	for u := range h.levels {
		lv := int(h.levels[u])
		if lv < 0 || h.deleted[u] {
			continue
		}
		uv := h.vector(uint32(u))
		for l := 0; l <= lv; l++ {
			ln := h.links(uint32(u), l)
			hit := false
			for _, x := range ln[1 : 1+ln[0]] {
				if h.deleted[x] {
					hit = true
					break
				}
			}
			if !hit {
				continue
			}
			cs = cs[:0]
			add := func(x uint32) {
				if x == uint32(u) || h.deleted[x] || int(h.levels[x]) < l {
					return
				}
				for _, c := range cs {
					if c.id == x {
						return
					}
				}
				cs = append(cs, cand{vec.Dot(uv, h.vector(x)), x})
			}
			for _, x := range ln[1 : 1+ln[0]] {
				if !h.deleted[x] {
					add(x)
					continue
				}
				dl := h.links(x, l)
				for _, y := range dl[1 : 1+dl[0]] {
					add(y)
				}
			}
			slices.SortFunc(cs, func(a, b cand) int {
				switch {
				case a.score > b.score:
					return -1
				case a.score < b.score:
					return 1
				}
				return 0
			})
			mmax := h.m
			if l == 0 {
				mmax = h.m0
			}
			sel := h.selectKeepPruned(cs, mmax)
			ln[0] = uint32(len(sel))
			for i, c := range sel {
				ln[1+i] = c.id
			}
			if l == 0 && len(sel) == 0 {
				isolated = append(isolated, uint32(u))
			}
		}
	}
	// Free the deleted slots.
	entryGone := false
	for i, d := range h.deleted {
		if !d {
			continue
		}
		h.deleted[i] = false
		h.levels[i] = -1
		h.upper[i] = nil
		h.links0[i*(h.m0+1)] = 0
		clear(h.vector(uint32(i)))
		if uint32(i) == h.entry {
			entryGone = true
		}
	}
	h.tombstones = 0
	if entryGone {
		h.pickEntryLocked(math.MaxUint32)
		if h.live == 0 {
			h.top = -1
		}
	}
	for _, u := range isolated {
		if u == h.entry {
			continue
		}
		lv := int(h.levels[u])
		for l := 0; l <= lv; l++ {
			h.links(u, l)[0] = 0
		}
		h.insert(u, false, nil)
	}
}
