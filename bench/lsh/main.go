// Command lsh-bench measures package lsh: dedup wall time, peak RSS and pair
// recall on synthetic vectors with planted near-duplicate groups, LSH as an
// ANN index on the gmm fvecs sets (recall@10 vs gt.ivecs, QPS), and
// candidate recall on embeddings of a real corpus (SciFact encoded with a
// random-init twin model). Results are recorded in bench/RESULTS.md.
//
//	go run ./bench/lsh -mode synth -n 100000 -oracle
//	go run ./bench/lsh -mode synth -n 1000000
//	go run ./bench/lsh -mode ann -name gmm100k
//	go run ./bench/lsh -mode corpus -corpus ../shared/data/scifact/corpus.jsonl
//	go run ./bench/lsh -mode match -match ../shared/data/deepmatcher
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/internal/corpus"
	"github.com/twinsearch/twin/internal/vec"
	"github.com/twinsearch/twin/internal/vecio"
	"github.com/twinsearch/twin/lsh"
)

func main() {
	mode := flag.String("mode", "synth", "synth | ann | corpus | match")
	n := flag.Int("n", 100000, "synth: number of vectors")
	dim := flag.Int("dim", 128, "synth: dimension")
	tau := flag.Float64("tau", 0.9, "cosine threshold")
	recall := flag.Float64("recall", 0.99, "target recall at tau for the parameter chooser")
	maxL := flag.Int("maxl", 64, "chooser: max tables")
	oracle := flag.Bool("oracle", false, "synth: run the exact all-pairs oracle (O(n^2))")
	dataDir := flag.String("data", "../shared/data/ann", "ann: directory of the fvecs files")
	name := flag.String("name", "gmm100k", "ann: data set name")
	corpusPath := flag.String("corpus", "../shared/data/scifact/corpus.jsonl", "corpus: BEIR corpus.jsonl")
	modelPath := flag.String("model", "", "corpus: model file (default: a random-init model, encoder.New with -seed)")
	matchRoot := flag.String("match", "../shared/data/deepmatcher", "match: DeepMatcher-layout data sets root")
	plant := flag.Int("plant", 1000, "corpus: number of edited copies of random documents to add")
	seed := flag.Uint64("seed", 1, "seed")
	flag.Parse()
	var err error
	switch *mode {
	case "synth":
		err = synth(*n, *dim, *tau, *recall, *maxL, *oracle, *seed)
	case "ann":
		err = ann(*dataDir, *name, *seed)
	case "match":
		err = matchRun(*matchRoot, *modelPath, *recall, *maxL, *seed)
	case "corpus":
		err = corpusRun(*corpusPath, *modelPath, *tau, *recall, *maxL, *plant, *seed)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "lsh-bench:", err)
		os.Exit(1)
	}
}

// rss returns (current, peak) resident set size in MiB from /proc/self/status.
func rss() (float64, float64) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0
	}
	var cur, peak float64
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			cur = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return cur, peak
}

func randUnit(rng *rand.Rand, dst []float32) {
	for i := range dst {
		dst[i] = float32(rng.NormFloat64())
	}
	vec.Normalize(dst)
}

// nearCopy writes to dst a unit vector at cosine c from unit u.
func nearCopy(rng *rand.Rand, dst, u []float32, c float64) {
	randUnit(rng, dst)
	d := vec.Dot(dst, u)
	for i := range dst {
		dst[i] -= d * u[i]
	}
	vec.Normalize(dst)
	s := float32(math.Sqrt(1 - c*c))
	for i := range dst {
		dst[i] = float32(c)*u[i] + s*dst[i]
	}
	vec.Normalize(dst)
}

