// Command entitymatch is the labelled-duplicates experiment of the LSH
// issue: for each DeepMatcher dataset (Abt-Buy, Amazon-Google, DBLP-ACM,
// Walmart-Amazon) it trains a twin model on the train pairs (Siamese,
// contrastive or BCE loss), picks the cosine threshold tau on the valid
// pairs, builds random-projection LSH tables over the right-hand table for
// that tau, and reports precision/recall/F1 on the test pairs, counting
// pairs that LSH never proposed as predicted non-matches. It also reports
// MRPC test accuracy/F1 at the tau chosen on MRPC train.
//
//	go run ./bench/entitymatch -data ../shared/data -steps 600
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/internal/vec"
	"github.com/twinsearch/twin/lsh"
	"github.com/twinsearch/twin/trainer"
)

type pair struct {
	a, b int
	y    float64
}

type dataset struct {
	name               string
	left, right        []string
	train, valid, test []pair
}

func main() {
	data := flag.String("data", "../shared/data", "shared data directory")
	only := flag.String("datasets", "dblp_acm,abt_buy,amazon_google,walmart_amazon", "comma-separated DeepMatcher datasets")
	steps := flag.Int("steps", 600, "training steps per dataset")
	loss := flag.String("loss", "contrastive", "loss: contrastive, online-contrastive, bce, ...")
	lr := flag.Float64("lr", 1e-3, "dense learning rate")
	bits := flag.Int("bits", 18, "feature hash bits")
	margin := flag.Float64("margin", 0.5, "contrastive margin")
	mrpc := flag.Bool("mrpc", true, "also run MRPC")
	flag.Parse()
	ctx := context.Background()
	fmt.Printf("| dataset | train pairs | steps | train s | tau (valid) | LSH K/L/probes | pos. test pairs proposed | comparisons vs all pairs | P | R | F1 | exact-cosine F1 (no LSH) |\n")
	fmt.Printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, name := range strings.Split(*only, ",") {
		ds, err := loadDeepMatcher(filepath.Join(*data, "deepmatcher", name))
		if err != nil {
			log.Fatal(err)
		}
		runDataset(ctx, ds, *steps, *loss, *lr, *bits, *margin)
	}
	if *mrpc {
		runMRPC(ctx, filepath.Join(*data, "mrpc"), *steps, *loss, *lr, *bits, *margin)
	}
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	rows, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

// loadTable returns record texts indexed by id: the non-id attributes
// joined with spaces.
func loadTable(path string) ([]string, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	var texts []string
	for _, row := range rows[1:] {
		var id int
		if _, err := fmt.Sscan(row[0], &id); err != nil {
			return nil, fmt.Errorf("%s: id %q", path, row[0])
		}
		for len(texts) <= id {
			texts = append(texts, "")
		}
		texts[id] = strings.Join(strings.Fields(strings.Join(row[1:], " ")), " ")
	}
	return texts, nil
}

func loadPairs(path string) ([]pair, error) {
	rows, err := readCSV(path)
	if err != nil {
		return nil, err
	}
	var ps []pair
	for _, row := range rows[1:] {
		var p pair
		if _, err := fmt.Sscan(row[0], &p.a); err != nil {
			return nil, err
		}
		if _, err := fmt.Sscan(row[1], &p.b); err != nil {
			return nil, err
		}
		if _, err := fmt.Sscan(row[2], &p.y); err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func loadDeepMatcher(dir string) (*dataset, error) {
	ds := &dataset{name: filepath.Base(dir)}
	var err error
	if ds.left, err = loadTable(filepath.Join(dir, "tableA.csv")); err != nil {
		return nil, err
	}
	if ds.right, err = loadTable(filepath.Join(dir, "tableB.csv")); err != nil {
		return nil, err
	}
	for split, dst := range map[string]*[]pair{"train": &ds.train, "valid": &ds.valid, "test": &ds.test} {
		if *dst, err = loadPairs(filepath.Join(dir, split+".csv")); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func clean(s string) string { return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s) }

// toPairs builds a labelled trainer source through the trainer's own TSV
// reader, so the experiment trains exactly as `twin train --pairs` would.
func toPairs(left, right []string, ps []pair) (*trainer.Pairs, error) {
	var sb strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&sb, "%s\t%s\t%g\n", clean(left[p.a]), clean(right[p.b]), p.y)
	}
	return trainer.ReadPairs(strings.NewReader(sb.String()), trainer.Columns{Format: "tsv", A: "0", B: "1", Label: "2", Header: "no", Min: 0, Max: 1})
}

func train(ctx context.Context, name string, corpus []string, tr, dev *trainer.Pairs, steps int, loss string, lr float64, bits int, margin float64) (*encoder.Model, float64, error) {
	m, err := encoder.New(encoder.Config{Features: encoder.FeatureConfig{Bits: bits}}, 1)
	if err != nil {
		return nil, 0, err
	}
	idf, err := trainer.ComputeIDF(ctx, m, corpus)
	if err != nil {
		return nil, 0, err
	}
	if err := m.SetIDF(idf); err != nil {
		return nil, 0, err
	}
	out, err := os.MkdirTemp("", "entitymatch-"+name)
	if err != nil {
		return nil, 0, err
	}
	defer os.RemoveAll(out)
	start := time.Now()
	res, err := trainer.Train(ctx, m, trainer.Data{Sources: []trainer.Source{tr}, Dev: &trainer.PairsDev{P: dev}}, trainer.Options{
		Loss: loss, LossOptions: trainer.LossOptions{Margin: margin}, Steps: steps, LR: lr, BatchSize: 128,
		OutDir: out, EvalEvery: max(1, steps/10), Seed: 1,
	})
	if err != nil {
		return nil, 0, err
	}
	best, err := encoder.Load(res.ModelPath)
	if err != nil {
		return nil, 0, err
	}
	return best, time.Since(start).Seconds(), nil
}

func encodeAll(ctx context.Context, m *encoder.Model, texts []string) [][]float32 {
	v, err := trainer.EncodeAll(ctx, m, encoder.DocTower, texts)
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// bestTau returns the threshold maximising F1 of (score >= tau) on pairs.
func bestTau(scores []float64, ps []pair) (tau, f1 float64) {
	idx := make([]int, len(ps))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	pos := 0
	for _, p := range ps {
		if p.y >= 0.5 {
			pos++
		}
	}
	tp, fp := 0, 0
	tau = 1.01
	for k, i := range idx {
		if scores[i] < -1 {
			break // never proposed
		}
		if ps[i].y >= 0.5 {
			tp++
		} else {
			fp++
		}
		if k+1 < len(idx) && scores[idx[k+1]] == scores[i] {
			continue
		}
		if tp > 0 {
			p, r := float64(tp)/float64(tp+fp), float64(tp)/float64(pos)
			if f := 2 * p * r / (p + r); f > f1 {
				f1, tau = f, scores[i]
			}
		}
	}
	return tau, f1
}

func prf(scores []float64, ps []pair, tau float64) (p, r, f1, acc float64) {
	var tp, fp, fn, tn int
	for i, pr := range ps {
		pred := scores[i] >= tau
		switch {
		case pred && pr.y >= 0.5:
			tp++
		case pred:
			fp++
		case pr.y >= 0.5:
			fn++
		default:
			tn++
		}
	}
	if tp > 0 {
		p, r = float64(tp)/float64(tp+fp), float64(tp)/float64(tp+fn)
		f1 = 2 * p * r / (p + r)
	}
	acc = float64(tp+tn) / float64(len(ps))
	return
}

func cosines(lv, rv [][]float32, ps []pair) []float64 {
	s := make([]float64, len(ps))
	for i, p := range ps {
		s[i] = float64(vec.Dot(lv[p.a], rv[p.b]))
	}
	return s
}

func runDataset(ctx context.Context, ds *dataset, steps int, loss string, lr float64, bits int, margin float64) {
	tr, err := toPairs(ds.left, ds.right, ds.train)
	if err != nil {
		log.Fatal(err)
	}
	dev, err := toPairs(ds.left, ds.right, ds.valid)
	if err != nil {
		log.Fatal(err)
	}
	m, secs, err := train(ctx, ds.name, append(append([]string(nil), ds.left...), ds.right...), tr, dev, steps, loss, lr, bits, margin)
	if err != nil {
		log.Fatalf("%s: %v", ds.name, err)
	}
	lv, rv := encodeAll(ctx, m, ds.left), encodeAll(ctx, m, ds.right)
	tau, _ := bestTau(cosines(lv, rv, ds.valid), ds.valid)
	_, _, exactF1, _ := prf(cosines(lv, rv, ds.test), ds.test, tau)

	// LSH over the right table, planned for tau with 0.99 recall at tau,
	// using a sample of random cross-table cosines for the candidate cost.
	r := rand.New(rand.NewPCG(7, 7))
	sample := make([]float64, 2000)
	for i := range sample {
		sample[i] = float64(vec.Dot(lv[r.IntN(len(lv))], rv[r.IntN(len(rv))]))
	}
	plan, err := lsh.Choose(lsh.PlanOptions{Threshold: max(0.05, tau), Recall: 0.99, N: len(rv), Sample: sample})
	if err != nil {
		log.Fatal(err)
	}
	ix, err := lsh.New(lsh.Options{Dim: m.Dim(), K: plan.K, L: plan.L, Probes: plan.Probes, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	for i, v := range rv {
		if vec.Norm(v) == 0 {
			continue
		}
		if err := ix.Add(uint32(i), v); err != nil {
			log.Fatal(err)
		}
	}
	// Candidates for every left record that appears in test pairs.
	cands := map[int]map[int]bool{}
	comparisons := 0
	for _, p := range ds.test {
		if _, ok := cands[p.a]; ok || vec.Norm(lv[p.a]) == 0 {
			continue
		}
		ids, err := ix.Query(nil, lv[p.a], -1)
		if err != nil {
			log.Fatal(err)
		}
		set := map[int]bool{}
		for _, id := range ids {
			set[int(id)] = true
		}
		comparisons += len(ids)
		cands[p.a] = set
	}
	scores := cosines(lv, rv, ds.test)
	posPairs, proposed := 0, 0
	for i, p := range ds.test {
		if !cands[p.a][p.b] {
			scores[i] = -2 // never proposed: a miss
		} else if p.y >= 0.5 {
			proposed++
		}
		if p.y >= 0.5 {
			posPairs++
		}
	}
	pr, rc, f1, _ := prf(scores, ds.test, tau)
	all := len(cands) * len(rv)
	fmt.Printf("| %s | %d | %d | %.0f | %.3f | %d/%d/%d | %d/%d | %.2f%% | %.3f | %.3f | **%.3f** | %.3f |\n",
		ds.name, len(ds.train), steps, secs, tau, plan.K, plan.L, plan.Probes, proposed, posPairs,
		100*float64(comparisons)/float64(max(1, all)), pr, rc, f1, exactF1)
}

func runMRPC(ctx context.Context, dir string, steps int, loss string, lr float64, bits int, margin float64) {
	cols := trainer.Presets["mrpc"]
	tr, err := trainer.LoadPairs(filepath.Join(dir, "msr_paraphrase_train.txt"), cols)
	if err != nil {
		log.Fatal(err)
	}
	te, err := trainer.LoadPairs(filepath.Join(dir, "msr_paraphrase_test.txt"), cols)
	if err != nil {
		log.Fatal(err)
	}
	var corpus []string
	for _, e := range tr.Items {
		corpus = append(corpus, e.A, e.B)
	}
	// tau is chosen on train, as the issue asks; dev for early stopping is train too.
	m, secs, err := train(ctx, "mrpc", corpus, tr, tr, steps, loss, lr, bits, margin)
	if err != nil {
		log.Fatal(err)
	}
	score := func(p *trainer.Pairs) ([]float64, []pair) {
		cos, err := trainer.PairCosines(ctx, m, p)
		if err != nil {
			log.Fatal(err)
		}
		ps := make([]pair, len(p.Items))
		for i, e := range p.Items {
			ps[i].y = e.Y
		}
		return cos, ps
	}
	trS, trP := score(tr)
	tau, _ := bestTau(trS, trP)
	teS, teP := score(te)
	p, r, f1, acc := prf(teS, teP, tau)
	fmt.Printf("\nMRPC test (%d pairs; model trained %d steps in %.0f s on %d train pairs, tau %.3f chosen on train): accuracy %.3f, P %.3f, R %.3f, F1 %.3f\n",
		len(te.Items), steps, secs, len(tr.Items), tau, acc, p, r, f1)
}
