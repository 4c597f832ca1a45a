package encoder_test

import (
	"fmt"
	"math"

	"github.com/twinsearch/twin/encoder"
)

func Example() {
	// A small seeded model: 2^12 buckets, bag 32, no hidden layer, 16-d.
	m, err := encoder.New(encoder.Config{
		Features: encoder.FeatureConfig{Bits: 12},
		BagDim:   32, Hidden: []int{}, Dim: 16,
	}, 42)
	if err != nil {
		panic(err)
	}
	q := make([]float32, m.Dim())
	d := make([]float32, m.Dim())
	m.Encode(encoder.QueryTower, "twin towers", q)
	m.Encode(encoder.DocTower, "Twin towers!", d)
	var dot, norm float64
	for i := range q {
		dot += float64(q[i]) * float64(d[i])
		norm += float64(q[i]) * float64(q[i])
	}
	fmt.Printf("unit length: %.3f\n", math.Sqrt(norm))
	fmt.Printf("same words, same vector: %.3f\n", dot)
	for _, tok := range encoder.Tokenize("Café, 東京!", 0) {
		fmt.Printf("%q [%d:%d]\n", tok.Term, tok.Start, tok.End)
	}
	// Output:
	// unit length: 1.000
	// same words, same vector: 1.000
	// "café" [0:5]
	// "東" [7:10]
	// "京" [10:13]
}