// synthData builds n vectors in one flat slice: a clustered background
// (n/1000 Gaussian clusters, same-cluster cosine ~0.5) and planted groups of
// 2..6 near-copies of a background vector (cosine to it uniform in
// [0.93, 1)) covering ~10% of the vectors, shuffled. group[i] is the planted
// group of vector i or -1.
func synthData(n, dim int, seed uint64) ([]float32, []int32) {
	rng := rand.New(rand.NewPCG(seed, 99))
	clusters := max(1, n/1000)
	centres := make([]float32, clusters*dim)
	for c := range clusters {
		randUnit(rng, centres[c*dim:(c+1)*dim])
	}
	flat := make([]float32, n*dim)
	group := make([]int32, n)
	// Row r of the generation order is stored at perm[r], so groups are
	// scattered over the id space without a second copy.
	perm := rng.Perm(n)
	row := func(r int) []float32 { return flat[perm[r]*dim : (perm[r]+1)*dim] }
	noise := make([]float32, dim)
	sigma := float32(1 / math.Sqrt(float64(dim))) // noise norm ~1: same-cluster cosine ~0.5
	background := func(dst []float32) {
		c := centres[rng.IntN(clusters)*dim:]
		for i := range dst {
			noise[i] = float32(rng.NormFloat64()) * sigma
			dst[i] = c[i] + noise[i]
		}
		vec.Normalize(dst)
	}
	i := 0
	g := int32(0)
	for i < n/10 {
		m := min(2+rng.IntN(5), n-i)
		base := row(i)
		background(base)
		group[perm[i]] = g
		for j := 1; j < m; j++ {
			nearCopy(rng, row(i+j), base, 0.93+0.07*rng.Float64())
			group[perm[i+j]] = g
		}
		i += m
		g++
	}
	for ; i < n; i++ {
		background(row(i))
		group[perm[i]] = -1
	}
	return flat, group
}

func rows(flat []float32, dim int) [][]float32 {
	out := make([][]float32, len(flat)/dim)
	for i := range out {
		out[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return out
}

// samplePairs returns cosines of m random pairs.
func samplePairs(vs [][]float32, m int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 5))
	out := make([]float64, m)
	for i := range out {
		a, b := rng.IntN(len(vs)), rng.IntN(len(vs))
		for b == a {
			b = rng.IntN(len(vs))
		}
		out[i] = float64(vec.Dot(vs[a], vs[b]))
	}
	return out
}

// exactPairs counts pairs with cosine >= tau by brute force over rows
// [0, upto) against every later row, on all cores; it returns the count and
// the wall time.
func exactPairs(vs [][]float32, tau float64, upto int) (int64, time.Duration) {
	start := time.Now()
	t := float32(tau) - 1e-6
	var next atomic.Int64
	var count atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c int64
			for {
				i := int(next.Add(1)) - 1
				if i >= upto {
					break
				}
				vi := vs[i]
				for _, vj := range vs[i+1:] {
					if vec.Dot(vi, vj) >= t {
						c++
					}
				}
			}
			count.Add(c)
		}()
	}
	wg.Wait()
	return count.Load(), time.Since(start)
}

// plannedPairs counts planted-group pairs with cosine >= tau (the oracle for
// sizes where all-pairs is too slow: background pairs do not reach tau, which
// the 100k run checks exactly).
func plannedPairs(vs [][]float32, group []int32, tau float64) int64 {
	byGroup := map[int32][]int{}
	for i, g := range group {
		if g >= 0 {
			byGroup[g] = append(byGroup[g], i)
		}
	}
	t := float32(tau) - 1e-6
	var c int64
	for _, m := range byGroup {
		for a := range m {
			for b := a + 1; b < len(m); b++ {
				if vec.Dot(vs[m[a]], vs[m[b]]) >= t {
					c++
				}
			}
		}
	}
	return c
}

