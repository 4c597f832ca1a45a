package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/eval"
	"github.com/twinsearch/twin/index/bm25"
	"github.com/twinsearch/twin/internal/corpus"
	"github.com/twinsearch/twin/retriever"
	"github.com/twinsearch/twin/trainer"
)

func init() { register(newEvalCmd) }

// evalMode is one row of twin eval: a name and the settings it runs with.
type evalMode struct {
	name string
	s    retriever.Settings
}

// parseModes reads --mode: bm25, dense, hybrid (the collection's tuned or
// default fusion), hybrid-rrf, hybrid-weighted, hybrid-rerank.
func parseModes(list string, base retriever.Settings) ([]evalMode, error) {
	var out []evalMode
	for _, m := range strings.Split(list, ",") {
		m = strings.TrimSpace(m)
		s := base
		switch m {
		case "bm25":
			s.Mode = retriever.BM25
		case "dense":
			s.Mode = retriever.Dense
		case "hybrid":
			s.Mode = retriever.Hybrid
		case "hybrid-rrf":
			s.Mode, s.Fusion = retriever.Hybrid, retriever.FusionRRF
		case "hybrid-weighted":
			s.Mode, s.Fusion = retriever.Hybrid, retriever.FusionWeighted
		case "hybrid-rerank":
			s.Mode, s.Shape = retriever.Hybrid, retriever.ShapeRerank
		case "":
			continue
		default:
			return nil, fmt.Errorf("--mode %q: want bm25, dense, hybrid, hybrid-rrf, hybrid-weighted or hybrid-rerank", m)
		}
		out = append(out, evalMode{m, s})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--mode: no modes")
	}
	return out, nil
}

// memDocs serves titles and texts of an in-memory corpus.
type memDocs map[string]corpus.Doc

func (m memDocs) Doc(_ context.Context, id string) (string, string, bool, error) {
	d, ok := m[id]
	return d.Title, d.Text, ok, nil
}

// buildInMemory indexes DIR/corpus.jsonl for evaluation without a
// collection: BM25 always, and exact dense vectors when a model is given.
func buildInMemory(ctx context.Context, beir, modelPath string, bopt bm25.Options) (*sources, memDocs, error) {
	f, err := os.Open(eval.CorpusPath(beir))
	if err != nil {
		return nil, nil, fmt.Errorf("--beir: %w", err)
	}
	defer f.Close()
	docs, err := corpus.ReadAll(bufio.NewReaderSize(f, 1<<20), corpus.Fields{})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", eval.CorpusPath(beir), err)
	}
	lex, err := bm25.Open("", bopt)
	if err != nil {
		return nil, nil, err
	}
	s := &sources{closers: []func() error{lex.Close}}
	bar := newProgress(int64(len(docs)), "bm25 index")
	const batch = 2000
	mem := memDocs{}
	for i := 0; i < len(docs); i += batch {
		var b []bm25.Doc
		for _, d := range docs[i:min(i+batch, len(docs))] {
			b = append(b, bm25.Doc{ID: d.ID, Title: d.Title, Text: d.Text})
			mem[d.ID] = d
		}
		if err := lex.Upsert(ctx, b); err != nil {
			s.close()
			return nil, nil, err
		}
		bar.Add(len(b))
	}
	bar.Finish()
	s.src.Lexical = retriever.BM25Source(lex)
	s.docs = mem
	if modelPath != "" {
		m, err := encoder.Load(modelPath)
		if err != nil {
			s.close()
			return nil, nil, err
		}
		texts := make([]string, len(docs))
		vecs := make([][]float32, len(docs))
		for i := range docs {
			texts[i] = docs[i].Body()
			vecs[i] = make([]float32, m.Dim())
		}
		bar := newProgress(int64(len(docs)), "encode docs")
		const eb = 1024
		for i := 0; i < len(texts); i += eb {
			j := min(i+eb, len(texts))
			if err := m.EncodeBatch(ctx, encoder.DocTower, texts[i:j], vecs[i:j]); err != nil {
				s.close()
				return nil, nil, err
			}
			bar.Add(j - i)
		}
		bar.Finish()
		dense := retriever.NewMemVectors(m.Dim())
		for i, d := range docs {
			if err := dense.Upsert(d.ID, vecs[i]); err != nil {
				s.close()
				return nil, nil, err
			}
		}
		s.src.Encoder, s.src.Dense, s.src.Vectors = m, dense, dense
	}
	return s, mem, nil
}

