package lsh

import (
	"context"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/twinsearch/twin/internal/vec"
	"golang.org/x/sync/errgroup"
)

// Index is a set of L hash tables of K-bit random-hyperplane keys over
// vectors identified by uint32 ids. It answers candidate queries (Query),
// approximate nearest-neighbour search reranked by exact cosine (Search), and
// near-duplicate grouping (Dedup). See the package doc for layout, cost and
// the goroutine contract (safe for concurrent use).
type Index struct {
	dim, k, l int
	probes    int
	rerank    int
	seed      uint64
	source    func(uint32) []float32
	planes    []float32 // (k*l) x dim, unit rows; row t*k+b gives bit b of table t

	mu sync.RWMutex
	// Guarded by mu. A slot is a position in insertion order; ids[slot] is
	// its id. Slots < nFrozen are in the sorted frozen tables, later ones in
	// the pending maps.
	ids    []uint32
	slotOf map[uint32]uint32
	dead   []uint64 // bitset over slots
	nDead  int
	sigs   []uint64  // sigs[slot*l+t] is the key of slot in table t
	vecs   []float32 // slot*dim, normalised copies; nil when source is set
	frozen [][]uint32
	// dir[t][p] is the first position in frozen[t] whose key has top dirBits
	// bits >= p (len 2^dirBits+1): a bucket lookup reads one directory cell
	// and scans a few entries instead of binary-searching the whole table.
	dir     [][]uint32
	dirBits int
	nFrozen int
	pending []map[uint64][]uint32

	scratch sync.Pool // *scratch
}

// New returns an empty index, or the Validate error of opts.
func New(opts Options) (*Index, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	x := newIndex(opts)
	x.planes = makePlanes(opts.Dim, opts.K*opts.L, opts.Seed)
	return x, nil
}

func newIndex(opts Options) *Index {
	x := &Index{
		dim: opts.Dim, k: opts.K, l: opts.L, probes: opts.Probes, rerank: opts.Rerank, seed: opts.Seed,
		source:  opts.Source,
		slotOf:  make(map[uint32]uint32),
		frozen:  make([][]uint32, opts.L),
		pending: make([]map[uint64][]uint32, opts.L),
	}
	for t := range x.pending {
		x.pending[t] = make(map[uint64][]uint32)
	}
	return x
}

// makePlanes draws rows Gaussian vectors of length dim from a PCG source
// seeded with seed and scales each to unit length, so a projection is the
// cosine between the vector and the hyperplane's normal (its margin).
func makePlanes(dim, rows int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	planes := make([]float32, rows*dim)
	row := make([]float64, dim)
	for r := range rows {
		var ss float64
		for i := range row {
			row[i] = rng.NormFloat64()
			ss += row[i] * row[i]
		}
		inv := 1 / math.Sqrt(ss)
		for i, v := range row {
			planes[r*dim+i] = float32(v * inv)
		}
	}
	return planes
}

// Options returns the options the index was built with (Source included).
func (x *Index) Options() Options {
	return Options{Dim: x.dim, K: x.k, L: x.l, Probes: x.probes, Rerank: x.rerank, Seed: x.seed, Source: x.source}
}

// Dim returns the vector dimension.
func (x *Index) Dim() int { return x.dim }

// Bytes estimates the heap memory the index holds: planes, ids, keys,
// tables, directories, vector copies, the id map and the tombstone bitset
// (pending maps at ~60 B per entry).
func (x *Index) Bytes() int64 {
	x.mu.RLock()
	defer x.mu.RUnlock()
	b := 4*int64(cap(x.planes)) + 4*int64(cap(x.ids)) + 8*int64(cap(x.sigs)) + 4*int64(cap(x.vecs)) + 8*int64(cap(x.dead))
	for t := range x.frozen {
		b += 4 * int64(cap(x.frozen[t]))
	}
	for t := range x.dir {
		b += 4 * int64(cap(x.dir[t]))
	}
	b += int64(len(x.slotOf)) * 16 // swiss-table slot (8 B) at ~7/8 load plus control bytes, rounded
	b += int64(len(x.ids)-x.nFrozen) * int64(x.l) * 60
	return b
}