func synth(n, dim int, tau, recall float64, maxL int, oracle bool, seed uint64) error {
	t0 := time.Now()
	flat, group := synthData(n, dim, seed)
	vs := rows(flat, dim)
	genTime := time.Since(t0)
	baseRSS, _ := rss()
	fmt.Printf("synth n=%d dim=%d tau=%v: generated in %v, RSS %.0f MiB\n", n, dim, tau, genTime.Round(time.Millisecond), baseRSS)

	sample := samplePairs(vs, 20000, seed)
	plan, err := lsh.Choose(lsh.PlanOptions{Threshold: tau, Recall: recall, N: n, Sample: sample, MaxL: maxL})
	if err != nil {
		return err
	}
	fmt.Printf("plan: %v (sampled background mean cosine %.3f)\n", plan, mean(sample))
	// Source mode: the index reads the caller's vectors, keeps no copy.
	x, err := lsh.New(lsh.Options{Dim: dim, K: plan.K, L: plan.L, Probes: plan.Probes, Seed: seed,
		Source: func(id uint32) []float32 { return vs[id] }})
	if err != nil {
		return err
	}
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = uint32(i)
	}
	t1 := time.Now()
	if err := x.AddBatch(context.Background(), ids, vs); err != nil {
		return err
	}
	x.Compact()
	build := time.Since(t1)
	buildRSS, _ := rss()
	fmt.Printf("build (sign + tables): %v = %.0f vectors/s, RSS %.0f MiB (+%.0f)\n", build.Round(time.Millisecond), float64(n)/build.Seconds(), buildRSS, buildRSS-baseRSS)
	var groups, inGroups int
	st, err := x.Dedup(context.Background(), lsh.DedupOptions{Threshold: tau}, func(g lsh.Group) error {
		groups++
		inGroups += len(g.Members)
		return nil
	})
	if err != nil {
		return err
	}
	_, peak := rss()
	fmt.Printf("dedup: %v, %d groups, %d docs in groups, %d verified pairs, %d comparisons = %.4f%% of %d pairs; peak RSS %.0f MiB\n",
		st.Elapsed.Round(time.Millisecond), st.Groups, st.DocsInGroups, st.Pairs, st.Comparisons, 100*st.CandidateFraction, st.AllPairs, peak)
	planted := plannedPairs(vs, group, tau)
	fmt.Printf("planted-group pairs >= tau: %d; LSH pair recall vs planted %.4f\n", planted, float64(st.Pairs)/float64(planted))
	if oracle {
		cnt, d := exactPairs(vs, tau, n)
		fmt.Printf("exact all-pairs oracle: %d pairs >= tau in %v; LSH pair recall %.4f; LSH dedup is %.0fx faster\n",
			cnt, d.Round(time.Millisecond), float64(st.Pairs)/float64(cnt), d.Seconds()/(build+st.Elapsed).Seconds())
	} else {
		// Extrapolate all-pairs time from rows spread over the matrix.
		m := 2000
		sub := make([][]float32, 0, n)
		sub = append(sub, vs...)
		_, d := exactPairs(sub, tau, m)
		// rows [0,m) cover m*n - m^2/2 of the n^2/2 pairs
		covered := float64(m)*float64(n) - float64(m)*float64(m)/2
		est := d.Seconds() * (float64(n) * float64(n) / 2) / covered
		fmt.Printf("exact all-pairs time (extrapolated from %d rows in %v): %.0f s; LSH build+dedup is %.0fx faster\n",
			m, d.Round(time.Millisecond), est, est/(build+st.Elapsed).Seconds())
	}
	return nil
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func ann(dir, name string, seed uint64) error {
	read := func(suffix string) (*os.File, error) { return os.Open(filepath.Join(dir, name+suffix)) }
	f, err := read("_base.fvecs")
	if err != nil {
		return err
	}
	base, err := vecio.ReadFvecs(bufio.NewReader(f))
	f.Close()
	if err != nil {
		return err
	}
	f, err = read("_query.fvecs")
	if err != nil {
		return err
	}
	queries, err := vecio.ReadFvecs(bufio.NewReader(f))
	f.Close()
	if err != nil {
		return err
	}
	f, err = read("_gt.ivecs")
	if err != nil {
		return err
	}
	gt, err := vecio.ReadIvecs(bufio.NewReader(f))
	f.Close()
	if err != nil {
		return err
	}
	dim := len(base[0])
	fmt.Printf("ann %s: %d base, %d queries, dim %d\n", name, len(base), len(queries), dim)
	ids := make([]uint32, len(base))
	for i := range ids {
		ids[i] = uint32(i)
	}
	fmt.Println("| K | L | buckets/table (ef) | rerank | recall@10 | QPS (1 thread, median of 3) | mean candidates | build s | index B/vector (incl. 512 B vector copy) |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, c := range annConfigs(*annRerank) {
		t0 := time.Now()
		x, err := lsh.New(lsh.Options{Dim: dim, K: c.k, L: c.l, Seed: seed, Rerank: c.rerank})
		if err != nil {
			return err
		}
		if err := x.AddBatch(context.Background(), ids, base); err != nil {
			return err
		}
		build := time.Since(t0)
		bytesPer := float64(x.Bytes()) / float64(len(base))
		for _, ef := range []int{1, 4, 8, 16, 32, 64} {
			var found, cands int
			var qps []float64
			for range 3 {
				found = 0
				t1 := time.Now()
				for qi, q := range queries {
					hits, err := x.Search(q, 10, ef)
					if err != nil {
						return err
					}
					want := gt[qi][:10]
					for _, h := range hits {
						if slices.Contains(want, int32(h.ID)) {
							found++
						}
					}
				}
				qps = append(qps, float64(len(queries))/time.Since(t1).Seconds())
			}
			slices.Sort(qps)
			for _, q := range queries[:200] {
				ids, _ := x.Query(nil, q, ef-1)
				cands += len(ids)
			}
			fmt.Printf("| %d | %d | %d | %d | %.3f | %.0f | %d | %.1f | %.0f |\n", c.k, c.l, ef, c.rerank, float64(found)/float64(10*len(queries)),
				qps[1], cands/200, build.Seconds(), bytesPer)
		}
	}
	return nil
}

