package index_test

import (
	"fmt"

	"github.com/twinsearch/twin/index"
)

func ExampleHNSW() {
	h := index.NewHNSW(2, index.HNSWOptions{M: 8, EfConstruction: 32, Seed: 1})
	vecs := [][]float32{{1, 0}, {0.8, 0.6}, {0, 1}, {-1, 0}}
	for i, v := range vecs {
		if err := h.Add(uint32(i), v); err != nil {
			panic(err)
		}
	}
	h.Delete(0)
	hits, _ := h.Search([]float32{1, 0}, 2, 0)
	for _, x := range hits {
		fmt.Printf("%d %.2f\n", x.ID, x.Score)
	}
	// Output:
	// 1 0.80
	// 2 0.00
}
