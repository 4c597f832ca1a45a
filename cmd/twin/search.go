package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/index"
	"github.com/twinsearch/twin/index/bm25"
	"github.com/twinsearch/twin/retriever"
)

func init() { register(newSearchCmd) }

// docSource returns a document's title and text for display.
type docSource interface {
	Doc(ctx context.Context, id string) (title, text string, ok bool, err error)
}

// denseCollection is the vector side of a collection directory.
type denseCollection struct {
	Dense   retriever.DenseIndex
	Vectors retriever.VectorStore // optional: exact rerank
	Docs    docSource             // optional: titles and snippets
	Model   *encoder.Model        // optional: the collection's model (query tower)
	// Fingerprint is the model fingerprint the vectors were made with ("" = unknown).
	Fingerprint string
	Close       func() error
}

// openDenseCollection opens the vector side of a collection built by twin
// build (Badger + HNSW under DIR, read-only) and the model its manifest
// names, when that file is still there with the recorded fingerprint. It
// returns nil, nil when DIR holds no vector collection (a BM25-only DIR).
func openDenseCollection(ctx context.Context, dir string) (*denseCollection, error) {
	if _, err := os.Stat(filepath.Join(dir, index.ManifestFile)); err != nil {
		return nil, nil
	}
	c, err := index.Open(dir, index.Options{ReadOnly: true, Logger: slog.Default()})
	if err != nil {
		return nil, err
	}
	rc := retriever.Collection{C: c}
	dc := &denseCollection{Dense: rc, Vectors: rc, Docs: rc, Close: c.Close}
	man := c.Manifest()
	if man.ModelPath != "" {
		m, err := encoder.Load(man.ModelPath)
		switch {
		case err != nil:
			slog.Warn("the collection's model cannot be loaded; dense queries need --model", "model", man.ModelPath, "err", err)
		case man.ModelFingerprint != "" && m.Fingerprint() != man.ModelFingerprint:
			slog.Warn("the model file changed since the collection was built; dense queries need --model", "model", man.ModelPath)
		default:
			dc.Model = m
		}
	}
	dc.Fingerprint = man.ModelFingerprint
	return dc, nil
}

// sources is what search and eval retrieve from.
type sources struct {
	src      retriever.Sources
	docs     docSource
	settings retriever.Settings // the collection's tuned retriever.json
	note     string
	closers  []func() error
}

func (s *sources) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// openCollection opens DIR: the BM25 index in DIR/bm25, the vector side
// through openDenseCollection, and DIR/retriever.json. modelPath, when set,
// overrides the collection's model for query encoding.
func openCollection(ctx context.Context, dir, modelPath string, bopt bm25.Options) (*sources, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("--index %s: not a collection directory", dir)
	}
	s := &sources{}
	bopt.NoCreate = true
	lex, err := bm25.Open(retriever.BM25Dir(dir), bopt)
	switch {
	case errors.Is(err, bm25.ErrNotExist):
		// a collection without BM25: dense only
	case err != nil:
		return nil, err
	default:
		s.src.Lexical = retriever.BM25Source(lex)
		s.closers = append(s.closers, lex.Close)
	}
	fingerprint := ""
	{
		dc, err := openDenseCollection(ctx, dir)
		if err != nil {
			s.close()
			return nil, err
		}
		if dc != nil {
			fingerprint = dc.Fingerprint
			s.src.Dense, s.src.Vectors, s.docs = dc.Dense, dc.Vectors, dc.Docs
			if dc.Model != nil {
				s.src.Encoder = dc.Model
			}
			if dc.Close != nil {
				s.closers = append(s.closers, dc.Close)
			}
		}
	}
	if modelPath != "" {
		m, err := encoder.Load(modelPath)
		if err != nil {
			s.close()
			return nil, err
		}
		if fingerprint != "" && m.Fingerprint() != fingerprint {
			s.close()
			return nil, fmt.Errorf("--model %s (fingerprint %s) is not the model %s was built with (%s)", modelPath, m.Fingerprint(), dir, fingerprint)
		}
		s.src.Encoder = m
	}
	if s.src.Lexical == nil && s.src.Dense == nil {
		s.close()
		return nil, fmt.Errorf("%s holds neither a BM25 index (%s) nor a vector index: build it with twin build", dir, retriever.BM25Dir(dir))
	}
	s.settings, s.note, err = retriever.LoadSettings(dir)
	if err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// retrievalFlags are the settings flags search and eval share.
type retrievalFlags struct {
	fusion, shape, norm string
	alpha, rrfK         float64
	kPrime, ef          int
	exact               bool
	collapse            float64
	k1, b               float64
	modelPath           string
}