// Len returns the number of live vectors.
func (x *Index) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.ids) - x.nDead
}

// Project writes the K*L projections of v on the hyperplane normals to dst
// (len K*L; row t*K+b is bit b of table t) using SIMD dot products.
// It panics if len(v) != Dim or len(dst) != K*L.
func (x *Index) Project(dst, v []float32) {
	if len(v) != x.dim || len(dst) != x.k*x.l {
		panic("lsh: Project length mismatch")
	}
	d := x.dim
	for r := range dst {
		dst[r] = vec.Dot(x.planes[r*d:(r+1)*d], v)
	}
}

// keys turns projections into one K-bit key per table.
func (x *Index) keys(dst []uint64, proj []float32) {
	for t := range x.l {
		var key uint64
		for b, p := range proj[t*x.k : (t+1)*x.k] {
			if p >= 0 {
				key |= 1 << uint(b)
			}
		}
		dst[t] = key
	}
}

// Signature writes v's L keys to dst (len L) and returns it.
func (x *Index) Signature(dst []uint64, v []float32) ([]uint64, error) {
	if err := x.check(v); err != nil {
		return nil, err
	}
	if len(dst) != x.l {
		dst = make([]uint64, x.l)
	}
	proj := make([]float32, x.k*x.l)
	x.Project(proj, v)
	x.keys(dst, proj)
	return dst, nil
}

func (x *Index) check(v []float32) error {
	if len(v) != x.dim {
		return fmt.Errorf("%w: got %d, index has %d", ErrDim, len(v), x.dim)
	}
	if !vec.Finite(v) {
		return ErrNotFinite
	}
	if vec.Norm(v) == 0 {
		return ErrZeroVector
	}
	return nil
}

// Add inserts v under id. An id already present is replaced (upsert). v must
// have length Dim, finite values and a non-zero norm; the index keeps a
// normalised copy unless Options.Source is set.
func (x *Index) Add(id uint32, v []float32) error {
	if err := x.check(v); err != nil {
		return fmt.Errorf("add %d: %w", id, err)
	}
	sig := make([]uint64, x.l)
	proj := make([]float32, x.k*x.l)
	x.Project(proj, v)
	x.keys(sig, proj)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.appendLocked(id, v, sig, true)
	x.maybeMergeLocked()
	return nil
}

// AddBatch inserts vecs[i] under ids[i] for every i (upsert, like Add),
// computing signatures on all cores, in chunks so the transient memory is
// bounded. It checks every vector before inserting any; on a bad vector
// nothing is inserted. Duplicate ids in the batch: the last one wins. The
// batch bypasses the pending maps and is merged into the sorted tables
// before AddBatch returns; concurrent searches may miss vectors of a batch
// in progress.
func (x *Index) AddBatch(ctx context.Context, ids []uint32, vecs [][]float32) error {
	if len(ids) != len(vecs) {
		return fmt.Errorf("lsh: AddBatch got %d ids and %d vectors", len(ids), len(vecs))
	}
	for i, v := range vecs {
		if err := x.check(v); err != nil {
			return fmt.Errorf("add %d: %w", ids[i], err)
		}
	}
	x.mu.Lock()
	x.ids = slices.Grow(x.ids, len(ids))
	x.sigs = slices.Grow(x.sigs, len(ids)*x.l)
	if x.source == nil {
		x.vecs = slices.Grow(x.vecs, len(ids)*x.dim)
	}
	x.mu.Unlock()
	const chunk = 1 << 16
	sigs := make([]uint64, min(chunk, len(ids))*x.l)
	var err error
	for lo := 0; lo < len(ids) && err == nil; lo += chunk {
		hi := min(lo+chunk, len(ids))
		if err = x.signAll(ctx, vecs[lo:hi], sigs[:(hi-lo)*x.l]); err != nil {
			break
		}
		x.mu.Lock()
		for i := lo; i < hi; i++ {
			x.appendLocked(ids[i], vecs[i], sigs[(i-lo)*x.l:(i-lo+1)*x.l], false)
		}
		x.mu.Unlock()
	}
	// Merge even after a cancellation: the vectors inserted so far must
	// become searchable (they are outside the pending maps).
	x.mu.Lock()
	x.mergeLocked()
	x.mu.Unlock()
	return err
}