// edit returns a lightly edited copy of text: each word dropped with
// probability 0.05, swapped with its neighbour with probability 0.03, and
// the last sentence cut with probability 0.5 (a syndicated or re-posted copy).
func edit(rng *rand.Rand, text string) string {
	if rng.IntN(2) == 0 {
		if i := strings.LastIndex(strings.TrimRight(text, ". "), ". "); i > len(text)/2 {
			text = text[:i+1]
		}
	}
	words := strings.Fields(text)
	out := words[:0:0]
	for _, w := range words {
		if rng.Float64() < 0.05 {
			continue
		}
		out = append(out, w)
		if n := len(out); n >= 2 && rng.Float64() < 0.03 {
			out[n-1], out[n-2] = out[n-2], out[n-1]
		}
	}
	return strings.Join(out, " ")
}

var annRerank = flag.Bool("rerank", false, "ann: sweep Options.Rerank instead of the table shapes")

type annConfig struct{ k, l, rerank int }

func annConfigs(rerank bool) []annConfig {
	if !rerank {
		return []annConfig{{12, 16, 0}, {14, 32, 0}, {16, 32, 0}}
	}
	return []annConfig{{14, 32, 500}, {14, 32, 1000}, {16, 32, 300}, {16, 32, 1000}}
}

func corpusRun(path, modelPath string, tau, recall float64, maxL, plant int, seed uint64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := corpus.NewReader(f, corpus.Fields{})
	var texts []string
	for {
		d, err := r.Next()
		if err != nil {
			if err.Error() == "EOF" || strings.HasSuffix(err.Error(), "EOF") {
				break
			}
			return err
		}
		texts = append(texts, d.Body())
	}
	orig := len(texts)
	rng := rand.New(rand.NewPCG(seed, 3))
	for range plant {
		texts = append(texts, edit(rng, texts[rng.IntN(orig)]))
	}
	m, err := encoder.New(encoder.Config{}, seed)
	what := "random-init model"
	if modelPath != "" {
		m, err = encoder.Load(modelPath)
		what = "model " + modelPath
	}
	if err != nil {
		return err
	}
	dim := m.Dim()
	vs := make([][]float32, len(texts))
	flat := make([]float32, len(texts)*dim)
	for i := range vs {
		vs[i] = flat[i*dim : (i+1)*dim]
	}
	t0 := time.Now()
	if err := m.EncodeBatch(context.Background(), encoder.DocTower, texts, vs); err != nil {
		return err
	}
	fmt.Printf("corpus %s: %d docs + %d edited copies, encoded (%s, dim %d) in %v\n", path, orig, plant, what, dim, time.Since(t0).Round(time.Millisecond))
	var keep [][]float32
	var keepIdx []int
	for i, v := range vs {
		if vec.Norm(v) > 0 {
			keep = append(keep, v)
			keepIdx = append(keepIdx, i)
		}
	}
	sample := samplePairs(keep, 20000, seed)
	fmt.Printf("sampled random-pair cosine: mean %.3f\n", mean(sample))
	// Histogram of all pair cosines (exact) to pick thresholds that have pairs.
	hist, histTime := pairHistogram(keep)
	fmt.Printf("exact all-pairs histogram in %v; pairs at or above:", histTime.Round(time.Millisecond))
	for _, c := range []int{50, 60, 70, 80, 90, 95} {
		var above int64
		for b := c; b < len(hist); b++ {
			above += hist[b]
		}
		fmt.Printf(" %.2f: %d;", float64(c)/100, above)
	}
	fmt.Println()
	for _, t := range []float64{tau, 0.95, 0.8} {
		cnt, exactTime := exactPairs(keep, t, len(keep))
		if cnt == 0 {
			fmt.Printf("tau %.2f: no pair at or above it\n", t)
			continue
		}
		plan, err := lsh.Choose(lsh.PlanOptions{Threshold: t, Recall: recall, N: len(keep), Sample: sample, MaxL: maxL})
		if err != nil {
			return err
		}
		x, err := lsh.New(lsh.Options{Dim: dim, K: plan.K, L: plan.L, Probes: plan.Probes, Seed: seed})
		if err != nil {
			return err
		}
		ids := make([]uint32, len(keep))
		for i := range ids {
			ids[i] = uint32(i)
		}
		t1 := time.Now()
		if err := x.AddBatch(context.Background(), ids, keep); err != nil {
			return err
		}
		st, err := x.Dedup(context.Background(), lsh.DedupOptions{Threshold: t}, func(lsh.Group) error { return nil })
		if err != nil {
			return err
		}
		lt := time.Since(t1)
		fmt.Printf("tau %.2f: exact %d pairs in %v | plan %v | LSH %d pairs (recall %.4f), compared %.3f%% of pairs, %d groups, build+dedup %v\n",
			t, cnt, exactTime.Round(time.Millisecond), plan, st.Pairs, float64(st.Pairs)/math.Max(1, float64(cnt)), 100*st.CandidateFraction, st.Groups, lt.Round(time.Millisecond))
	}
	return nil
}

// pairHistogram counts all pairs by cosine in 0.01-wide bins (bin 100 = 1).
func pairHistogram(vs [][]float32) ([]int64, time.Duration) {
	start := time.Now()
	var mu sync.Mutex
	total := make([]int64, 102)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := make([]int64, 102)
			for {
				i := int(next.Add(1)) - 1
				if i >= len(vs) {
					break
				}
				for _, vj := range vs[i+1:] {
					c := vec.Dot(vs[i], vj)
					b := int(math.Floor(float64(c)*100 + 1e-4))
					h[max(0, min(101, b))]++
				}
			}
			mu.Lock()
			for b := range h {
				total[b] += h[b]
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return total, time.Since(start)
}
