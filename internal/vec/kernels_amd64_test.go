package vec

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkBag compares the AVX2 bag (with row prefetch) with the portable
// four-rows-per-pass Go loop in one process, on an encoder-sized table
// (2^18 x 256 float32 = 256 MiB) and SciFact-sized documents (1,826
// distinct features).
func BenchmarkBag(b *testing.B) {
	const rows, feats = 1 << 18, 1826
	for _, d := range []int{256, 512} {
		emb := make([]float32, rows*d)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range emb {
			emb[i] = r.Float32()
		}
		idx := make([]uint32, feats)
		val := make([]float32, feats)
		for i := range idx {
			idx[i] = uint32(r.IntN(rows))
			val[i] = r.Float32()
		}
		dst := make([]float32, d)
		for _, kernel := range []string{"avx2", "go"} {
			b.Run(fmt.Sprintf("d=%d/%s", d, kernel), func(b *testing.B) {
				saved := useAVX2
				useAVX2 = saved && kernel == "avx2"
				defer func() { useAVX2 = saved }()
				b.SetBytes(int64(feats * d * 4))
				for b.Loop() {
					Bag(dst, emb, idx, val)
				}
			})
		}
	}
}