// signAll computes the keys of vecs into sigs (len(vecs)*L) in parallel.
func (x *Index) signAll(ctx context.Context, vecs [][]float32, sigs []uint64) error {
	const chunk = 256
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	workers := min(runtime.GOMAXPROCS(0), (len(vecs)+chunk-1)/chunk)
	for range workers {
		g.Go(func() error {
			proj := make([]float32, x.k*x.l)
			for {
				if err := ctx.Err(); err != nil {
					return err
				}
				lo := int(next.Add(chunk)) - chunk
				if lo >= len(vecs) {
					return nil
				}
				for i := lo; i < min(lo+chunk, len(vecs)); i++ {
					x.Project(proj, vecs[i])
					x.keys(sigs[i*x.l:(i+1)*x.l], proj)
				}
			}
		})
	}
	return g.Wait()
}

// appendLocked gives id a new slot holding v and its keys sig; the old slot
// of id, if any, dies. With toPending the slot goes into the pending maps
// (visible to queries at once); without, the caller merges before
// releasing the index to queries that must see it.
func (x *Index) appendLocked(id uint32, v []float32, sig []uint64, toPending bool) {
	if old, ok := x.slotOf[id]; ok {
		x.killLocked(id, old)
	}
	slot := uint32(len(x.ids))
	x.ids = append(x.ids, id)
	x.slotOf[id] = slot
	if int(slot)/64 >= len(x.dead) {
		x.dead = append(x.dead, 0)
	}
	x.sigs = append(x.sigs, sig...)
	if x.source == nil {
		start := len(x.vecs)
		x.vecs = append(x.vecs, v...)
		vec.Normalize(x.vecs[start:])
	}
	if toPending {
		for t, key := range sig {
			x.pending[t][key] = append(x.pending[t][key], slot)
		}
	}
}

func (x *Index) killLocked(id, slot uint32) {
	delete(x.slotOf, id)
	x.dead[slot/64] |= 1 << (slot % 64)
	x.nDead++
}

func (x *Index) isDead(slot uint32) bool { return x.dead[slot/64]&(1<<(slot%64)) != 0 }

// Delete removes id, or returns ErrNotFound.
func (x *Index) Delete(id uint32) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	slot, ok := x.slotOf[id]
	if !ok {
		return fmt.Errorf("delete %d: %w", id, ErrNotFound)
	}
	x.killLocked(id, slot)
	if x.nDead > 1024 && x.nDead > len(x.ids)-x.nDead {
		x.compactLocked()
	}
	return nil
}

// Compact merges pending entries into the sorted tables and drops
// tombstones. It is called automatically; calling it after a bulk load or
// many deletes saves memory and makes queries a little faster.
func (x *Index) Compact() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.compactLocked()
}

// maybeMergeLocked merges the pending maps once they hold more than half as
// many slots as the frozen tables (plus a floor), keeping Add amortised
// O(L log n) and the maps small.
func (x *Index) maybeMergeLocked() {
	if p := len(x.ids) - x.nFrozen; p > 2048+x.nFrozen/2 {
		x.mergeLocked()
	}
}

// mergeLocked moves every pending slot into the sorted tables.
func (x *Index) mergeLocked() {
	n := len(x.ids)
	if n == x.nFrozen {
		return
	}
	l := x.l
	add := make([]uint32, n-x.nFrozen)
	var rs radixScratch
	for t := range l {
		for i := range add {
			add[i] = uint32(x.nFrozen + i)
		}
		// Slots ascend already, so a stable sort by key orders by (key, slot).
		rs.sort(add, func(s uint32) uint64 { return x.sigs[int(s)*l+t] }, x.k)
		old := x.frozen[t]
		merged := make([]uint32, 0, len(old)+len(add))
		i, j := 0, 0
		for i < len(old) && j < len(add) {
			// Every added slot is larger than every old one: on equal keys old goes first.
			if x.sigs[int(old[i])*l+t] <= x.sigs[int(add[j])*l+t] {
				merged = append(merged, old[i])
				i++
			} else {
				merged = append(merged, add[j])
				j++
			}
		}
		merged = append(merged, old[i:]...)
		merged = append(merged, add[j:]...)
		x.frozen[t] = merged
		x.pending[t] = make(map[uint64][]uint32)
	}
	x.nFrozen = n
	x.buildDirLocked()
}