func (f *retrievalFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.fusion, "fusion", "", "hybrid fusion: rrf or weighted (default: the collection's tuned setting, else rrf)")
	fl.StringVar(&f.shape, "shape", "", "hybrid shape: union (both candidate lists), rerank (BM25 scores the dense candidates) or full (union, every candidate scored by both)")
	fl.StringVar(&f.norm, "norm", "", "score normalisation for weighted fusion: minmax or zscore")
	fl.Float64Var(&f.alpha, "alpha", -1, "dense weight of weighted fusion, in [0, 1] (default: tuned, else 0.5)")
	fl.Float64Var(&f.rrfK, "rrf-k", 0, "reciprocal-rank fusion constant k (default: tuned, else 60)")
	fl.IntVar(&f.kPrime, "kprime", 0, "candidates per source before fusion (default: tuned, else max(100, k))")
	fl.IntVar(&f.ef, "ef", 0, "HNSW search breadth (default: the index's, raised to k')")
	fl.BoolVar(&f.exact, "exact", false, "rerank dense candidates with exact dot products of the stored vectors")
	fl.Float64Var(&f.collapse, "collapse", 0, "fold near-duplicate hits whose vectors have cosine >= this into the better one (0: off; e.g. 0.95)")
	fl.Float64Var(&f.k1, "bm25-k1", 0, "BM25 k1 (default 1.2)")
	fl.Float64Var(&f.b, "bm25-b", 0, "BM25 b (default 0.75)")
	fl.StringVarP(&f.modelPath, "model", "m", "", "model file for query encoding (default: the collection's model)")
}

func (f *retrievalFlags) settings(cmd *cobra.Command) (retriever.Settings, error) {
	s := retriever.Settings{Fusion: f.fusion, Shape: f.shape, Norm: retriever.Norm(f.norm),
		RRFK: f.rrfK, KPrime: f.kPrime, Ef: f.ef, ExactRerank: f.exact, Collapse: f.collapse}
	if cmd.Flags().Changed("alpha") {
		a := f.alpha
		s.Alpha = &a
	}
	if err := s.Validate(); err != nil {
		return s, usageError{err}
	}
	return s, nil
}

func (f *retrievalFlags) bm25Options(cmd *cobra.Command) (bm25.Options, error) {
	o := bm25.Options{K1: f.k1, B: f.b, NoLengthNorm: f.b == 0 && cmd.Flags().Changed("bm25-b")}
	if err := o.Validate(); err != nil {
		return o, usageError{err}
	}
	return o, nil
}

// parseVector reads "0.1,0.2,..." (spaces allowed).
func parseVector(s string) ([]float32, error) {
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
	if len(parts) == 0 {
		return nil, fmt.Errorf("--vector: no values")
	}
	v := make([]float32, len(parts))
	for i, p := range parts {
		x, err := strconv.ParseFloat(p, 32)
		if err != nil {
			return nil, fmt.Errorf("--vector value %d %q is not a number", i+1, p)
		}
		v[i] = float32(x)
	}
	return v, nil
}

func newSearchCmd() *cobra.Command {
	var (
		dir, mode, vector, queryFlag string
		k, snippet                   int
		explain                      bool
		rf                           retrievalFlags
	)
	cmd := &cobra.Command{
		Use:   `search --index DIR [--mode dense|bm25|hybrid] [-k 10] "query"`,
		Short: "Answer a dense, BM25 or hybrid query over a collection",
		Long: `Search a collection built by twin build and print the ranked hits with
their title, a snippet and scores.

Modes: dense (query tower -> HNSW top k' -> optional --exact rerank),
bm25 (the collection's BM25 index in DIR/bm25), hybrid (both, fused by
reciprocal rank or by a weighted sum of normalised scores). The default
mode and fusion settings come from DIR/retriever.json when twin eval --tune
wrote one; flags override them. --explain shows each source's rank and
score behind every fused score.

Queries are trimmed; an empty query is an error and a query longer than
2048 characters is cut there. --vector takes a raw query vector
(comma-separated floats, normalised here) instead of encoding text; with a
text query too, hybrid uses the text for BM25.`,
		Example: `  twin search --index ./coll "does vitamin c prevent colds"
  twin search --index ./coll --mode bm25 -k 5 --explain "hash table"
  twin search --index ./coll --mode hybrid --fusion weighted --alpha 0.3 --json "query"
  twin search --index ./coll --mode dense --vector "0.1,0.3,-0.2,..."`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("--index is required")
			}
			if len(args) == 1 && queryFlag != "" {
				return usagef("give the query as an argument or with --query, not both")
			}
			query := queryFlag
			if len(args) == 1 {
				query = args[0]
			}
			if query == "" && vector == "" {
				return usagef("give a query (or --vector)")
			}
			if k < 1 {
				return usagef("-k %d: want >= 1", k)
			}
			s, err := rf.settings(cmd)
			if err != nil {
				return err
			}
			if mode != "" {
				s.Mode = retriever.Mode(mode)
				if err := s.Validate(); err != nil {
					return usageError{err}
				}
			}
			bopt, err := rf.bm25Options(cmd)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			src, err := openCollection(ctx, dir, rf.modelPath, bopt)
			if err != nil {
				return err
			}
			defer src.close()
			r, err := retriever.New(src.src, src.settings)
			if err != nil {
				return err
			}
			var res *retriever.Result
			if vector != "" {
				v, err := parseVector(vector)
				if err != nil {
					return usageError{err}
				}
				res, err = r.SearchVector(ctx, query, v, k, s)
				if err != nil {
					return err
				}
			} else if res, err = r.Search(ctx, query, k, s); err != nil {
				return err
			}
			return printResult(ctx, cmd.OutOrStdout(), res, src.docs, explain, snippet)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&dir, "index", "", "collection directory (required)")
	fl.StringVar(&mode, "mode", "", "dense, bm25 or hybrid (default: tuned, else hybrid when the collection has both)")
	fl.IntVarP(&k, "k", "k", 10, "number of hits")
	fl.BoolVar(&explain, "explain", false, "show each source's rank and score for every hit")
	fl.StringVar(&queryFlag, "query", "", "the query text (instead of the argument)")
	fl.StringVar(&vector, "vector", "", "raw query vector, comma-separated floats (dense side)")
	fl.IntVar(&snippet, "snippet", 160, "snippet length in characters (0: none)")
	rf.add(cmd)
	return cmd
}

