package eval_test

import (
	"fmt"
	"os"

	"github.com/twinsearch/twin/eval"
)

func ExampleEvaluate() {
	qrels := eval.Qrels{"q1": {"d1": 2, "d2": 1}, "q2": {"d9": 1}}
	run := eval.Run{
		"q1": {{DocID: "d3", Score: 0.9}, {DocID: "d1", Score: 0.8}, {DocID: "d2", Score: 0.1}},
		"q2": {}, // nothing retrieved: scores 0, still averaged
	}
	rep := eval.Evaluate(qrels, run, eval.Options{})
	fmt.Printf("queries %d, empty %d\n", rep.Queries, rep.EmptyRun)
	fmt.Printf("q1 nDCG@10 %.4f MRR@10 %.2f R@100 %.1f\n", rep.PerQuery["q1"].NDCG10, rep.PerQuery["q1"].MRR10, rep.PerQuery["q1"].Recall100)
	fmt.Printf("mean nDCG@10 %.4f\n", rep.Mean.NDCG10)
	eval.WriteTREC(os.Stdout, eval.Run{"q1": run["q1"]}, "demo")
	// Output:
	// queries 2, empty 1
	// q1 nDCG@10 0.6697 MRR@10 0.50 R@100 1.0
	// mean nDCG@10 0.3348
	// q1 Q0 d3 1 0.9 demo
	// q1 Q0 d1 2 0.8 demo
	// q1 Q0 d2 3 0.1 demo
}