// buildDirLocked rebuilds the directories: dirBits = min(K, 24,
// floor(log2 n) - 1), i.e. at most one cell per two vectors (<= 2 bytes per
// table entry).
func (x *Index) buildDirLocked() {
	n := x.nFrozen
	d := 0
	if n >= 4 {
		d = bits.Len(uint(n)) - 2
	}
	d = min(d, x.k, 24)
	x.dirBits = d
	if len(x.dir) != x.l {
		x.dir = make([][]uint32, x.l)
	}
	shift := uint(x.k - d)
	for t, tab := range x.frozen {
		dir := x.dir[t]
		if len(dir) != 1<<d+1 {
			dir = make([]uint32, 1<<d+1)
		}
		pos := 0
		for p := range 1 << d {
			for pos < len(tab) && x.sigs[int(tab[pos])*x.l+t]>>shift < uint64(p) {
				pos++
			}
			dir[p] = uint32(pos)
		}
		dir[1<<d] = uint32(len(tab))
		x.dir[t] = dir
	}
}

// compactLocked merges, then renumbers live slots densely (keeping their
// order, so the tables stay sorted) and drops dead ones.
func (x *Index) compactLocked() {
	x.mergeLocked()
	if x.nDead == 0 {
		return
	}
	n := len(x.ids)
	remap := make([]uint32, n)
	live := 0
	for s := range n {
		if x.isDead(uint32(s)) {
			remap[s] = math.MaxUint32
			continue
		}
		remap[s] = uint32(live)
		live++
	}
	ids := make([]uint32, 0, live)
	sigs := make([]uint64, 0, live*x.l)
	var vecs []float32
	if x.vecs != nil {
		vecs = make([]float32, 0, live*x.dim)
	}
	for s := range n {
		if remap[s] == math.MaxUint32 {
			continue
		}
		ids = append(ids, x.ids[s])
		sigs = append(sigs, x.sigs[s*x.l:(s+1)*x.l]...)
		if vecs != nil {
			vecs = append(vecs, x.vecs[s*x.dim:(s+1)*x.dim]...)
		}
	}
	for t, tab := range x.frozen {
		out := make([]uint32, 0, live)
		for _, s := range tab {
			if r := remap[s]; r != math.MaxUint32 {
				out = append(out, r)
			}
		}
		x.frozen[t] = out
	}
	for i, id := range ids {
		x.slotOf[id] = uint32(i)
	}
	x.ids, x.sigs, x.vecs = ids, sigs, vecs
	x.dead = make([]uint64, (live+63)/64)
	x.nDead = 0
	x.nFrozen = live
	x.buildDirLocked()
}

// bucket returns the slots with key in table t: a run of the frozen table
// and the pending list (both may be empty; dead slots included). Caller
// holds mu (read).
func (x *Index) bucket(t int, key uint64) ([]uint32, []uint32) {
	f := x.frozen[t]
	l := x.l
	lo, hi := 0, len(f)
	if x.dir != nil {
		p := key >> uint(x.k-x.dirBits)
		lo, hi = int(x.dir[t][p]), int(x.dir[t][p+1])
		if x.dirBits == x.k { // the cell is the bucket
			return f[lo:hi], x.pending[t][key]
		}
	}
	limit := hi
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if x.sigs[int(f[m])*l+t] < key {
			lo = m + 1
		} else {
			hi = m
		}
	}
	end := lo
	for end < limit && x.sigs[int(f[end])*l+t] == key {
		end++
	}
	return f[lo:end], x.pending[t][key]
}

