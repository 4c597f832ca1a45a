package trainer

import (
	"context"
	"math"
	"runtime"
	"sync"

	"github.com/twinsearch/twin/encoder"
)

// ComputeIDF returns a per-bucket inverse document frequency over docs for
// the model's featurizer (its own IDF, if any, is ignored for counting):
// idf = ln(1 + (N - df + 0.5)/(df + 0.5)) (BM25's), so frequent buckets
// weigh less and unseen buckets weigh the most. Install it with
// m.SetIDF; the featurizer then multiplies feature weights by it before
// normalising, which makes the embedding bag an IDF-weighted mean.
func ComputeIDF(ctx context.Context, m *encoder.Model, docs []string) ([]float32, error) {
	cfg := m.Config.Features
	feat, err := encoder.NewFeaturizer(cfg, nil)
	if err != nil {
		return nil, err
	}
	buckets := feat.Buckets()
	workers := min(runtime.GOMAXPROCS(0), max(1, len(docs)))
	counts := make([][]int32, workers)
	var wg sync.WaitGroup
	per := (len(docs) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		counts[w] = make([]int32, buckets)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var f encoder.Features
			for i := w * per; i < min(len(docs), (w+1)*per); i++ {
				if i%256 == 0 && ctx.Err() != nil {
					return
				}
				feat.Featurize(docs[i], &f)
				for _, id := range f.Idx {
					counts[w][id]++
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := float64(len(docs))
	idf := make([]float32, buckets)
	for b := range idf {
		var df float64
		for w := range counts {
			df += float64(counts[w][b])
		}
		idf[b] = float32(math.Log(1 + (n-df+0.5)/(df+0.5)))
	}
	return idf, nil
}
