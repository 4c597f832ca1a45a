package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/internal/corpus"
)

func init() {
	register(newModelCmd)
	formatVersionsRegistry["model"] = encoder.FormatVersion
}

// modelFlags are the architecture flags shared by `model init` and `train`.
type modelFlags struct {
	bits       int
	ngrams     string
	bagDim     int
	hidden     string
	activation string
	dim        int
	tying      string
	seed       uint64
	tf         string
	weights    string
}

func (f *modelFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.bits, "bits", 18, "log2 of the number of feature hash buckets (8..24)")
	fl.StringVar(&f.ngrams, "ngrams", "3-5", "character n-gram lengths MIN-MAX, or \"none\"")
	fl.IntVar(&f.bagDim, "bag-dim", 256, "width of the embedding bag")
	fl.StringVar(&f.hidden, "hidden", "256", "comma-separated hidden layer widths after the bag, or \"\" for none")
	fl.StringVar(&f.activation, "activation", "tanh", "hidden activation: tanh, relu or identity")
	fl.IntVar(&f.dim, "dim", 256, "output (embedding) dimension")
	fl.StringVar(&f.tying, "tying", "tied", "tied (Siamese: one tower), untied (two towers) or heads (shared body, two heads)")
	fl.Uint64Var(&f.seed, "seed", 1, "random seed of the initialisation (recorded in the model)")
	fl.StringVar(&f.tf, "tf", "log", "term-frequency transform: log (1+ln tf), raw or binary")
	fl.StringVar(&f.weights, "family-weights", "1,1,1", "weights of word unigrams, word bigrams and character n-grams (negative turns one off)")
}

func (f *modelFlags) config() (encoder.Config, error) {
	cfg := encoder.Config{
		Features: encoder.FeatureConfig{Bits: f.bits, TF: f.tf},
		BagDim:   f.bagDim, Activation: f.activation, Dim: f.dim, Tying: encoder.Tying(f.tying),
	}
	if f.ngrams == "none" {
		cfg.Features.NGramMax = -1
	} else {
		lo, hi, ok := strings.Cut(f.ngrams, "-")
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if !ok || err1 != nil || err2 != nil {
			return cfg, usagef("--ngrams %q: want MIN-MAX such as 3-5, or none", f.ngrams)
		}
		cfg.Features.NGramMin, cfg.Features.NGramMax = a, b
	}
	cfg.Hidden = []int{}
	if strings.TrimSpace(f.hidden) != "" {
		for _, s := range strings.Split(f.hidden, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return cfg, usagef("--hidden %q: want comma-separated widths such as 256 or 512,256", f.hidden)
			}
			cfg.Hidden = append(cfg.Hidden, n)
		}
	}
	ws := strings.Split(f.weights, ",")
	if len(ws) != 3 {
		return cfg, usagef("--family-weights %q: want three numbers (unigram,bigram,char)", f.weights)
	}
	var w [3]float32
	for i, s := range ws {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
		if err != nil || v == 0 {
			return cfg, usagef("--family-weights %q: want three non-zero numbers", f.weights)
		}
		w[i] = float32(v)
	}
	cfg.Features.UnigramWeight, cfg.Features.BigramWeight, cfg.Features.CharWeight = w[0], w[1], w[2]
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return cfg, usageError{err}
	}
	return cfg, nil
}

func newModelCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model",
		Short: "Create and inspect model files",
		Long: `A twin model file is safetensors: the weights of the query and document
towers, readable by numpy and PyTorch, with the whole configuration (feature
hashing scheme, seed, dimensions, tying) and a CRC-32C in its metadata.`,
	}
	cmd.AddCommand(newModelInitCmd(), newModelInfoCmd())
	return cmd
}