// vector returns the unit vector of a live slot. Caller holds mu (read).
func (x *Index) vector(slot uint32) ([]float32, error) {
	if x.vecs != nil {
		return x.vecs[int(slot)*x.dim : (int(slot)+1)*x.dim], nil
	}
	v := x.source(x.ids[slot])
	if len(v) != x.dim {
		return nil, fmt.Errorf("%w: id %d (got %d values, want %d)", ErrNoVector, x.ids[slot], len(v), x.dim)
	}
	return v, nil
}

// Vector returns the stored (normalised) vector of id: the index's own copy
// (valid until the next Add, Delete or Compact; do not modify it) or what
// Options.Source returns.
func (x *Index) Vector(id uint32) ([]float32, error) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	slot, ok := x.slotOf[id]
	if !ok {
		return nil, fmt.Errorf("vector %d: %w", id, ErrNotFound)
	}
	return x.vector(slot)
}

// scratch is per-query working memory, pooled.
type scratch struct {
	proj    []float32
	home    []uint64
	visited []uint32 // epoch per slot
	hits    []uint16 // per slot: tables whose probed buckets held it (valid when visited)
	epoch   uint32
	cands   []uint32
	probe   prober
}

func (x *Index) getScratch() *scratch {
	s, _ := x.scratch.Get().(*scratch)
	if s == nil {
		s = &scratch{}
	}
	if len(s.proj) != x.k*x.l {
		s.proj = make([]float32, x.k*x.l)
		s.home = make([]uint64, x.l)
	}
	return s
}

// mostHit keeps the r candidates found in the most tables (ties: first
// found), in place, with a counting sort over hit counts (<= L).
func (s *scratch) mostHit(cands []uint32, r, l int) []uint32 {
	count := make([]int, l+2)
	for _, sl := range cands {
		count[min(int(s.hits[sl]), l+1)]++
	}
	// cut: the smallest hit count that is kept; take all above it and
	// enough at it to reach r.
	cut, above := l+1, 0
	for ; cut > 0 && above+count[cut] < r; cut-- {
		above += count[cut]
	}
	atCut := r - above
	out := cands[:0]
	for _, sl := range cands {
		h := min(int(s.hits[sl]), l+1)
		if h > cut || (h == cut && atCut > 0) {
			if h == cut {
				atCut--
			}
			out = append(out, sl)
		}
	}
	return out
}

// nextEpoch starts a new visited set over n slots.
func (s *scratch) nextEpoch(n int) {
	if len(s.visited) < n {
		s.visited = make([]uint32, n+n/4)
		s.hits = make([]uint16, n+n/4)
		s.epoch = 0
	}
	s.epoch++
	if s.epoch == 0 {
		clear(s.visited)
		s.epoch = 1
	}
}

// collect gathers the distinct live slots in the home buckets s.home and in
// probes extra buckets per table (chosen from s.proj), into s.cands. Slots
// <= after are skipped (after = -1 keeps all). Caller holds mu (read) and
// set s.home (and s.proj when probes > 0).
func (x *Index) collect(s *scratch, probes int, after int) {
	s.nextEpoch(len(x.ids))
	s.cands = s.cands[:0]
	visit := func(run []uint32) {
		for _, sl := range run {
			if int(sl) <= after || x.isDead(sl) {
				continue
			}
			if s.visited[sl] == s.epoch {
				s.hits[sl]++
				continue
			}
			s.visited[sl] = s.epoch
			s.hits[sl] = 1
			s.cands = append(s.cands, sl)
		}
	}
	for t := range x.l {
		a, b := x.bucket(t, s.home[t])
		visit(a)
		visit(b)
		if probes == 0 {
			continue
		}
		for _, flip := range s.probe.sequence(s.proj[t*x.k:(t+1)*x.k], probes) {
			a, b := x.bucket(t, s.home[t]^flip)
			visit(a)
			visit(b)
		}
	}
}

