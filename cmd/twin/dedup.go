package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/index"
	"github.com/twinsearch/twin/internal/corpus"
	"github.com/twinsearch/twin/internal/frame"
	"github.com/twinsearch/twin/internal/vec"
	"github.com/twinsearch/twin/lsh"
)

// lsh.Index keeps the vector-index method set without importing index.
var _ index.VectorIndex = (*lsh.Index)(nil)

func init() {
	register(newDedupCmd)
	formatVersionsRegistry["lsh tables"] = uint32(lsh.Version1)
}

// dedupGroup is one output line of twin dedup: a group of near-duplicate
// documents, by document id.
type dedupGroup struct {
	Group          int           `json:"group"`
	Representative string        `json:"representative"`
	Members        []dedupMember `json:"members"`
}

type dedupMember struct {
	ID         string  `json:"id"`
	Similarity float32 `json:"similarity"`
}

// dedupSummary is what twin dedup prints.
type dedupSummary struct {
	Source            string   `json:"source"`
	Docs              int      `json:"docs"`
	Skipped           int      `json:"skipped_zero_vectors"`
	Groups            int      `json:"groups"`
	DocsInGroups      int      `json:"docs_in_groups"`
	Pairs             int64    `json:"pairs"`
	Comparisons       int64    `json:"comparisons"`
	AllPairs          int64    `json:"all_pairs"`
	CandidateFraction float64  `json:"candidate_fraction"`
	Threshold         float64  `json:"threshold"`
	Plan              lsh.Plan `json:"plan"`
	LoadSeconds       float64  `json:"load_seconds"`
	HashSeconds       float64  `json:"hash_seconds"`
	DedupSeconds      float64  `json:"dedup_seconds"`
	TotalSeconds      float64  `json:"total_seconds"`
	Out               string   `json:"out,omitempty"`
}

type dedupFlags struct {
	corpusPath, modelPath, indexDir, out, rep string
	threshold, recall, background             float64
	k, l, probes, n, maxL                     int
	seed                                      uint64
	force, plan, saveTables                   bool
	fields                                    corpus.Fields
}

