package lsh

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/twinsearch/twin/internal/vec"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"
)

// BenchmarkProject compares the projection kernels for K*L = 256 rows:
// SIMD dot per row (what Index.Project uses), gonum's blas32 Gemv, gonum's
// float64 mat.Dense MulVec, and a batched blas32 Gemm over 64 vectors
// (per-vector time reported).
func BenchmarkProject(b *testing.B) {
	for _, dim := range []int{64, 128, 256} {
		const rows = 256
		planes := makePlanes(dim, rows, 1)
		rng := rand.New(rand.NewPCG(1, 1))
		v := randUnit(rng, dim)
		dst := make([]float32, rows)
		b.Run(fmt.Sprintf("vecdot/dim=%d", dim), func(b *testing.B) {
			for b.Loop() {
				for r := range rows {
					dst[r] = vec.Dot(planes[r*dim:(r+1)*dim], v)
				}
			}
		})
		b.Run(fmt.Sprintf("blas32-gemv/dim=%d", dim), func(b *testing.B) {
			a := blas32.General{Rows: rows, Cols: dim, Stride: dim, Data: planes}
			x := blas32.Vector{N: dim, Inc: 1, Data: v}
			y := blas32.Vector{N: rows, Inc: 1, Data: dst}
			for b.Loop() {
				blas32.Gemv(blas.NoTrans, 1, a, x, 0, y)
			}
		})
		b.Run(fmt.Sprintf("mat64-mulvec/dim=%d", dim), func(b *testing.B) {
			p64 := make([]float64, len(planes))
			for i, f := range planes {
				p64[i] = float64(f)
			}
			a := mat.NewDense(rows, dim, p64)
			v64 := make([]float64, dim)
			y := mat.NewVecDense(rows, nil)
			for b.Loop() {
				for i, f := range v { // the conversion is part of the cost
					v64[i] = float64(f)
				}
				y.MulVec(a, mat.NewVecDense(dim, v64))
			}
		})
		b.Run(fmt.Sprintf("blas32-gemm64/dim=%d", dim), func(b *testing.B) {
			const batch = 64
			xs := make([]float32, batch*dim)
			for i := range batch {
				copy(xs[i*dim:], randUnit(rng, dim))
			}
			a := blas32.General{Rows: rows, Cols: dim, Stride: dim, Data: planes}
			x := blas32.General{Rows: batch, Cols: dim, Stride: dim, Data: xs}
			c := blas32.General{Rows: batch, Cols: rows, Stride: rows, Data: make([]float32, batch*rows)}
			for b.Loop() {
				blas32.Gemm(blas.NoTrans, blas.Trans, 1, x, a, 0, c)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/vector")
		})
	}
}

// BenchmarkSignatures measures signatures per second (all L keys of one
// vector) through AddBatch's parallel signer.
func BenchmarkSignatures(b *testing.B) {
	for _, c := range []struct{ dim, k, l int }{{128, 16, 16}, {256, 16, 16}, {256, 24, 32}} {
		b.Run(fmt.Sprintf("dim=%d/K=%d/L=%d", c.dim, c.k, c.l), func(b *testing.B) {
			x, _ := New(Options{Dim: c.dim, K: c.k, L: c.l})
			rng := rand.New(rand.NewPCG(1, 1))
			vs := make([][]float32, 4096)
			for i := range vs {
				vs[i] = randUnit(rng, c.dim)
			}
			sigs := make([]uint64, len(vs)*c.l)
			b.ResetTimer()
			for b.Loop() {
				if err := x.signAll(context.Background(), vs, sigs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(vs))/b.Elapsed().Seconds(), "sigs/s")
		})
	}
}

// BenchmarkTableMemory compares the heap held by the index's sorted flat
// tables with a map[uint64][]uint32 per table for the same keys, in bytes
// per (vector, table) entry (signatures and vector copies excluded).
func BenchmarkTableMemory(b *testing.B) {
	for _, k := range []int{12, 24} {
		const n, l = 200000, 8
		rng := rand.New(rand.NewPCG(1, 2))
		sigs := make([]uint64, n*l)
		mask := uint64(1)<<k - 1
		for i := range sigs {
			sigs[i] = rng.Uint64() & mask
		}
		b.Run(fmt.Sprintf("flat/K=%d", k), func(b *testing.B) {
			for b.Loop() {
				before := heapAlloc()
				tabs := make([][]uint32, l)
				var rs radixScratch
				for t := range tabs {
					tab := make([]uint32, n)
					for i := range tab {
						tab[i] = uint32(i)
					}
					rs.sort(tab, func(s uint32) uint64 { return sigs[int(s)*l+t] }, k)
					tabs[t] = tab
				}
				rs = radixScratch{}
				b.ReportMetric(float64(heapAlloc()-before)/float64(n*l), "B/entry")
				runtime.KeepAlive(tabs)
			}
		})
		b.Run(fmt.Sprintf("map/K=%d", k), func(b *testing.B) {
			for b.Loop() {
				before := heapAlloc()
				tabs := make([]map[uint64][]uint32, l)
				for t := range tabs {
					m := make(map[uint64][]uint32)
					for i := range n {
						key := sigs[i*l+t]
						m[key] = append(m[key], uint32(i))
					}
					tabs[t] = m
				}
				b.ReportMetric(float64(heapAlloc()-before)/float64(n*l), "B/entry")
				runtime.KeepAlive(tabs)
			}
		})
	}
}

func heapAlloc() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// BenchmarkSearch measures LSH search over clustered vectors.
func BenchmarkSearch(b *testing.B) {
	const n, dim = 50000, 128
	vs := planted(1, n, dim, 5000, 6, 0.8)
	x, _ := New(Options{Dim: dim, K: 14, L: 16, Probes: 8})
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
	}
	x.AddBatch(context.Background(), ids, vs)
	b.ResetTimer()
	i := 0
	for b.Loop() {
		x.Search(vs[i%n], 10, 0)
		i++
	}
}

// BenchmarkDedup measures Dedup over clustered vectors with planted groups.
func BenchmarkDedup(b *testing.B) {
	const n, dim = 50000, 128
	vs := planted(1, n, dim, 2000, 6, 0.9)
	x, _ := New(Options{Dim: dim, K: 14, L: 38, Source: func(id uint32) []float32 { return vs[id] }})
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
	}
	x.AddBatch(context.Background(), ids, vs)
	b.ResetTimer()
	for b.Loop() {
		st, err := x.Dedup(context.Background(), DedupOptions{Threshold: 0.9}, func(Group) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(st.Comparisons), "comparisons")
	}
}