type jsonHit struct {
	Rank       int                      `json:"rank"`
	ID         string                   `json:"id"`
	Score      float64                  `json:"score"`
	Title      string                   `json:"title,omitempty"`
	Snippet    string                   `json:"snippet,omitempty"`
	Sources    []retriever.Contribution `json:"sources,omitempty"`
	Duplicates []string                 `json:"duplicates,omitempty"`
}

func printResult(ctx context.Context, w io.Writer, res *retriever.Result, docs docSource, explain bool, snippetLen int) error {
	hits := make([]jsonHit, len(res.Hits))
	for i, h := range res.Hits {
		hits[i] = jsonHit{Rank: i + 1, ID: h.DocID, Score: h.Score, Sources: h.Sources, Duplicates: h.Duplicates}
		if docs != nil {
			title, text, ok, err := docs.Doc(ctx, h.DocID)
			if err != nil {
				return err
			}
			if ok {
				hits[i].Title = oneLine(title, 80)
				if snippetLen > 0 {
					hits[i].Snippet = oneLine(text, snippetLen)
				}
			}
		}
	}
	if globals.json {
		return printJSON(w, map[string]any{"mode": res.Mode, "k": res.K, "truncated": res.Truncated, "settings": res.Settings, "hits": hits})
	}
	if res.Truncated {
		fmt.Fprintf(w, "(query cut to %d characters)\n", retriever.MaxQueryRunes)
	}
	if len(hits) == 0 {
		fmt.Fprintln(w, "no hits")
		return nil
	}
	header := []any{"#", "id", "score"}
	if explain {
		for _, c := range hits[0].Sources {
			header = append(header, c.Source)
		}
	}
	header = append(header, "title / snippet")
	t := newTable(w, header...)
	for _, h := range hits {
		row := []any{h.Rank, h.ID, fmt.Sprintf("%.4f", h.Score)}
		if explain {
			for _, c := range h.Sources {
				if c.Rank == 0 {
					row = append(row, "-")
					continue
				}
				cell := fmt.Sprintf("#%d %.4f", c.Rank, c.Score)
				if res.Mode == retriever.Hybrid {
					cell += fmt.Sprintf(" (+%.4f)", c.Part)
				}
				row = append(row, cell)
			}
		}
		text := h.Title
		if h.Snippet != "" {
			if text != "" {
				text += " — "
			}
			text += h.Snippet
		}
		if len(h.Duplicates) > 0 {
			text += fmt.Sprintf(" [+%d near-duplicates: %s]", len(h.Duplicates), strings.Join(h.Duplicates, ", "))
		}
		row = append(row, text)
		t.row(row...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if explain && res.Mode == retriever.Hybrid {
		s := res.Settings
		if s.Fusion == retriever.FusionWeighted {
			fmt.Fprintf(w, "fusion: weighted, %s-normalised, alpha %.2f (dense) / %.2f (bm25); shape %s, k' %d\n", s.Norm, s.AlphaValue(), 1-s.AlphaValue(), s.Shape, s.KPrime)
		} else {
			fmt.Fprintf(w, "fusion: reciprocal rank, score = sum 1/(%g + rank); shape %s, k' %d\n", s.RRFK, s.Shape, s.KPrime)
		}
	}
	return nil
}

// oneLine collapses white space and cuts s to n characters.
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
