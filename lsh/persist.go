package lsh

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/twinsearch/twin/internal/frame"
	"github.com/twinsearch/twin/internal/vec"
)

// Magic is the 8-byte magic of a saved index.
const Magic = "TWINLSH1"

// Version is the on-disk format version of a saved index.
type Version uint32

const (
	// Version1: header (dim, K, L, probes, rerank, seed, flags, n), unit hyperplane
	// normals, ids, keys, L sorted slot tables, optional vector copies.
	Version1 Version = 1

	minVersion = Version1
	maxVersion = Version1
)

const flagVectors = 1

// headerSize is the fixed part of a version 1 payload.
const headerSize = 40

// AppendBinary appends the framed form of the index (magic, version, CRC)
// to dst. Pending entries are merged and tombstones compacted first (under
// the write lock). Options.Source is not saved: pass it to Decode again.
func (x *Index) AppendBinary(dst []byte) ([]byte, error) {
	x.mu.Lock()
	x.compactLocked()
	x.mu.Unlock()
	x.mu.RLock()
	defer x.mu.RUnlock()
	n := len(x.ids)
	size := headerSize + 4*len(x.planes) + 4*n + 8*len(x.sigs) + 4*n*x.l + 4*len(x.vecs)
	p := make([]byte, 0, size)
	le := binary.LittleEndian
	p = le.AppendUint32(p, uint32(x.dim))
	p = le.AppendUint32(p, uint32(x.k))
	p = le.AppendUint32(p, uint32(x.l))
	p = le.AppendUint32(p, uint32(x.probes))
	p = le.AppendUint32(p, uint32(x.rerank))
	p = le.AppendUint64(p, x.seed)
	var flags uint32
	if x.vecs != nil {
		flags |= flagVectors
	}
	p = le.AppendUint32(p, flags)
	p = le.AppendUint64(p, uint64(n))
	for _, f := range x.planes {
		p = le.AppendUint32(p, math.Float32bits(f))
	}
	for _, id := range x.ids {
		p = le.AppendUint32(p, id)
	}
	for _, s := range x.sigs {
		p = le.AppendUint64(p, s)
	}
	for _, tab := range x.frozen {
		for _, s := range tab {
			p = le.AppendUint32(p, s)
		}
	}
	for _, f := range x.vecs {
		p = le.AppendUint32(p, math.Float32bits(f))
	}
	return frame.Append(dst, Magic, uint32(Version1), p), nil
}

