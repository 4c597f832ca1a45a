package index

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/twinsearch/twin/internal/frame"
	"github.com/twinsearch/twin/internal/vec"
)

// Flat snapshot format, framed with magic "TWINFLAT".
const (
	flatMagic = "TWINFLAT"
	// flatV1: u32 dim, u32 slots, then per slot a live byte, then the
	// vectors of the live slots.
	flatV1 uint32 = 1
)

// MarshalBinary returns the framed snapshot of the index.
func (f *Flat) MarshalBinary() ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	le := binary.LittleEndian
	b := make([]byte, 0, 8+len(f.live)+4*f.n*f.dim)
	b = le.AppendUint32(b, uint32(f.dim))
	b = le.AppendUint32(b, uint32(len(f.live)))
	for _, ok := range f.live {
		if ok {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	for i, ok := range f.live {
		if ok {
			for _, x := range f.vecs[i*f.dim : (i+1)*f.dim] {
				b = le.AppendUint32(b, math.Float32bits(x))
			}
		}
	}
	return frame.Append(nil, flatMagic, flatV1, b), nil
}

// Save writes the snapshot to path atomically.
func (f *Flat) Save(path string) error {
	b, err := f.MarshalBinary()
	if err != nil {
		return err
	}
	return frame.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// LoadFlat reads a snapshot written by Flat.Save.
func LoadFlat(path string) (*Flat, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := DecodeFlat(data)
	if err != nil {
		return nil, fmt.Errorf("load flat index %s: %w", path, err)
	}
	return f, nil
}

// DecodeFlat decodes a framed Flat snapshot; inconsistencies wrap
// frame.ErrCorrupt.
func DecodeFlat(data []byte) (*Flat, error) {
	_, p, err := frame.Decode(data, flatMagic, flatV1, flatV1)
	if err != nil {
		return nil, err
	}
	r := &snapReader{b: p}
	dim, n := int(r.u32()), int(r.u32())
	if r.err != nil {
		return nil, r.err
	}
	if dim <= 0 || dim > 1<<16 {
		return nil, fmt.Errorf("%w: flat snapshot: dimension %d", frame.ErrCorrupt, dim)
	}
	live := r.bytes(n)
	if live == nil && n > 0 {
		return nil, r.err
	}
	count := 0
	for i, b := range live {
		if b > 1 {
			return nil, fmt.Errorf("%w: flat snapshot: slot %d flag %d", frame.ErrCorrupt, i, b)
		}
		count += int(b)
	}
	if uint64(len(r.b)) != uint64(count)*uint64(4*dim) {
		return nil, fmt.Errorf("%w: flat snapshot: %d live vectors of dimension %d need %d bytes, %d left",
			frame.ErrCorrupt, count, dim, uint64(count)*uint64(4*dim), len(r.b))
	}
	// Dead slots cost memory but no file bytes; bound what a hostile file
	// can make us allocate (a real index that sparse should be rebuilt).
	if need := uint64(n) * uint64(4*dim); need > 64*uint64(len(data))+4<<20 {
		return nil, fmt.Errorf("%w: flat snapshot: %d slots of dimension %d would need %d bytes from a %d-byte file",
			frame.ErrCorrupt, n, dim, need, len(data))
	}
	f := NewFlat(dim)
	f.live = make([]bool, n)
	f.vecs = make([]float32, n*dim)
	for i, b := range live {
		if b == 0 {
			continue
		}
		f.live[i] = true
		f.n++
		v := f.vecs[i*dim : (i+1)*dim]
		for j := range v {
			v[j] = math.Float32frombits(binary.LittleEndian.Uint32(r.b[4*j:]))
		}
		r.b = r.b[4*dim:]
		if !vec.Finite(v) {
			return nil, fmt.Errorf("%w: flat snapshot: slot %d not finite", frame.ErrCorrupt, i)
		}
	}
	return f, nil
}
