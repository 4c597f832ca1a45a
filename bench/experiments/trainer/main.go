// Command trainer-eval scores a model file on a BEIR split with dense exact
// cosine search (nDCG@10, Recall@100, MRR@10), on all queries and on the
// "unseen" queries (none of whose relevant docs is relevant to a query of
// --unseen-vs), or on STS-style pairs (Spearman x100). It also prints the
// TF-IDF baseline over the model's own hashed features with --tfidf.
//
//	go run ./bench/experiments/trainer --model run/model.safetensors --beir /work/shared/data/scifact
//	go run ./bench/experiments/trainer --model run/model.safetensors --pairs sts-test.csv --preset stsb
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/eval"
	"github.com/twinsearch/twin/trainer"
)

func main() {
	model := flag.String("model", "", "model file (empty: a random model with default config, seed 1)")
	beir := flag.String("beir", "", "BEIR directory")
	split := flag.String("split", "test", "split to score")
	unseenVs := flag.String("unseen-vs", "train", "split defining the unseen queries ('' for none)")
	pairs := flag.String("pairs", "", "pair file to score (Spearman)")
	preset := flag.String("preset", "stsb", "pair column preset")
	flag.BoolVar(&randomIDF, "idf", false, "random model: install IDF computed over the BEIR corpus")
	flag.BoolVar(&noHidden, "no-hidden", false, "random model: no hidden layer")
	flag.IntVar(&bagDim, "bag-dim", 256, "random model: bag and output width")
	flag.Parse()
	if err := run(*model, *beir, *split, *unseenVs, *pairs, *preset); err != nil {
		fmt.Fprintln(os.Stderr, "trainer-eval:", err)
		os.Exit(1)
	}
}

var (
	randomIDF, noHidden bool
	bagDim              int
)

func run(modelPath, beir, split, unseenVs, pairs, preset string) error {
	ctx := context.Background()
	var m *encoder.Model
	var err error
	if modelPath == "" {
		cfg := encoder.Config{BagDim: bagDim, Dim: bagDim}
		if noHidden {
			cfg.Hidden = []int{}
		}
		m, err = encoder.New(cfg, 1)
	} else {
		m, err = encoder.Load(modelPath)
	}
	if err != nil {
		return err
	}
	if pairs != "" {
		p, err := trainer.LoadPairs(pairs, trainer.Presets[preset])
		if err != nil {
			return err
		}
		d := &trainer.PairsDev{P: p}
		v, all, err := d.Evaluate(ctx, m)
		if err != nil {
			return err
		}
		fmt.Printf("%s %s: %s %.2f %v\n", modelPath, pairs, d.Metric(), v, all)
		return nil
	}
	c, err := trainer.OpenCorpus(eval.CorpusPath(beir))
	if err != nil {
		return err
	}
	ds, err := eval.LoadBEIR(beir, split)
	if err != nil {
		return err
	}
	dev, err := trainer.NewRetrievalDev(c, ds.Queries, ds.Qrels)
	if err != nil {
		return err
	}
	if randomIDF {
		idf, err := trainer.ComputeIDF(ctx, m, dev.Docs)
		if err != nil {
			return err
		}
		if err := m.SetIDF(idf); err != nil {
			return err
		}
	}
	rep, err := trainer.RetrieveEval(ctx, m, dev.Docs, dev.DocIDs, dev.Queries, ds.Qrels)
	if err != nil {
		return err
	}
	fmt.Printf("%s %s/%s all(%d): ndcg@10 %.4f recall@100 %.4f mrr@10 %.4f\n", modelPath, beir, split, rep.Queries, rep.Mean.NDCG10, rep.Mean.Recall100, rep.Mean.MRR10)
	if unseenVs != "" {
		tr, err := eval.LoadBEIR(beir, unseenVs)
		if err != nil {
			return err
		}
		ids := eval.Unseen(ds.Qrels, tr.Qrels)
		uq := ds.Qrels.Subset(ids)
		var n, r, mrr float64
		for _, id := range ids {
			pq := rep.PerQuery[id]
			n += pq.NDCG10
			r += pq.Recall100
			mrr += pq.MRR10
		}
		k := float64(len(uq))
		fmt.Printf("%s %s/%s unseen(%d): ndcg@10 %.4f recall@100 %.4f mrr@10 %.4f\n", modelPath, beir, split, len(uq), n/k, r/k, mrr/k)
	}
	return nil
}