type evalRow struct {
	Mode      string       `json:"mode"`
	Subset    string       `json:"subset,omitempty"`
	Queries   int          `json:"queries"`
	Metrics   eval.Metrics `json:"metrics"`
	MsPerQ    float64      `json:"ms_per_query"`
	Empty     int          `json:"empty_runs,omitempty"`
	Settings  any          `json:"settings"`
	RunFile   string       `json:"run_file,omitempty"`
	SelfHits  int          `json:"self_hits_dropped,omitempty"`
	unseenIDs []string
}

func newEvalCmd() *cobra.Command {
	var (
		dir, beir, split, modes, runOut, unseen string
		depth                                   int
		dropSelf, tune, dryRun                  bool
		devFrac                                 float64
		devSeed                                 uint64
		rf                                      retrievalFlags
	)
	cmd := &cobra.Command{
		Use:   "eval --beir DIR [--index COLL] --split test --mode bm25,dense,hybrid",
		Short: "Score retrieval modes on a BEIR data set (nDCG@10, R@100, MRR@10, MAP@100, ms/query)",
		Long: `Run every query of a BEIR split (DIR/queries.jsonl, DIR/qrels/<split>.tsv)
through each mode and print one table. Metrics follow pytrec_eval / BEIR:
ties in a run are broken by doc id descending, nDCG uses graded gains,
queries without relevant judgements are skipped and counted.

With --index, the collection's BM25 index (COLL/bm25) and vector index are
used; without it, DIR/corpus.jsonl is indexed in memory (BM25, plus exact
dense vectors when --model is given), which takes seconds for SciFact.

--run-out DIR writes one TREC run file per mode (DIR/<mode>.trec), so
trec_eval users can check the figures. --unseen TRAIN adds rows for the
test queries none of whose relevant docs appear in the TRAIN qrels.

--tune picks the hybrid settings (shape, k', RRF k or weighted alpha and
normalisation) with the best nDCG@10 on the split — use a dev split, or
--dev-frac to carve one from train qrels, never test — and writes them to
COLL/retriever.json, where twin search and twin eval read them. --dev-frac F
--dev-seed S selects exactly the queries twin train --dev-frac F --seed S
held out, so a supervised model is tuned on queries it never trained on.`,
		Example: `  twin eval --beir ../shared/data/scifact --split test --mode bm25
  twin eval --beir data/scifact --model model.twin --mode bm25,dense,hybrid-rrf,hybrid-weighted --unseen train
  twin eval --index ./coll --beir data/scifact --split train --dev-frac 0.2 --tune
  twin eval --index ./coll --beir data/scifact --split test --mode bm25,dense,hybrid --run-out runs/ --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if beir == "" {
				return usagef("--beir is required")
			}
			if depth < 1 {
				return usagef("--depth %d: want >= 1", depth)
			}
			if devFrac < 0 || devFrac >= 1 {
				return usagef("--dev-frac %v: want a fraction in [0, 1)", devFrac)
			}
			if tune && dir == "" && !dryRun {
				return usagef("--tune writes COLL/retriever.json: give --index COLL (or --dry-run)")
			}
			base, err := rf.settings(cmd)
			if err != nil {
				return err
			}
			bopt, err := rf.bm25Options(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			ds, err := eval.LoadBEIR(beir, split)
			if err != nil {
				return err
			}
			qrels := ds.Qrels
			if devFrac > 0 {
				// the carve of twin train --dev-frac (same seed): tune only on
				// queries a supervised model did not train on
				if _, qrels, err = trainer.SplitQrels(qrels, devFrac, devSeed); err != nil {
					return usageError{err}
				}
			}
			var src *sources
			var ids map[string]struct{}
			if dir != "" {
				if src, err = openCollection(ctx, dir, rf.modelPath, bopt); err != nil {
					return err
				}
				if _, err := os.Stat(eval.CorpusPath(beir)); err == nil {
					if ids, err = eval.CorpusIDs(beir); err != nil {
						return err
					}
				}
			} else {
				var mem memDocs
				if src, mem, err = buildInMemory(ctx, beir, rf.modelPath, bopt); err != nil {
					return err
				}
				ids = map[string]struct{}{}
				for id := range mem {
					ids[id] = struct{}{}
				}
			}
			defer src.close()
			stderr := cmd.ErrOrStderr()
			if ids != nil {
				if n, ex := qrels.CheckDocs(func(id string) bool { _, ok := ids[id]; return ok }); n > 0 {
					fmt.Fprintf(stderr, "note: %d qrels entries name doc ids not in the corpus (e.g. %s); they count as relevant but unretrievable\n", n, strings.Join(ex, ", "))
				}
			}
			var qids []string
			missing := 0
			for qid := range qrels {
				if _, ok := ds.Queries[qid]; ok {
					qids = append(qids, qid)
				} else {
					missing++
				}
			}
			sort.Strings(qids)
			if missing > 0 {
				fmt.Fprintf(stderr, "note: %d queries of the qrels have no text in queries.jsonl (skipped, not averaged)\n", missing)
				q2 := eval.Qrels{}
				for _, id := range qids {
					q2[id] = qrels[id]
				}
				qrels = q2
			}
			r, err := retriever.New(src.src, src.settings)
			if err != nil {
				return err
			}
			if tune {
				if src.src.Dense == nil || src.src.Encoder == nil || src.src.Lexical == nil {
					return usagef("--tune needs both BM25 and dense vectors (--index with both, or --model)")
				}
				return runTune(ctx, cmd.OutOrStdout(), r, ds, qrels, qids, base, dir, dryRun, split, devFrac, devSeed)
			}
			ms, err := parseModes(modes, base)
			if err != nil {
				return usageError{err}
			}
			for _, m := range ms {
				if m.s.Mode != retriever.BM25 && (src.src.Dense == nil || src.src.Encoder == nil) {
					if dir == "" {
						return usagef("mode %s needs document vectors: pass --model to encode the corpus in memory, or --index", m.name)
					}
					return usagef("mode %s needs the collection's vector index and a model (--model)", m.name)
				}
			}
			var unseenIDs []string
			if unseen != "" {
				tr, err := eval.LoadBEIR(beir, unseen)
				if err != nil {
					return err
				}
				unseenIDs = eval.Unseen(qrels, tr.Qrels)
			}
			if runOut != "" {
				if err := os.MkdirAll(runOut, 0o755); err != nil {
					return err
				}
			}
			var rows []evalRow
			for _, m := range ms {
				bar := newProgress(int64(len(qids)), m.name)
				run := eval.Run{}
				var spent time.Duration
				var used retriever.Settings
				for _, qid := range qids {
					t0 := time.Now()
					res, err := r.Search(ctx, ds.Queries[qid], depth, m.s)
					spent += time.Since(t0)
					if err == retriever.ErrEmptyQuery {
						bar.Add(1)
						continue // an empty query text retrieves nothing
					}
					if err != nil {
						return fmt.Errorf("mode %s, query %s: %w", m.name, qid, err)
					}
					used = res.Settings
					hits := make([]eval.Hit, len(res.Hits))
					for i, h := range res.Hits {
						hits[i] = eval.Hit{DocID: h.DocID, Score: h.Score}
					}
					run[qid] = hits
					bar.Add(1)
				}
				bar.Finish()
				rep := eval.Evaluate(qrels, run, eval.Options{DropSelfHits: dropSelf})
				row := evalRow{Mode: m.name, Queries: rep.Queries, Metrics: rep.Mean, Empty: rep.EmptyRun, SelfHits: rep.SelfHits,
					MsPerQ: float64(spent.Microseconds()) / 1000 / float64(max(1, len(qids))), Settings: describeSettings(used)}
				if runOut != "" {
					row.RunFile = filepath.Join(runOut, m.name+".trec")
					if err := writeRun(row.RunFile, run, m.name); err != nil {
						return err
					}
				}
				rows = append(rows, row)
				if unseenIDs != nil {
					u := eval.Evaluate(qrels.Subset(unseenIDs), run, eval.Options{DropSelfHits: dropSelf})
					rows = append(rows, evalRow{Mode: m.name, Subset: "unseen", Queries: u.Queries, Metrics: u.Mean, MsPerQ: row.MsPerQ, Settings: row.Settings})
				}
			}
			return printEval(cmd.OutOrStdout(), rows, ds, split, devFrac)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "index", "", "collection directory (default: index --beir's corpus in memory)")
	fl.StringVar(&beir, "beir", "", "BEIR data set directory: corpus.jsonl, queries.jsonl, qrels/<split>.tsv (required)")
	fl.StringVar(&split, "split", "test", "qrels split to evaluate (qrels/<split>.tsv)")
	fl.StringVar(&modes, "mode", "bm25,dense,hybrid", "comma-separated: bm25, dense, hybrid, hybrid-rrf, hybrid-weighted, hybrid-rerank")
	fl.IntVar(&depth, "depth", 100, "hits retrieved per query (R@100 and MAP@100 need 100)")
	fl.StringVar(&runOut, "run-out", "", "directory for TREC run files, one per mode")
	fl.StringVar(&unseen, "unseen", "", "also report the queries whose relevant docs are not in this split's qrels (e.g. train)")
	fl.BoolVar(&dropSelf, "drop-self-hits", true, "drop retrieved docs whose id is the query id, as BEIR does by default (--drop-self-hits=false keeps them)")
	fl.BoolVar(&tune, "tune", false, "pick hybrid settings on this split and write them to COLL/retriever.json")
	fl.BoolVar(&dryRun, "dry-run", false, "with --tune: print the choice, write nothing")
	fl.Float64Var(&devFrac, "dev-frac", 0, "evaluate/tune on the dev queries twin train --dev-frac F holds out of this split (same carve)")
	fl.Uint64Var(&devSeed, "dev-seed", 1, "seed of the --dev-frac carve (twin train's --seed)")
	rf.add(cmd)
	return cmd
}

func describeSettings(s retriever.Settings) string {
	switch s.Mode {
	case retriever.BM25:
		return "bm25"
	case retriever.Dense:
		if s.ExactRerank {
			return fmt.Sprintf("dense exact-rerank k'=%d", s.KPrime)
		}
		return "dense"
	case retriever.Hybrid:
		if s.Fusion == retriever.FusionWeighted {
			return fmt.Sprintf("%s weighted %s alpha=%.2f k'=%d", s.Shape, s.Norm, s.AlphaValue(), s.KPrime)
		}
		return fmt.Sprintf("%s rrf k=%g k'=%d", s.Shape, s.RRFK, s.KPrime)
	}
	return ""
}

func writeRun(path string, run eval.Run, tag string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := eval.WriteTREC(f, run, tag); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

func printEval(w io.Writer, rows []evalRow, ds *eval.Dataset, split string, devFrac float64) error {
	if globals.json {
		return printJSON(w, map[string]any{"beir": ds.Dir, "split": split, "dev_frac": devFrac, "rows": rows})
	}
	t := newTable(w, "mode", "queries", "nDCG@10", "R@100", "MRR@10", "MAP@100", "ms/query", "settings")
	for _, r := range rows {
		name := r.Mode
		if r.Subset != "" {
			name += " (" + r.Subset + ")"
		}
		t.row(name, r.Queries, r.Metrics.NDCG10, r.Metrics.Recall100, r.Metrics.MRR10, r.Metrics.MAP100, fmt.Sprintf("%.2f", r.MsPerQ), r.Settings)
	}
	return t.flush()
}

func runTune(ctx context.Context, w io.Writer, r *retriever.Retriever, ds *eval.Dataset, qrels eval.Qrels, qids []string,
	base retriever.Settings, dir string, dryRun bool, split string, devFrac float64, devSeed uint64) error {
	const maxKPrime = 200
	bar := newProgress(int64(len(qids)), "candidates")
	var qs []retriever.TuneQuery
	for _, qid := range qids {
		c, err := r.Candidates(ctx, ds.Queries[qid], nil, 100, retriever.Settings{Mode: retriever.Hybrid, KPrime: maxKPrime, Ef: base.Ef, ExactRerank: base.ExactRerank})
		if err == retriever.ErrEmptyQuery {
			continue
		}
		if err != nil {
			return fmt.Errorf("tune: query %s: %w", qid, err)
		}
		qs = append(qs, retriever.TuneQuery{QID: qid, Cand: c})
		bar.Add(1)
	}
	bar.Finish()
	res, err := retriever.Tune(qs, qrels, retriever.Grid(maxKPrime))
	if err != nil {
		return err
	}
	best := res[0].Settings
	best.Ef, best.ExactRerank = base.Ef, base.ExactRerank
	where := split
	if devFrac > 0 {
		where = fmt.Sprintf("%.0f%% of %s (dev carve, seed %d)", devFrac*100, split, devSeed)
	}
	note := fmt.Sprintf("tuned on %d queries of %s: nDCG@10 %.4f (%s)", len(qs), where, res[0].Metrics.NDCG10, time.Now().UTC().Format(time.RFC3339))
	if globals.json {
		top := res[:min(10, len(res))]
		out := []map[string]any{}
		for _, t := range top {
			out = append(out, map[string]any{"settings": describeSettings(t.Settings), "metrics": t.Metrics})
		}
		if err := printJSON(w, map[string]any{"best": best, "note": note, "top": out, "written": !dryRun}); err != nil {
			return err
		}
	} else {
		t := newTable(w, "rank", "settings", "nDCG@10", "R@100", "MRR@10")
		for i, x := range res[:min(10, len(res))] {
			t.row(i+1, describeSettings(x.Settings), x.Metrics.NDCG10, x.Metrics.Recall100, x.Metrics.MRR10)
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, note)
	}
	if dryRun {
		return nil
	}
	if err := retriever.SaveSettings(dir, best, note); err != nil {
		return err
	}
	if !globals.json {
		fmt.Fprintf(w, "wrote %s\n", filepath.Join(dir, retriever.SettingsFile))
	}
	return nil
}
