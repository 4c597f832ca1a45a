package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/internal/vec"
	"github.com/twinsearch/twin/lsh"
	"github.com/twinsearch/twin/lsh/matchdata"
)

// matchRun is the untrained baseline for the labelled-duplicates task: each
// record of tableA and tableB is embedded by a random-init twin tower with no
// hidden layer and IDF weights computed over both tables (a random
// projection of TF-IDF over the hashed features), or by -model. tau is
// chosen on valid by F1 over exact cosines; LSH tables over tableB are then
// planned for that tau, and a test pair is predicted a match when LSH
// proposes tableB's record for tableA's record and the cosine is >= tau
// (pairs never proposed count as predicted non-matches).
func matchRun(root, modelPath string, recall float64, maxL int, seed uint64) error {
	fmt.Println("| data set | tau (valid) | valid F1 | test P | test R | test F1 | test matches LSH never proposed | K | L | comparisons / all A x B pairs |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, name := range []string{"dblp_acm", "abt_buy", "amazon_google", "walmart_amazon"} {
		ds, err := matchdata.Load(filepath.Join(root, name))
		if err != nil {
			return err
		}
		var texts []string
		for _, r := range ds.A.Records {
			texts = append(texts, r.Text())
		}
		for _, r := range ds.B.Records {
			texts = append(texts, r.Text())
		}
		var m *encoder.Model
		if modelPath != "" {
			m, err = encoder.Load(modelPath)
		} else {
			m, err = encoder.New(encoder.Config{Hidden: []int{}}, seed)
			if err == nil {
				err = m.SetIDF(idf(m.Featurizer(), texts))
			}
		}
		if err != nil {
			return err
		}
		dim := m.Dim()
		vs := make([][]float32, len(texts))
		for i := range vs {
			vs[i] = make([]float32, dim)
		}
		if err := m.EncodeBatch(context.Background(), encoder.DocTower, texts, vs); err != nil {
			return err
		}
		nA := len(ds.A.Records)
		rowA, rowB := map[string]int{}, map[string]int{}
		for i, r := range ds.A.Records {
			rowA[r.ID] = i
		}
		for i, r := range ds.B.Records {
			rowB[r.ID] = nA + i
		}
		cos := func(p matchdata.Pair) (float64, bool) {
			a, b := vs[rowA[p.Left]], vs[rowB[p.Right]]
			if vec.Norm(a) == 0 || vec.Norm(b) == 0 {
				return 0, false
			}
			return float64(vec.Dot(a, b)), true
		}
		tau, validPRF := matchdata.ChooseThreshold(ds.Valid, cos)
		tau = math.Min(1, math.Max(tau, 1e-3))
		// LSH over tableB, planned for tau from a sample of A x B cosines.
		var sample []float64
		for i := 0; i < 4000; i++ {
			a, b := vs[(i*7919)%nA], vs[nA+(i*104729)%len(ds.B.Records)]
			sample = append(sample, float64(vec.Dot(a, b)))
		}
		plan, err := lsh.Choose(lsh.PlanOptions{Threshold: tau, Recall: recall, N: len(ds.B.Records), Sample: sample, MaxL: maxL})
		if err != nil {
			return err
		}
		x, err := lsh.New(lsh.Options{Dim: dim, K: plan.K, L: plan.L, Probes: plan.Probes, Seed: seed})
		if err != nil {
			return err
		}
		for i := nA; i < len(vs); i++ {
			if vec.Norm(vs[i]) > 0 {
				if err := x.Add(uint32(i-nA), vs[i]); err != nil {
					return err
				}
			}
		}
		proposed := map[[2]int]bool{}
		var comparisons int
		for i := range nA {
			if vec.Norm(vs[i]) == 0 {
				continue
			}
			ids, err := x.Query(nil, vs[i], -1)
			if err != nil {
				return err
			}
			comparisons += len(ids)
			for _, id := range ids {
				proposed[[2]int{i, nA + int(id)}] = true
			}
		}
		missed := 0
		test := matchdata.Evaluate(ds.Test, func(p matchdata.Pair) bool {
			ok := proposed[[2]int{rowA[p.Left], rowB[p.Right]}]
			if !ok && p.Match {
				missed++
			}
			s, _ := cos(p)
			return ok && s >= tau
		})
		positives := test.TP + test.FN
		fmt.Printf("| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %d of %d | %d | %d | %.4f |\n", name, tau, validPRF.F1, test.Precision, test.Recall, test.F1,
			missed, positives, plan.K, plan.L, float64(comparisons)/float64(nA*len(ds.B.Records)))
	}
	return nil
}

// idf is ln(1 + N/(df+1)) per bucket over texts (as twin model init --idf-corpus).
func idf(f *encoder.Featurizer, texts []string) []float32 {
	df := make([]int32, f.Buckets())
	var fs encoder.Features
	for _, t := range texts {
		f.Featurize(t, &fs)
		for _, id := range fs.Idx {
			df[id]++
		}
	}
	out := make([]float32, len(df))
	for i, c := range df {
		out[i] = float32(math.Log(1 + float64(len(texts))/float64(c+1)))
	}
	return out
}
