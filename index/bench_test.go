package index

import (
	"fmt"
	"testing"

	"github.com/twinsearch/twin/internal/vec"
)

// Microbenchmarks on synthetic clustered unit vectors. Recall, QPS and
// build time on gmm100k live in bench/ann (go run ./bench/ann).

func benchData(n, dim int) (*HNSW, *Flat, [][]float32) {
	data := mixture(uint64(n*dim), n, dim, 50)
	h := NewHNSW(dim, HNSWOptions{M: 16, EfConstruction: 100, Seed: 1})
	f := NewFlat(dim)
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
		f.Add(uint32(i), data[i])
	}
	h.AddBatch(ids, data, 0)
	return h, f, mixture(uint64(n*dim)+1, 256, dim, 50)
}

func BenchmarkSearch(b *testing.B) {
	for _, n := range []int{10000} {
		for _, dim := range []int{128} {
			h, f, qs := benchData(n, dim)
			for _, ef := range []int{16, 64, 256} {
				b.Run(fmt.Sprintf("hnsw/n=%d/dim=%d/ef=%d", n, dim, ef), func(b *testing.B) {
					b.ReportAllocs()
					dst := make([]vec.Hit, 0, 10)
					i := 0
					for b.Loop() {
						dst, _ = h.SearchAppend(dst[:0], qs[i%len(qs)], 10, ef)
						i++
					}
				})
			}
			b.Run(fmt.Sprintf("flat/n=%d/dim=%d", n, dim), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(4 * n * dim))
				i := 0
				for b.Loop() {
					f.Search(qs[i%len(qs)], 10, 0)
					i++
				}
			})
		}
	}
}

func BenchmarkAdd(b *testing.B) {
	const dim = 128
	data := mixture(9, 5000, dim, 50)
	b.Run(fmt.Sprintf("hnsw/dim=%d/M=16/efC=100", dim), func(b *testing.B) {
		b.ReportAllocs()
		h := NewHNSW(dim, HNSWOptions{M: 16, EfConstruction: 100})
		i := 0
		for b.Loop() {
			h.Add(uint32(i), data[i%len(data)])
			i++
		}
	})
}

func BenchmarkSnapshot(b *testing.B) {
	h, _, _ := benchData(5000, 64)
	buf, _ := h.MarshalBinary()
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			h.MarshalBinary()
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(int64(len(buf)))
		for b.Loop() {
			if _, err := DecodeHNSW(buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
