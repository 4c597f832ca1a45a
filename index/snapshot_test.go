package index

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/twinsearch/twin/internal/frame"
)

func smallGraph(t testing.TB, n int, del int) *HNSW {
	data := mixture(41, n, 8, 3)
	h := NewHNSW(8, HNSWOptions{M: 4, EfConstruction: 20, Seed: 3, CompactRatio: -1})
	for i, v := range data {
		if err := h.Add(uint32(i), v); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < del; i++ {
		h.Delete(uint32(i * 3))
	}
	return h
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name   string
		n, del int
	}{{"empty", 0, 0}, {"one", 1, 0}, {"graph", 300, 0}, {"tombstones", 300, 20}} {
		t.Run(tc.name, func(t *testing.T) {
			h := smallGraph(t, tc.n, tc.del)
			path := filepath.Join(t.TempDir(), "g.hnsw")
			if err := h.Save(path); err != nil {
				t.Fatal(err)
			}
			g, err := LoadHNSW(path)
			if err != nil {
				t.Fatal(err)
			}
			if g.Len() != h.Len() || g.Tombstones() != h.Tombstones() {
				t.Fatalf("Len %d/%d, tombstones %d/%d", g.Len(), h.Len(), g.Tombstones(), h.Tombstones())
			}
			q := mixture(42, 5, 8, 3)
			for _, v := range q {
				a, _ := h.Search(v, 5, 20)
				b, _ := g.Search(v, 5, 20)
				if !reflect.DeepEqual(a, b) {
					t.Fatalf("search differs after load: %v vs %v", a, b)
				}
			}
			// The loaded graph continues exactly like the original.
			extra := mixture(43, 10, 8, 3)
			for i, v := range extra {
				h.Add(uint32(tc.n+i), v)
				g.Add(uint32(tc.n+i), v)
			}
			ha, _ := h.MarshalBinary()
			ga, _ := g.MarshalBinary()
			if string(ha) != string(ga) {
				t.Fatal("graphs diverge after adding to the loaded copy")
			}
		})
	}
}

func TestSnapshotCorrupt(t *testing.T) {
	h := smallGraph(t, 200, 5)
	b, _ := h.MarshalBinary()
	for _, off := range []int{0, 9, 14, 30, len(b) / 2, len(b) - 1} {
		c := append([]byte(nil), b...)
		c[off] ^= 0x40
		if _, err := DecodeHNSW(c); !errors.Is(err, frame.ErrCorrupt) && !errors.Is(err, frame.ErrVersion) {
			t.Errorf("flip at %d: err = %v, want ErrCorrupt", off, err)
		}
	}
	for _, n := range []int{0, 10, 24, len(b) / 2, len(b) - 1} {
		if _, err := DecodeHNSW(b[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
	if _, err := LoadHNSW(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

// FuzzDecodeHNSW feeds payloads with a valid frame around them, so the
// fuzzer reaches the snapshot decoder rather than the checksum.
func FuzzDecodeHNSW(f *testing.F) {
	for _, n := range []int{0, 1, 30} {
		h := smallGraph(f, n, n/10)
		b, _ := h.MarshalBinary()
		_, p, _ := frame.Decode(b, hnswMagic, hnswV1, hnswV1)
		f.Add(append([]byte(nil), p...))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		h, err := DecodeHNSW(frame.Append(nil, hnswMagic, hnswV1, payload))
		if err != nil {
			if !errors.Is(err, frame.ErrCorrupt) {
				t.Fatalf("error does not wrap ErrCorrupt: %v", err)
			}
			return
		}
		// A graph that decodes must be usable and re-encode identically.
		q := make([]float32, h.Dim())
		q[0] = 1
		if _, err := h.Search(q, 3, 10); err != nil {
			t.Fatal(err)
		}
		b, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		_, p, _ := frame.Decode(b, hnswMagic, hnswV1, hnswV1)
		if string(p) != string(payload) {
			t.Fatalf("re-encoding differs")
		}
		if h.Dim() <= 64 {
			h.Add(uint32(h.Len()+h.Tombstones()), q)
		}
	})
}
