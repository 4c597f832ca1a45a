package trainer

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/internal/testutil"
)

// BenchmarkStep measures training throughput (pairs/s) of one InfoNCE step
// at the DESIGN's shape: 2^18 buckets, bag 256, hidden 256, dim 256, batch
// 256 self-supervised SciFact crop pairs, at 1 and 2 workers.
func BenchmarkStep(b *testing.B) {
	dir := testutil.NeedData(b, "scifact")
	c, err := OpenCorpus(filepath.Join(dir, "corpus.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	m, err := encoder.New(encoder.Config{}, 1)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := newNet(m)
	smp, err := newSampler([]Source{&SelfSupervised{C: c}}, nil, 1)
	if err != nil {
		b.Fatal(err)
	}
	var batches []*batchTexts
	for i := range 8 {
		bt, err := smp.next(int64(i), 256)
		if err != nil {
			b.Fatal(err)
		}
		batches = append(batches, bt)
	}
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			st := newStepper(n, &InfoNCE{Temperature: 0.05}, workers)
			warm := &hyper{lr: 1e-3, embLR: 1e-2, b1: 0.9, b2: 0.999, eps: 1e-8, step: 1, clip: 1}
			st.step(batches[0], warm) // touch the optimiser state
			b.ReportAllocs()
			b.ResetTimer()
			pairs := 0
			for i := 0; i < b.N; i++ {
				bt := batches[i%len(batches)]
				h := &hyper{lr: 1e-3, embLR: 1e-2, b1: 0.9, b2: 0.999, eps: 1e-8, step: i + 1, clip: 1}
				st.step(bt, h)
				pairs += bt.size()
			}
			b.ReportMetric(float64(pairs)/b.Elapsed().Seconds(), "pairs/s")
		})
	}
}