func newModelInitCmd() *cobra.Command {
	var mf modelFlags
	var out, idfCorpus string
	var force bool
	cmd := &cobra.Command{
		Use:   "init --out model.twin",
		Short: "Write a randomly initialised model (so the pipeline runs before training)",
		Long: `Write a model with seeded random weights. With --idf-corpus, feature weights
are also multiplied by an IDF computed over that corpus (BEIR JSONL), which
makes even an untrained model a reasonable random projection of TF-IDF.`,
		Example: `  twin model init --out model.twin
  twin model init --out small.twin --bits 16 --hidden "" --dim 128 --seed 7
  twin model init --out idf.twin --idf-corpus corpus.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if out == "" {
				return usagef("--out is required")
			}
			if _, err := os.Stat(out); err == nil && !force {
				return usagef("%s exists (use --force to replace it)", out)
			}
			cfg, err := mf.config()
			if err != nil {
				return err
			}
			m, err := encoder.New(cfg, mf.seed)
			if err != nil {
				return err
			}
			if idfCorpus != "" {
				idf, n, err := corpusIDF(m.Featurizer(), idfCorpus)
				if err != nil {
					return err
				}
				if err := m.SetIDF(idf); err != nil {
					return err
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "IDF from %d documents of %s\n", n, idfCorpus)
			}
			if err := m.Save(out); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			return describeModel(cmd.OutOrStdout(), out, m)
		},
	}
	mf.add(cmd)
	cmd.Flags().StringVarP(&out, "out", "o", "", "model file to write (required)")
	cmd.Flags().StringVar(&idfCorpus, "idf-corpus", "", "BEIR JSONL corpus to compute per-bucket IDF weights from")
	cmd.Flags().BoolVar(&force, "force", false, "replace --out if it exists")
	return cmd
}

// corpusIDF computes smoothed IDF per bucket, ln(1 + N/df) scaled so a
// bucket seen in no document gets the largest weight.
func corpusIDF(f *encoder.Featurizer, path string) ([]float32, int, error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer in.Close()
	df := make([]int32, f.Buckets())
	r := corpus.NewReader(in, corpus.Fields{AutoID: true})
	var fs encoder.Features
	n := 0
	for {
		d, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", path, err)
		}
		f.Featurize(d.Body(), &fs)
		for _, id := range fs.Idx {
			df[id]++
		}
		n++
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("%s: no documents", path)
	}
	idf := make([]float32, len(df))
	for i, c := range df {
		idf[i] = float32(math.Log(1 + float64(n)/float64(c+1)))
	}
	return idf, n, nil
}

func newModelInfoCmd() *cobra.Command {
	var path string
	cmd := &cobra.Command{
		Use:     "info --model model.twin",
		Short:   "Print a model's configuration, fingerprint and size",
		Args:    cobra.NoArgs,
		Example: "  twin model info --model model.twin --json",
		RunE: func(cmd *cobra.Command, args []string) error {
			if path == "" {
				return usagef("--model is required")
			}
			m, err := encoder.Load(path)
			if err != nil {
				return err
			}
			return describeModel(cmd.OutOrStdout(), path, m)
		},
	}
	cmd.Flags().StringVarP(&path, "model", "m", "", "model file (required)")
	return cmd
}

func describeModel(w io.Writer, path string, m *encoder.Model) error {
	var size int64
	if st, err := os.Stat(path); err == nil {
		size = st.Size()
	}
	if globals.json {
		return printJSON(w, map[string]any{
			"path": path, "bytes": size, "fingerprint": m.Fingerprint(),
			"config": m.Config, "idf": m.IDF != nil,
		})
	}
	c := m.Config
	t := newTable(w)
	t.row("model", path)
	t.row("fingerprint", m.Fingerprint())
	t.row("size", fmt.Sprintf("%.1f MiB", float64(size)/(1<<20)))
	t.row("format version", c.Version)
	t.row("features", fmt.Sprintf("2^%d buckets, seed %#x, char n-grams %d-%d, tf %s, weights %g/%g/%g, max tokens %d",
		c.Features.Bits, c.Features.HashSeed, c.Features.NGramMin, c.Features.NGramMax, c.Features.TF,
		c.Features.UnigramWeight, c.Features.BigramWeight, c.Features.CharWeight, c.Features.MaxTokens))
	t.row("idf", m.IDF != nil)
	t.row("tower", fmt.Sprintf("bag %d -> hidden %v (%s) -> %d, %s", c.BagDim, c.Hidden, c.Activation, c.Dim, c.Tying))
	t.row("init seed", c.InitSeed)
	return t.flush()
}
