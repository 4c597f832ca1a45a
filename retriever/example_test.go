package retriever_test

import (
	"fmt"

	"github.com/twinsearch/twin/retriever"
)

func ExampleRRF() {
	dense := retriever.List{Source: "dense", Hits: []retriever.Scored{{DocID: "a", Score: 0.9}, {DocID: "b", Score: 0.7}}}
	bm25 := retriever.List{Source: "bm25", Hits: []retriever.Scored{{DocID: "b", Score: 12}, {DocID: "c", Score: 9}}}
	for _, h := range retriever.RRF([]retriever.List{dense, bm25}, 60) {
		fmt.Printf("%s %.5f", h.DocID, h.Score)
		for _, c := range h.Sources {
			fmt.Printf("  %s#%d", c.Source, c.Rank)
		}
		fmt.Println()
	}
	// Output:
	// b 0.03252  dense#2  bm25#1
	// a 0.01639  dense#1  bm25#0
	// c 0.01613  dense#0  bm25#2
}