func newDedupCmd() *cobra.Command {
	var f dedupFlags
	cmd := &cobra.Command{
		Use:   "dedup (--corpus corpus.jsonl --model M | --index DIR) [--threshold 0.9] [--out groups.jsonl]",
		Short: "Find groups of near-duplicate documents with random-projection LSH",
		Long: `Find near-duplicate documents: every document is hashed into L tables of
K-bit random-hyperplane keys, pairs sharing a bucket are verified by exact
cosine >= --threshold, and verified pairs are joined into groups (union-find,
so a group can chain documents less similar than the threshold through a
middle one). Each group has a representative: the earliest document (input
order; --representative first) or the one closest to the group's mean
(--representative central).

Vectors come from a corpus encoded with a model's document tower (--corpus
with --model; no index needed) or from a collection built by twin build
(--index). With --index, the LSH tables twin build keeps in the collection
(DIR/lsh.tables, planned for --lsh-threshold, default 0.9) are used when they
suit --threshold; otherwise, and for --corpus, K, L and the probes are chosen
for the threshold and --recall from a sample of pair cosines, unless given
with --k/--l/--probes.

The summary (table, or --json) reports documents, groups, documents in
groups, the comparisons made against all n(n-1)/2 pairs, and the time.
Groups are written as JSON Lines to --out (- for stdout):
  {"group":0,"representative":"d1","members":[{"id":"d1","similarity":1},{"id":"d7","similarity":0.97}]}

--plan prints the parameter choice and its S-curve (collision probability
against cosine) for --threshold, --recall and --n without reading data.`,
		Example: `  twin dedup --corpus corpus.jsonl --model model.twin --threshold 0.9 --out groups.jsonl
  twin dedup --index ./coll --threshold 0.95 --out - --json
  twin dedup --plan --threshold 0.9 --n 1000000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !(f.threshold > 0 && f.threshold <= 1) {
				return usagef("--threshold %v: want a cosine in (0, 1]", f.threshold)
			}
			if !(f.recall > 0 && f.recall < 1) {
				return usagef("--recall %v: want (0, 1)", f.recall)
			}
			if f.k < 0 || f.k > lsh.MaxK || f.l < 0 || f.probes < -1 {
				return usagef("--k %d, --l %d, --probes %d: want 0 <= k <= %d (0 = chosen), l >= 0 (0 = chosen), probes >= -1 (-1 = chosen)", f.k, f.l, f.probes, lsh.MaxK)
			}
			if f.rep != string(lsh.RepFirst) && f.rep != string(lsh.RepCentral) {
				return usagef("--representative %q: want first or central", f.rep)
			}
			if f.plan {
				return printPlan(cmd, f)
			}
			if (f.corpusPath == "") == (f.indexDir == "") {
				return usagef("give either --corpus (with --model) or --index")
			}
			if f.corpusPath != "" && f.modelPath == "" {
				return usagef("--corpus needs --model (the document tower encodes it)")
			}
			if f.out != "" && f.out != "-" {
				if _, err := os.Stat(f.out); err == nil && !f.force {
					return usagef("%s exists (use --force to replace it)", f.out)
				}
			}
			return runDedup(cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.corpusPath, "corpus", "", "BEIR-style corpus.jsonl to deduplicate (needs --model)")
	fl.StringVarP(&f.modelPath, "model", "m", "", "model file whose document tower encodes --corpus")
	fl.StringVar(&f.indexDir, "index", "", "collection directory built by twin build (vectors read from it)")
	fl.Float64Var(&f.threshold, "threshold", 0.9, "cosine at or above which two documents are duplicates, in (0, 1]")
	fl.Float64Var(&f.recall, "recall", 0.99, "target probability of finding a pair at the threshold (chooses K, L, probes)")
	fl.StringVarP(&f.out, "out", "o", "", "write groups as JSON Lines here (- for stdout)")
	fl.BoolVar(&f.force, "force", false, "replace --out if it exists")
	fl.BoolVar(&f.saveTables, "save-tables", false, "--index: build LSH tables for --threshold and save them in the collection when it has none (or stale ones, or ones planned for a higher threshold)")
	fl.StringVar(&f.rep, "representative", "first", "group representative: first (earliest document) or central (closest to the group mean)")
	fl.IntVar(&f.k, "k", 0, "bits per key (0: chosen)")
	fl.IntVar(&f.l, "l", 0, "hash tables (0: chosen)")
	fl.IntVar(&f.probes, "probes", -1, "extra buckets probed per table (-1: chosen)")
	fl.IntVar(&f.maxL, "max-l", 64, "largest number of tables the chooser may pick")
	fl.Uint64Var(&f.seed, "seed", 1, "seed of the random hyperplanes")
	fl.BoolVar(&f.plan, "plan", false, "print the parameter choice and S-curve for --threshold, --recall, --n and exit")
	fl.IntVar(&f.n, "n", 100000, "--plan: collection size")
	fl.Float64Var(&f.background, "background", 0, "--plan: cosine of a typical unrelated pair")
	fl.StringVar(&f.fields.ID, "id-field", "_id", "JSONL field holding the id (missing ids become line numbers)")
	fl.StringVar(&f.fields.Title, "title-field", "title", "JSONL field holding the title")
	fl.StringVar(&f.fields.Text, "text-field", "text", "JSONL field holding the text")
	return cmd
}

func choosePlan(f dedupFlags, n int, sample []float64) (lsh.Plan, error) {
	opts := lsh.PlanOptions{Threshold: f.threshold, Recall: f.recall, N: max(n, 2), Background: f.background, Sample: sample, MaxL: f.maxL}
	plan, err := lsh.Choose(opts)
	if err != nil {
		return plan, err
	}
	if f.k > 0 || f.l > 0 || f.probes >= 0 {
		if f.k > 0 {
			plan.K = f.k
		}
		if f.l > 0 {
			plan.L = f.l
		}
		if f.probes >= 0 {
			plan.Probes = f.probes
		}
		// Report what the overridden scheme predicts (probes as a Hamming
		// radius: 0, or 1 when probes >= K).
		plan.Radius = 0
		if plan.Probes >= plan.K {
			plan.Radius = 1
		}
		plan.Recall = lsh.AnyProb(f.threshold, plan.K, plan.L, plan.Radius)
		plan.CandidateFraction = math.NaN()
		plan.Cost = math.NaN()
	}
	return plan, nil
}

func printPlan(cmd *cobra.Command, f dedupFlags) error {
	if f.n < 2 {
		return usagef("--n %d: want >= 2", f.n)
	}
	plan, err := choosePlan(f, f.n, nil)
	if err != nil {
		return err
	}
	curve := lsh.SCurve(plan.K, plan.L, plan.Radius, nil)
	w := cmd.OutOrStdout()
	if globals.json {
		return printJSON(w, map[string]any{"threshold": f.threshold, "target_recall": f.recall, "n": f.n, "background": f.background, "plan": jsonPlan(plan), "s_curve": curve})
	}
	fmt.Fprintf(w, "threshold %.3f, target recall %.3f, n %d, background cosine %.2f\n", f.threshold, f.recall, f.n, f.background)
	fmt.Fprintf(w, "plan: %v\n\n", plan)
	t := newTable(w, "cosine", "angle", "P(one table)", "P(any table)")
	for _, p := range curve {
		t.row(fmt.Sprintf("%.2f", p.Cos), fmt.Sprintf("%.1f°", p.ThetaDeg), p.Table, p.Any)
	}
	return t.flush()
}

// jsonPlan replaces NaN (not predicted) by nil for JSON.
func jsonPlan(p lsh.Plan) map[string]any {
	m := map[string]any{"k": p.K, "l": p.L, "probes": p.Probes, "radius": p.Radius, "recall": p.Recall}
	if !math.IsNaN(p.CandidateFraction) {
		m["candidate_fraction"] = p.CandidateFraction
	}
	return m
}

// loadCorpusVectors encodes every document of the corpus with the model's
// document tower, returning ids and vectors in input order.
func loadCorpusVectors(cmd *cobra.Command, f dedupFlags) ([]string, [][]float32, error) {
	m, err := encoder.Load(f.modelPath)
	if err != nil {
		return nil, nil, err
	}
	file, err := os.Open(f.corpusPath)
	if err != nil {
		return nil, nil, err
	}
	defer file.Close()
	fields := f.fields
	fields.AutoID = true
	r := corpus.NewReader(file, fields)
	var ids []string
	var vecs [][]float32
	const batch = 1024
	texts := make([]string, 0, batch)
	bar := newProgress(-1, "encoding")
	defer bar.Finish()
	dim := m.Dim()
	flush := func() error {
		if len(texts) == 0 {
			return nil
		}
		flat := make([]float32, len(texts)*dim)
		dst := make([][]float32, len(texts))
		for i := range dst {
			dst[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
		}
		if err := m.EncodeBatch(cmd.Context(), encoder.DocTower, texts, dst); err != nil {
			return err
		}
		vecs = append(vecs, dst...)
		bar.Add(len(texts))
		texts = texts[:0]
		return nil
	}
	for {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f.corpusPath, err)
		}
		ids = append(ids, d.ID)
		texts = append(texts, d.Body())
		if len(texts) == batch {
			if err := flush(); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, nil, err
	}
	return ids, vecs, nil
}

// loadIndexVectors reads every stored vector of a collection.
func loadIndexVectors(cmd *cobra.Command, dir string) ([]string, [][]float32, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, nil, fmt.Errorf("--index %s: not a collection directory", dir)
	}
	c, err := index.Open(dir, index.Options{ReadOnly: true})
	if err != nil {
		return nil, nil, fmt.Errorf("open collection %s: %w", dir, err)
	}
	defer c.Close()
	dim := c.Dim()
	var internal []uint32
	var vecs [][]float32
	bar := newProgress(int64(c.Len()), "reading vectors")
	defer bar.Finish()
	err = c.Iterate(cmd.Context(), func(id uint32, v []float32) error {
		internal = append(internal, id)
		vecs = append(vecs, append(make([]float32, 0, dim), v...))
		bar.Add(1)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read vectors of %s: %w", dir, err)
	}
	ids := make([]string, len(internal))
	for i, id := range internal {
		if ids[i], err = c.DocID(id); err != nil {
			return nil, nil, fmt.Errorf("document id of %d in %s: %w", id, dir, err)
		}
	}
	return ids, vecs, nil
}

func runDedup(cmd *cobra.Command, f dedupFlags) error {
	start := time.Now()
	var ids []string
	var vecs [][]float32
	var err error
	sum := dedupSummary{Threshold: f.threshold}
	if f.indexDir != "" && f.k == 0 && f.l == 0 {
		if handled, err := dedupFromTables(cmd, f, start); handled || err != nil {
			return err
		}
	}
	if f.corpusPath != "" {
		sum.Source = f.corpusPath
		ids, vecs, err = loadCorpusVectors(cmd, f)
	} else {
		sum.Source = f.indexDir
		ids, vecs, err = loadIndexVectors(cmd, f.indexDir)
	}
	if err != nil {
		return err
	}
	sum.LoadSeconds = time.Since(start).Seconds()
	if len(vecs) == 0 {
		return fmt.Errorf("%s holds no documents", sum.Source)
	}
	// Zero vectors (e.g. texts the model maps to nothing) have no direction
	// to hash: leave them out and say so.
	keep := make([]uint32, 0, len(vecs))
	for i, v := range vecs {
		if vec.Norm(v) > 0 && vec.Finite(v) {
			vec.Normalize(v)
			keep = append(keep, uint32(i))
		}
	}
	sum.Skipped = len(vecs) - len(keep)
	if sum.Skipped > 0 && !globals.quiet {
		fmt.Fprintf(cmd.ErrOrStderr(), "twin: %d documents have a zero or non-finite vector and are left out\n", sum.Skipped)
	}
	t1 := time.Now()
	rng := rand.New(rand.NewPCG(f.seed, 17))
	var sample []float64
	if len(keep) >= 2 {
		for range 4000 {
			a, b := keep[rng.IntN(len(keep))], keep[rng.IntN(len(keep))]
			if a != b {
				sample = append(sample, float64(vec.Dot(vecs[a], vecs[b])))
			}
		}
	}
	plan, err := choosePlan(f, len(keep), sample)
	if err != nil {
		return err
	}
	sum.Plan = plan
	x, err := lsh.New(lsh.Options{Dim: len(vecs[0]), K: plan.K, L: plan.L, Probes: plan.Probes, Seed: f.seed,
		Source: func(id uint32) []float32 { return vecs[id] }})
	if err != nil {
		return usageError{err}
	}
	kept := make([][]float32, len(keep))
	for i, id := range keep {
		kept[i] = vecs[id]
	}
	if err := x.AddBatch(cmd.Context(), keep, kept); err != nil {
		return err
	}
	sum.HashSeconds = time.Since(t1).Seconds()
	return groupAndReport(cmd, f, x, func(id uint32) string { return ids[id] }, len(keep), sum, start)
}

// dedupFromTables runs dedup over a collection's saved LSH tables when
// they exist, match the store and were planned for a threshold at or below
// --threshold (so recall at --threshold is at least the planned one). It
// reports handled=false, saying why on stderr, when the caller must hash
// in memory instead; with --save-tables it builds and saves them first.
func dedupFromTables(cmd *cobra.Command, f dedupFlags, start time.Time) (handled bool, err error) {
	if st, err := os.Stat(f.indexDir); err != nil || !st.IsDir() {
		return false, fmt.Errorf("--index %s: not a collection directory", f.indexDir)
	}
	// Read-only even with --save-tables: the tables are a file of their
	// own, bound to the store's generation, and the store is not written.
	c, err := index.Open(f.indexDir, index.Options{ReadOnly: true, SkipGraph: true})
	if err != nil {
		return false, fmt.Errorf("open collection %s: %w", f.indexDir, err)
	}
	defer c.Close()
	sum := dedupSummary{Threshold: f.threshold, Source: f.indexDir}
	t1 := time.Now()
	t, err := index.LoadLSH(cmd.Context(), c)
	if f.saveTables && (err != nil || t.Threshold > f.threshold) {
		if t, err = index.BuildLSH(cmd.Context(), c, f.threshold, f.seed); err != nil {
			return false, err
		}
		if err := index.SaveLSH(c, t); err != nil {
			return false, err
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "twin: saved LSH tables for cosine %g in %s\n", f.threshold, filepath.Join(f.indexDir, index.LSHFile))
	}
	switch {
	case errors.Is(err, index.ErrNoLSH):
		fmt.Fprintf(cmd.ErrOrStderr(), "twin: %s has no LSH tables (built by an older twin, or with --lsh-threshold 0); hashing in memory — add --save-tables to keep them in the collection\n", f.indexDir)
		return false, nil
	case errors.Is(err, index.ErrStaleLSH), errors.Is(err, frame.ErrCorrupt):
		fmt.Fprintf(cmd.ErrOrStderr(), "twin: ignoring the collection's LSH tables (%v); hashing in memory — add --save-tables to rebuild them\n", err)
		return false, nil
	case err != nil:
		return false, err
	case t.Threshold > f.threshold:
		fmt.Fprintf(cmd.ErrOrStderr(), "twin: the collection's LSH tables are planned for cosine %g, above --threshold %g; hashing in memory — add --save-tables to replan them\n", t.Threshold, f.threshold)
		return false, nil
	}
	sum.LoadSeconds = t1.Sub(start).Seconds()
	o := t.Index().Options()
	sum.Plan = lsh.Plan{K: o.K, L: o.L, Probes: o.Probes, Recall: lsh.AnyProb(f.threshold, o.K, o.L, 0)}
	sum.HashSeconds = time.Since(t1).Seconds()
	sum.Skipped = c.Len() - t.Index().Len()
	docID := func(id uint32) string {
		d, err := c.DocID(id)
		if err != nil {
			return fmt.Sprintf("#%d", id)
		}
		return d
	}
	return true, groupAndReport(cmd, f, t.Index(), docID, t.Index().Len(), sum, start)
}

// groupAndReport runs x's dedup, writes the groups and prints the summary.
func groupAndReport(cmd *cobra.Command, f dedupFlags, x *lsh.Index, docID func(uint32) string, n int, sum dedupSummary, start time.Time) error {
	var err error
	write := func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		enc := json.NewEncoder(bw)
		bar := newProgress(int64(n), "dedup")
		st, err := x.Dedup(cmd.Context(), lsh.DedupOptions{Threshold: f.threshold, Representative: lsh.Representative(f.rep),
			Progress: func(done int) { bar.Set(done) }}, func(g lsh.Group) error {
			if w == io.Discard {
				return nil
			}
			out := dedupGroup{Group: g.ID, Representative: docID(g.Representative), Members: make([]dedupMember, len(g.Members))}
			for i, m := range g.Members {
				out.Members[i] = dedupMember{ID: docID(m.ID), Similarity: m.Similarity}
			}
			return enc.Encode(out)
		})
		bar.Finish()
		if err != nil {
			return err
		}
		sum.Docs, sum.Groups, sum.DocsInGroups = st.Docs, st.Groups, st.DocsInGroups
		sum.Pairs, sum.Comparisons, sum.AllPairs, sum.CandidateFraction = st.Pairs, st.Comparisons, st.AllPairs, st.CandidateFraction
		sum.DedupSeconds = st.Elapsed.Seconds()
		return bw.Flush()
	}
	summaryTo := cmd.OutOrStdout()
	switch f.out {
	case "":
		err = write(io.Discard)
	case "-":
		err = write(cmd.OutOrStdout())
		summaryTo = cmd.ErrOrStderr()
	default:
		sum.Out = f.out
		err = frame.WriteFileAtomic(f.out, write)
	}
	if err != nil {
		return err
	}
	sum.TotalSeconds = time.Since(start).Seconds()
	return printDedupSummary(summaryTo, sum)
}

func printDedupSummary(w io.Writer, s dedupSummary) error {
	if globals.json {
		m := map[string]any{
			"source": s.Source, "docs": s.Docs, "skipped_zero_vectors": s.Skipped, "groups": s.Groups,
			"docs_in_groups": s.DocsInGroups, "pairs": s.Pairs, "comparisons": s.Comparisons, "all_pairs": s.AllPairs,
			"candidate_fraction": s.CandidateFraction, "threshold": s.Threshold, "plan": jsonPlan(s.Plan),
			"load_seconds": s.LoadSeconds, "hash_seconds": s.HashSeconds, "dedup_seconds": s.DedupSeconds, "total_seconds": s.TotalSeconds,
		}
		if s.Out != "" {
			m["out"] = s.Out
		}
		return printJSON(w, m)
	}
	t := newTable(w)
	t.row("source", s.Source)
	t.row("documents", s.Docs)
	if s.Skipped > 0 {
		t.row("left out (zero vector)", s.Skipped)
	}
	t.row("groups", s.Groups)
	t.row("documents in groups", s.DocsInGroups)
	t.row("verified pairs", s.Pairs)
	t.row("comparisons", fmt.Sprintf("%d of %d pairs (%.4f%%)", s.Comparisons, s.AllPairs, 100*s.CandidateFraction))
	t.row("threshold", s.Threshold)
	t.row("lsh", fmt.Sprintf("K=%d L=%d probes=%d (predicted recall at threshold %.4f)", s.Plan.K, s.Plan.L, s.Plan.Probes, s.Plan.Recall))
	t.row("time", fmt.Sprintf("%.2fs (load %.2fs, hash %.2fs, dedup %.2fs)", s.TotalSeconds, s.LoadSeconds, s.HashSeconds, s.DedupSeconds))
	if s.Out != "" {
		t.row("groups written to", s.Out)
	}
	return t.flush()
}
