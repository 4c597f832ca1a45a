package index

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"

	"github.com/twinsearch/twin/internal/frame"
	"github.com/twinsearch/twin/internal/vec"
)

// HNSW snapshot format, framed with magic "TWINHNSW" (see internal/frame).
const (
	hnswMagic = "TWINHNSW"
	// hnswV1: options, level generator state, per-slot level and deleted
	// flag, vectors and links of the occupied slots.
	hnswV1 uint32 = 1

	hnswVersionMin = hnswV1
	hnswVersionMax = hnswV1
)

// MarshalBinary returns the framed snapshot of the graph: options, the
// level generator's state, vectors and links, so a loaded graph continues
// exactly as the saved one would.
func (h *HNSW) MarshalBinary() ([]byte, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	occupied := 0
	for _, l := range h.levels {
		if l >= 0 {
			occupied++
		}
	}
	le := binary.LittleEndian
	b := make([]byte, 0, 64+2*len(h.levels)+occupied*(4*h.dim+4*(h.m0+1)+8))
	b = le.AppendUint32(b, uint32(h.dim))
	b = le.AppendUint32(b, uint32(h.opt.M))
	b = le.AppendUint32(b, uint32(h.opt.EfConstruction))
	b = le.AppendUint32(b, uint32(h.opt.EfSearch))
	b = le.AppendUint64(b, h.opt.Seed)
	b = le.AppendUint64(b, math.Float64bits(h.opt.CompactRatio))
	st, err := h.pcg.MarshalBinary()
	if err != nil {
		return nil, err
	}
	b = le.AppendUint32(b, uint32(len(st)))
	b = append(b, st...)
	b = le.AppendUint32(b, uint32(len(h.levels)))
	b = le.AppendUint32(b, h.entry)
	b = le.AppendUint32(b, uint32(int32(h.top)))
	for _, l := range h.levels {
		b = append(b, byte(l))
	}
	for _, d := range h.deleted {
		if d {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	for i, l := range h.levels {
		if l < 0 {
			continue
		}
		for _, x := range h.vector(uint32(i)) {
			b = le.AppendUint32(b, math.Float32bits(x))
		}
		for lv := 0; lv <= int(l); lv++ {
			ln := h.links(uint32(i), lv)
			for _, x := range ln[:1+ln[0]] {
				b = le.AppendUint32(b, x)
			}
		}
	}
	return frame.Append(nil, hnswMagic, hnswV1, b), nil
}

// Save writes the snapshot to path atomically (temp file, fsync, rename).
func (h *HNSW) Save(path string) error {
	b, err := h.MarshalBinary()
	if err != nil {
		return err
	}
	return frame.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// LoadHNSW reads a snapshot written by Save.
func LoadHNSW(path string) (*HNSW, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, err := DecodeHNSW(data)
	if err != nil {
		return nil, fmt.Errorf("load graph %s: %w", path, err)
	}
	return h, nil
}

// snapReader reads little-endian values, latching the first shortage.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) need(n int) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || len(r.b) < n {
		r.err = fmt.Errorf("%w: snapshot truncated", frame.ErrCorrupt)
		return false
	}
	return true
}

func (r *snapReader) u32() uint32 {
	if !r.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

func (r *snapReader) u64() uint64 {
	if !r.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

func (r *snapReader) bytes(n int) []byte {
	if !r.need(n) {
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func corruptf(format string, a ...any) error {
	return fmt.Errorf("%w: hnsw snapshot: %s", frame.ErrCorrupt, fmt.Sprintf(format, a...))
}

// DecodeHNSW decodes a framed snapshot. Input is checked before anything is
// allocated from it; any inconsistency is an error wrapping
// frame.ErrCorrupt, an unknown version one wrapping frame.ErrVersion.
func DecodeHNSW(data []byte) (*HNSW, error) {
	_, p, err := frame.Decode(data, hnswMagic, hnswVersionMin, hnswVersionMax)
	if err != nil {
		return nil, err
	}
	r := &snapReader{b: p}
	dim := int(r.u32())
	opt := HNSWOptions{M: int(r.u32()), EfConstruction: int(r.u32()), EfSearch: int(r.u32()), Seed: r.u64()}
	opt.CompactRatio = math.Float64frombits(r.u64())
	st := r.bytes(int(r.u32()))
	n := int(r.u32())
	entry := r.u32()
	top := int(int32(r.u32()))
	if r.err != nil {
		return nil, r.err
	}
	if dim <= 0 || dim > 1<<16 {
		return nil, corruptf("dimension %d", dim)
	}
	if opt.M < 2 || opt.EfConstruction <= 0 || opt.EfSearch <= 0 || opt.Validate() != nil || math.IsNaN(opt.CompactRatio) {
		return nil, corruptf("options %+v", opt)
	}
	if top < 0 && entry != 0 {
		return nil, corruptf("entry %d in a graph without nodes", entry)
	}
	if !r.need(2 * n) {
		return nil, r.err
	}
	h := NewHNSW(dim, opt)
	if err := h.pcg.UnmarshalBinary(st); err != nil {
		return nil, corruptf("level generator state: %v", err)
	}
	h.rng = rand.New(h.pcg)
	levels := r.bytes(n)
	dels := r.bytes(n)
	if n == 0 {
		if top != -1 || len(r.b) != 0 {
			return nil, corruptf("empty graph with entry level %d", top)
		}
		return h, nil
	}
	occupied, maxL := 0, -1
	for i, l := range levels {
		lv := int(int8(l))
		if lv < -1 || lv > maxLevel {
			return nil, corruptf("slot %d level %d", i, lv)
		}
		if dels[i] > 1 || (lv < 0 && dels[i] != 0) {
			return nil, corruptf("slot %d deleted flag %d", i, dels[i])
		}
		if lv >= 0 {
			occupied++
			maxL = max(maxL, lv)
		}
	}
	// Every occupied slot needs at least its vector and one count.
	if uint64(occupied)*uint64(4*dim+4) > uint64(len(r.b)) {
		return nil, corruptf("%d nodes of dimension %d do not fit in %d bytes", occupied, dim, len(r.b))
	}
	if top != maxL || (top >= 0 && (int(entry) >= n || int(int8(levels[entry])) != top)) {
		return nil, corruptf("entry %d at level %d, highest level %d", entry, top, maxL)
	}
	// Empty slots cost memory but no file bytes; bound what a hostile
	// file can make us allocate.
	if need := uint64(n) * uint64(4*dim+4*(h.m0+1)); need > 64*uint64(len(data))+4<<20 {
		return nil, corruptf("%d slots would need %d bytes from a %d-byte file", n, need, len(data))
	}
	// Exactly n slots (growLocked would round up to 1024).
	h.levels = make([]int8, n)
	for i := range h.levels {
		h.levels[i] = -1
	}
	h.deleted = make([]bool, n)
	h.vecs = make([]float32, n*dim)
	h.links0 = make([]uint32, n*(h.m0+1))
	h.upper = make([][]uint32, n)
	for i := range n {
		lv := int(int8(levels[i]))
		if lv < 0 {
			continue
		}
		h.initNodeLocked(uint32(i), lv)
		h.deleted[i] = dels[i] == 1
		if h.deleted[i] {
			h.tombstones++
		} else {
			h.live++
		}
		vb := r.bytes(4 * dim)
		if vb == nil {
			return nil, r.err
		}
		v := h.vector(uint32(i))
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(vb[4*j:]))
		}
		if !vec.Finite(v) {
			return nil, corruptf("slot %d vector not finite", i)
		}
		for l := 0; l <= lv; l++ {
			ln := h.links(uint32(i), l)
			cnt := r.u32()
			if r.err != nil {
				return nil, r.err
			}
			if int(cnt) > len(ln)-1 {
				return nil, corruptf("slot %d layer %d: %d links", i, l, cnt)
			}
			ln[0] = cnt
			for k := 1; k <= int(cnt); k++ {
				x := r.u32()
				if r.err != nil {
					return nil, r.err
				}
				if int(x) >= n || int(int8(levels[x])) < l || x == uint32(i) {
					return nil, corruptf("slot %d layer %d links to %d", i, l, x)
				}
				ln[k] = x
			}
		}
	}
	if len(r.b) != 0 {
		return nil, corruptf("%d trailing bytes", len(r.b))
	}
	h.entry, h.top = entry, top
	return h, nil
}