// Query appends to dst the ids of the distinct live vectors sharing a bucket
// with q in some table, probing probes extra buckets per table (probes < 0:
// Options.Probes). The order is unspecified.
func (x *Index) Query(dst []uint32, q []float32, probes int) ([]uint32, error) {
	if err := x.check(q); err != nil {
		return dst, fmt.Errorf("query: %w", err)
	}
	if probes < 0 {
		probes = x.probes
	}
	s := x.getScratch()
	defer x.scratch.Put(s)
	x.Project(s.proj, q)
	x.keys(s.home, s.proj)
	x.mu.RLock()
	defer x.mu.RUnlock()
	x.collect(s, probes, -1)
	for _, sl := range s.cands {
		dst = append(dst, x.ids[sl])
	}
	return dst, nil
}

// Search returns the k (> 0) vectors most similar to q among the LSH candidates,
// best first (ties by smaller id), scored by exact cosine (q is normalised).
// ef > 0 sets the number of buckets probed per table (1 = the home bucket
// only, ef-1 extra probes); ef <= 0 uses 1+Options.Probes.
func (x *Index) Search(q []float32, k, ef int) ([]vec.Hit, error) {
	if err := x.check(q); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if k <= 0 {
		return nil, fmt.Errorf("search: %w (got %d)", ErrBadK, k)
	}
	probes := x.probes
	if ef > 0 {
		probes = ef - 1
	}
	qn := slices.Clone(q)
	vec.Normalize(qn)
	s := x.getScratch()
	defer x.scratch.Put(s)
	x.Project(s.proj, qn)
	x.keys(s.home, s.proj)
	x.mu.RLock()
	defer x.mu.RUnlock()
	x.collect(s, probes, -1)
	if r := max(x.rerank, k); x.rerank > 0 && len(s.cands) > r {
		s.cands = s.mostHit(s.cands, r, x.l)
	}
	top := make(hitHeap, 0, k)
	for _, sl := range s.cands {
		v, err := x.vector(sl)
		if err != nil {
			return nil, err
		}
		h := vec.Hit{ID: x.ids[sl], Score: vec.Dot(qn, v)}
		if len(top) < k {
			top.push(h)
		} else if worse(top[0], h) {
			top[0] = h
			top.down(0)
		}
	}
	slices.SortFunc(top, func(a, b vec.Hit) int {
		if worse(a, b) {
			return 1
		}
		if worse(b, a) {
			return -1
		}
		return 0
	})
	return top, nil
}

// worse reports whether a ranks below b (lower score, or equal score and larger id).
func worse(a, b vec.Hit) bool {
	return a.Score < b.Score || (a.Score == b.Score && a.ID > b.ID)
}

// hitHeap is a min-heap by rank: the root is the worst kept hit.
type hitHeap []vec.Hit

func (h *hitHeap) push(x vec.Hit) {
	*h = append(*h, x)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !worse(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h hitHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && worse(h[r], h[l]) {
			m = r
		}
		if !worse(h[m], h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// radixScratch sorts slots stably by a key of k bits with an LSD radix sort
// over 8-bit digits (ceil(k/8) passes of O(n)).
type radixScratch struct {
	keys, keys2 []uint64
	tmp         []uint32
}

func (r *radixScratch) sort(slots []uint32, key func(uint32) uint64, k int) {
	n := len(slots)
	if n < 2 {
		return
	}
	if cap(r.keys) < n {
		r.keys = make([]uint64, n)
		r.keys2 = make([]uint64, n)
		r.tmp = make([]uint32, n)
	}
	keys, keys2, tmp := r.keys[:n], r.keys2[:n], r.tmp[:n]
	for i, s := range slots {
		keys[i] = key(s)
	}
	src, dst := slots, tmp
	for shift := 0; shift < k; shift += 8 {
		var count [257]int
		for _, kv := range keys {
			count[(kv>>uint(shift))&0xff+1]++
		}
		for i := 1; i < 257; i++ {
			count[i] += count[i-1]
		}
		for i, kv := range keys {
			d := (kv >> uint(shift)) & 0xff
			j := count[d]
			count[d]++
			dst[j] = src[i]
			keys2[j] = kv
		}
		src, dst = dst, src
		keys, keys2 = keys2, keys
	}
	if &src[0] != &slots[0] {
		copy(slots, src)
	}
}