// Save writes the index to path atomically.
func (x *Index) Save(path string) error {
	data, err := x.AppendBinary(nil)
	if err != nil {
		return err
	}
	return frame.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Load reads an index saved with Save. source must be set if the index was
// built with Options.Source (it holds no vectors) and is ignored otherwise.
func Load(path string, source func(uint32) []float32) (*Index, error) {
	_, payload, err := frame.ReadFile(path, Magic, uint32(minVersion), uint32(maxVersion))
	if err != nil {
		return nil, fmt.Errorf("lsh: %w", err)
	}
	x, err := decodePayload(payload, source)
	if err != nil {
		return nil, fmt.Errorf("lsh: read %s: %w", path, err)
	}
	return x, nil
}

// Decode parses the framed bytes written by AppendBinary (see Load for
// source). Damage gives an error wrapping frame.ErrCorrupt, never a panic.
func Decode(data []byte, source func(uint32) []float32) (*Index, error) {
	_, payload, err := frame.Decode(data, Magic, uint32(minVersion), uint32(maxVersion))
	if err != nil {
		return nil, fmt.Errorf("lsh: %w", err)
	}
	return decodePayload(payload, source)
}

func corrupt(format string, a ...any) error {
	return fmt.Errorf("%w: lsh: %s", frame.ErrCorrupt, fmt.Sprintf(format, a...))
}

func decodePayload(p []byte, source func(uint32) []float32) (*Index, error) {
	le := binary.LittleEndian
	if len(p) < headerSize {
		return nil, corrupt("header of %d bytes, want %d", len(p), headerSize)
	}
	opts := Options{
		Dim:    int(int32(le.Uint32(p[0:]))),
		K:      int(int32(le.Uint32(p[4:]))),
		L:      int(int32(le.Uint32(p[8:]))),
		Probes: int(int32(le.Uint32(p[12:]))),
		Rerank: int(int32(le.Uint32(p[16:]))),
		Seed:   le.Uint64(p[20:]),
	}
	flags := le.Uint32(p[28:])
	n64 := le.Uint64(p[32:])
	if err := opts.Validate(); err != nil {
		return nil, corrupt("%v", err)
	}
	if flags&^flagVectors != 0 {
		return nil, corrupt("unknown flags %#x", flags)
	}
	hasVecs := flags&flagVectors != 0
	if !hasVecs {
		if source == nil {
			return nil, fmt.Errorf("lsh: index holds no vectors: pass the vector source")
		}
		opts.Source = source
	}
	// Sizes in bytes, checked against what is present before allocating.
	rest := uint64(len(p) - headerSize)
	dim, k, l := uint64(opts.Dim), uint64(opts.K), uint64(opts.L)
	if dim > 1<<24 {
		return nil, corrupt("dim %d too large", dim)
	}
	planeBytes := 4 * k * l * dim
	if planeBytes > rest {
		return nil, corrupt("planes need %d bytes, %d left", planeBytes, rest)
	}
	perVec := 4 + 8*l + 4*l
	if hasVecs {
		perVec += 4 * dim
	}
	if n64 > math.MaxUint32 || n64 > (rest-planeBytes)/perVec || n64*perVec != rest-planeBytes {
		return nil, corrupt("%d vectors do not fit %d bytes", n64, rest-planeBytes)
	}
	n := int(n64)
	x := newIndex(opts)
	off := headerSize
	f32 := func(dst []float32) {
		for i := range dst {
			dst[i] = math.Float32frombits(le.Uint32(p[off:]))
			off += 4
		}
	}
	x.planes = make([]float32, int(k*l*dim))
	f32(x.planes)
	if !vec.Finite(x.planes) {
		return nil, corrupt("hyperplane is not finite")
	}
	x.ids = make([]uint32, n)
	x.slotOf = make(map[uint32]uint32, n)
	for i := range x.ids {
		id := le.Uint32(p[off:])
		off += 4
		if _, dup := x.slotOf[id]; dup {
			return nil, corrupt("id %d appears twice", id)
		}
		x.ids[i] = id
		x.slotOf[id] = uint32(i)
	}
	var keyMask uint64 = math.MaxUint64
	if opts.K < 64 {
		keyMask = 1<<uint(opts.K) - 1
	}
	x.sigs = make([]uint64, n*opts.L)
	for i := range x.sigs {
		s := le.Uint64(p[off:])
		off += 8
		if s&^keyMask != 0 {
			return nil, corrupt("key %#x has more than %d bits", s, opts.K)
		}
		x.sigs[i] = s
	}
	for t := range x.frozen {
		tab := make([]uint32, n)
		for i := range tab {
			s := le.Uint32(p[off:])
			off += 4
			if int(s) >= n {
				return nil, corrupt("table %d: slot %d of %d", t, s, n)
			}
			// Strictly increasing (key, slot) makes the table a permutation.
			if i > 0 {
				pk, ck := x.sigs[int(tab[i-1])*opts.L+t], x.sigs[int(s)*opts.L+t]
				if pk > ck || (pk == ck && tab[i-1] >= s) {
					return nil, corrupt("table %d is not sorted at entry %d", t, i)
				}
			}
			tab[i] = s
		}
		x.frozen[t] = tab
	}
	if hasVecs {
		x.vecs = make([]float32, n*opts.Dim)
		f32(x.vecs)
		if !vec.Finite(x.vecs) {
			return nil, corrupt("stored vector is not finite")
		}
	}
	x.dead = make([]uint64, (n+63)/64)
	x.nFrozen = n
	x.buildDirLocked()
	return x, nil
}
