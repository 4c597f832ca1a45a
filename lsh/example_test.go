package lsh_test

import (
	"context"
	"fmt"

	"github.com/twinsearch/twin/lsh"
)

func Example() {
	plan, err := lsh.Choose(lsh.PlanOptions{Threshold: 0.9, Recall: 0.99, N: 1000})
	if err != nil {
		panic(err)
	}
	x, err := lsh.New(lsh.Options{Dim: 3, K: plan.K, L: plan.L, Seed: 1})
	if err != nil {
		panic(err)
	}
	x.Add(1, []float32{1, 0, 0})
	x.Add(2, []float32{0, 1, 0})
	x.Add(3, []float32{0.99, 0.1, 0}) // near-duplicate of 1
	x.Add(4, []float32{0, 0.1, 0.99})

	hits, _ := x.Search([]float32{1, 0.05, 0}, 1, 0)
	fmt.Printf("nearest: %d\n", hits[0].ID)

	stats, _ := x.Dedup(context.Background(), lsh.DedupOptions{Threshold: 0.9}, func(g lsh.Group) error {
		fmt.Printf("group %d: representative %d, %d members\n", g.ID, g.Representative, len(g.Members))
		return nil
	})
	fmt.Printf("%d docs, %d in groups\n", stats.Docs, stats.DocsInGroups)
	// Output:
	// nearest: 1
	// group 0: representative 1, 2 members
	// 4 docs, 2 in groups
}

func ExampleSCurve() {
	for _, p := range lsh.SCurve(16, 20, 0, []float64{0.5, 0.8, 0.9, 0.95}) {
		fmt.Printf("cos %.2f: per table %.4f, any of 20 tables %.3f\n", p.Cos, p.Table, p.Any)
	}
	// Output:
	// cos 0.50: per table 0.0015, any of 20 tables 0.030
	// cos 0.80: per table 0.0255, any of 20 tables 0.404
	// cos 0.90: per table 0.0838, any of 20 tables 0.826
	// cos 0.95: per table 0.1818, any of 20 tables 0.982
}
