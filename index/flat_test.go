package index

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/twinsearch/twin/internal/frame"
)

func TestFlatSnapshot(t *testing.T) {
	data := mixture(81, 50, 6, 3)
	f := NewFlat(6)
	for i, v := range data {
		f.Add(uint32(i), v)
	}
	f.Delete(7)
	path := filepath.Join(t.TempDir(), "f.flat")
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	g, err := LoadFlat(path)
	if err != nil {
		t.Fatal(err)
	}
	if g.Len() != 49 {
		t.Fatalf("Len %d", g.Len())
	}
	a, _ := f.Search(data[3], 10, 0)
	b, _ := g.Search(data[3], 10, 0)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("search differs: %v vs %v", a, b)
	}
	buf, _ := f.MarshalBinary()
	for _, off := range []int{3, 12, 30, len(buf) / 2, len(buf) - 2} {
		c := append([]byte(nil), buf...)
		c[off] ^= 0x10
		if _, err := DecodeFlat(c); !errors.Is(err, frame.ErrCorrupt) {
			t.Errorf("flip at %d: %v", off, err)
		}
	}
	for _, n := range []int{0, 20, len(buf) - 1} {
		if _, err := DecodeFlat(buf[:n]); err == nil {
			t.Errorf("truncated to %d: no error", n)
		}
	}
}

func FuzzDecodeFlat(f *testing.F) {
	fl := NewFlat(3)
	fl.Add(0, []float32{1, 0, 0})
	fl.Add(2, []float32{0, 1, 0})
	b, _ := fl.MarshalBinary()
	_, p, _ := frame.Decode(b, flatMagic, flatV1, flatV1)
	f.Add(append([]byte(nil), p...))
	f.Fuzz(func(t *testing.T, payload []byte) {
		g, err := DecodeFlat(frame.Append(nil, flatMagic, flatV1, payload))
		if err != nil {
			if !errors.Is(err, frame.ErrCorrupt) {
				t.Fatalf("error without ErrCorrupt: %v", err)
			}
			return
		}
		q := make([]float32, g.Dim())
		q[0] = 1
		if _, err := g.Search(q, 2, 0); err != nil {
			t.Fatal(err)
		}
		out, _ := g.MarshalBinary()
		_, p2, _ := frame.Decode(out, flatMagic, flatV1, flatV1)
		if string(p2) != string(payload) {
			t.Fatal("re-encoding differs")
		}
	})
}
