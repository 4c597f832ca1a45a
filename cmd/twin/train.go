package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/eval"
	"github.com/twinsearch/twin/trainer"
)

func init() { register(newTrainCmd) }

type trainFlags struct {
	out, initModel, config           string
	bits, bagDim, dim                int
	hidden, activation, tying        string
	idf                              bool
	pairs, triplets                  []string
	columns, preset                  string
	beir, split, corpus              string
	weights                          string
	wholeDoc                         bool
	titleProb, cropMin, cropMax      float64
	devPairs, devBeirSplit           string
	devFrac                          float64
	opt                              trainer.Options
	temperature, margin, scale, bias float64
	symmetric, learnScale            bool
	distance                         string
	hiddenSet                        bool
	modelSeed                        uint64
}

func newTrainCmd() *cobra.Command {
	var f trainFlags
	cmd := &cobra.Command{
		Use:   "train --out DIR (--corpus FILE | --beir DIR | --pairs FILE ...)",
		Short: "Train query and document encoders with contrastive learning",
		Long: `Train a twin-tower encoder on your data and write it to DIR/model.safetensors.

Data (several may be mixed; --weights gives their sampling weights in the
order pairs..., triplets..., beir, corpus; default: proportional to size):
  --pairs FILE      pairs with a label or score (TSV/CSV/JSONL, --columns or --preset)
  --triplets FILE   anchor, positive, negative (--columns a=..,b=..,neg=..)
  --beir DIR        (query, relevant doc) pairs of DIR/qrels/<--split>.tsv
  --corpus FILE     self-supervised pairs from a BEIR corpus.jsonl: random crops, title <-> body
Labels: 1 = similar, 0 = dissimilar; graded scores are rescaled to [0, 1].

Dev evaluation (early stopping, best model kept): --dev-pairs FILE (Spearman for
scores, F1 at the best threshold for binary labels), or for --beir a dev split
carved from the training qrels (--dev-frac, default 0.1) or --dev-split NAME.

Losses: ` + strings.Join(trainer.LossNames, ", ") + `.
The defaults are the configuration measured best on SciFact (bench/RESULTS.md):
BCE with a learnt scale, an IDF-weighted 512-wide bag, no hidden layer, 512-d
output, embedding learning rate 0.1. DESIGN.md's tower is --hidden 256
--bag-dim 256 --dim 256 --idf=false --loss infonce --emb-lr 0.01. For graded
pair scores (STS) use --loss mse or cosent.

Every flag can also come from --config FILE.json whose keys are flag names
(e.g. {"loss": "cosent", "lr": 2e-4, "pairs": ["a.tsv"]}); flags given on the
command line win. Kill it at any moment and rerun with --resume to continue.`,
		Example: `  twin train --corpus corpus.jsonl --out run1 --steps 400
  twin train --beir data/scifact --corpus data/scifact/corpus.jsonl --out run2 --steps 800
  twin train --pairs sts-train.csv --preset stsb --dev-pairs sts-dev.csv --loss cosent --out sts`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.config != "" {
				if err := applyConfig(cmd.Flags(), f.config); err != nil {
					return usageError{err}
				}
			}
			f.hiddenSet = cmd.Flags().Changed("hidden")
			return runTrain(cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "JSON file of flag values (keys are flag names)")
	fl.StringVarP(&f.out, "out", "o", "", "output directory: model.safetensors, train.jsonl, train.png, checkpoint.bin (required)")
	fl.StringVar(&f.initModel, "init-model", "", "start from this model file instead of a random one")
	fl.IntVar(&f.bits, "bits", 18, "log2 of the feature hash buckets")
	fl.IntVar(&f.bagDim, "bag-dim", 512, "embedding bag width")
	fl.StringVar(&f.hidden, "hidden", "", `hidden layer widths, comma-separated ("" for none: the untrained tower is a random projection of TF-IDF)`)
	fl.StringVar(&f.activation, "activation", "tanh", "hidden activation: tanh, relu or identity")
	fl.IntVar(&f.dim, "dim", 512, "output dimension")
	fl.StringVar(&f.tying, "tying", "tied", "tied (Siamese), untied (two towers) or heads (shared body, own projections)")
	fl.Uint64Var(&f.modelSeed, "model-seed", 1, "seed of the random initialisation")
	fl.BoolVar(&f.idf, "idf", true, "weight features by IDF computed over the corpus (--corpus or the BEIR corpus), else over the pair texts")

	fl.StringArrayVar(&f.pairs, "pairs", nil, "pair file (repeatable)")
	fl.StringArrayVar(&f.triplets, "triplets", nil, "triplet file (repeatable)")
	fl.StringVar(&f.columns, "columns", "", `column spec, e.g. "a=5,b=6,label=4,format=tsv,header=no,min=0,max=5" (a/b/label/neg are 0-based indexes or header names)`)
	fl.StringVar(&f.preset, "preset", "", "column preset: stsb, sick or mrpc")
	fl.StringVar(&f.beir, "beir", "", "BEIR directory (corpus.jsonl, queries.jsonl, qrels/)")
	fl.StringVar(&f.split, "split", "train", "BEIR qrels split to train on")
	fl.StringVar(&f.corpus, "corpus", "", "corpus JSONL for self-supervised pairs")
	fl.StringVar(&f.weights, "weights", "", "comma-separated source weights (pairs..., triplets..., beir, corpus)")
	fl.BoolVar(&f.wholeDoc, "whole-doc", false, "self-supervised: the document side is the whole document, not a crop")
	fl.Float64Var(&f.titleProb, "title-prob", 0, "self-supervised: probability of a (title, body crop) pair (default 0.5; negative: never)")
	fl.Float64Var(&f.cropMin, "crop-min", 0, "self-supervised: shortest crop as a fraction of the document (default 0.1)")
	fl.Float64Var(&f.cropMax, "crop-max", 0, "self-supervised: longest crop as a fraction (default 0.5)")
	fl.StringVar(&f.devPairs, "dev-pairs", "", "dev pair file (same columns as --pairs)")
	fl.Float64Var(&f.devFrac, "dev-frac", 0.1, "BEIR: fraction of training queries held out as dev (0: no dev)")
	fl.StringVar(&f.devBeirSplit, "dev-split", "", "BEIR: use this qrels split as dev instead of carving one")

	o := &f.opt
	fl.StringVar(&o.Loss, "loss", "bce", "loss: "+strings.Join(trainer.LossNames, ", "))
	fl.Float64Var(&f.temperature, "temperature", 0.05, "InfoNCE temperature")
	fl.BoolVar(&f.symmetric, "symmetric", false, "InfoNCE: add the document -> query direction")
	fl.Float64Var(&f.margin, "margin", 0, "contrastive (default 0.5) / triplet (default 0.2) margin")
	fl.StringVar(&f.distance, "distance", "euclidean", "contrastive/triplet distance: euclidean or cosine")
	fl.Float64Var(&f.scale, "scale", 0, "BCE initial scale (default 10) / CoSENT scale (default 20)")
	fl.Float64Var(&f.bias, "bias", 0, "BCE initial bias (default -5)")
	fl.BoolVar(&f.learnScale, "learn-scale", true, "BCE: learn scale and bias (--learn-scale=false keeps them fixed)")
	fl.IntVar(&o.BatchSize, "batch", 256, "batch size (pairs)")
	fl.IntVar(&o.Steps, "steps", 0, "optimiser steps (0: --epochs)")
	fl.Float64Var(&o.Epochs, "epochs", 1, "passes over the data when --steps is 0")
	fl.Float64Var(&o.LR, "lr", 1e-3, "learning rate of the dense layers")
	fl.Float64Var(&o.EmbLR, "emb-lr", 0.1, "learning rate of the embedding table (rows are touched rarely: they need a high one)")
	fl.Float64Var(&o.WeightDecay, "weight-decay", 0.01, "AdamW weight decay of the dense layers")
	fl.Float64Var(&o.EmbWeightDecay, "emb-weight-decay", 0, "AdamW weight decay of the embedding rows touched")
	fl.IntVar(&o.Warmup, "warmup", 0, "warm-up steps (default 5% of the steps)")
	fl.StringVar(&o.Decay, "decay", "linear", "learning-rate decay after warm-up: linear, cosine or none")
	fl.Float64Var(&o.Clip, "clip", 1, "gradient-norm clip (negative: off)")
	fl.Uint64Var(&o.Seed, "seed", 1, "seed of shuffling and crops")
	fl.IntVar(&o.Workers, "workers", 0, "goroutines per step (default: all cores)")
	fl.IntVar(&o.EvalEvery, "eval-every", 0, "dev evaluation every N steps (default steps/10)")
	fl.IntVar(&o.Patience, "patience", 0, "stop after N dev evaluations without improvement (0: never)")
	fl.IntVar(&o.CheckpointEvery, "checkpoint-every", 0, "checkpoint every N steps (0: at the end and on interrupt)")
	fl.BoolVar(&o.Resume, "resume", false, "continue from DIR/checkpoint.bin")
	fl.StringVar(&o.Miner, "mine", "", "BEIR: hard negatives mined with bm25 (once) or model (exact search, refreshed)")
	fl.Float64Var(&o.MineEvery, "mine-every", 1, "--mine model: refresh every N epochs")
	fl.IntVar(&o.MineDepth, "mine-depth", 30, "mined negatives per query")
	fl.IntVar(&o.MineSkip, "mine-skip", 3, "top non-positive ranks skipped when mining")
	return cmd
}

// applyConfig sets every flag not given on the command line from a JSON
// object whose keys are flag names.
func applyConfig(fs *pflag.FlagSet, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("config %s: %v", path, err)
	}
	for k, v := range m {
		fl := fs.Lookup(k)
		if fl == nil {
			return fmt.Errorf("config %s: unknown key %q (keys are flag names)", path, k)
		}
		if fl.Changed {
			continue
		}
		vals := []any{v}
		if arr, ok := v.([]any); ok {
			vals = arr
		}
		for _, x := range vals {
			var s string
			switch t := x.(type) {
			case string:
				s = t
			case float64:
				s = strconv.FormatFloat(t, 'g', -1, 64)
			case bool:
				s = strconv.FormatBool(t)
			default:
				return fmt.Errorf("config %s: key %q: unsupported value %v", path, k, x)
			}
			if err := fl.Value.Set(s); err != nil {
				return fmt.Errorf("config %s: key %q: %v", path, k, err)
			}
		}
	}
	return nil
}

func parseColumns(spec, preset string) (trainer.Columns, error) {
	var c trainer.Columns
	if preset != "" {
		p, ok := trainer.Presets[preset]
		if !ok {
			return c, fmt.Errorf("--preset %q: want stsb, sick or mrpc", preset)
		}
		c = p
	}
	if spec == "" {
		return c, nil
	}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return c, fmt.Errorf("--columns: %q is not key=value", kv)
		}
		switch k {
		case "a":
			c.A = v
		case "b":
			c.B = v
		case "label":
			c.Label = v
		case "neg":
			c.Neg = v
		case "format":
			c.Format = v
		case "header":
			c.Header = v
		case "min", "max":
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return c, fmt.Errorf("--columns %s=%q: not a number", k, v)
			}
			if k == "min" {
				c.Min = x
			} else {
				c.Max = x
			}
		default:
			return c, fmt.Errorf("--columns: unknown key %q (a, b, label, neg, format, header, min, max)", k)
		}
	}
	return c, nil
}

func formatOf(path string, c trainer.Columns) trainer.Columns {
	if c.Format == "" {
		switch strings.ToLower(filepath.Ext(path)) {
		case ".csv":
			c.Format = "csv"
			if strings.Contains(filepath.Base(path), "sts-") {
				c.Format = "tsv" // STS-B's .csv files are TAB-separated
			}
		case ".jsonl", ".json":
			c.Format = "jsonl"
		default:
			c.Format = "tsv"
		}
	}
	return c
}

func runTrain(cmd *cobra.Command, f *trainFlags) error {
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	if f.out == "" {
		return usagef("--out is required")
	}
	if len(f.pairs)+len(f.triplets) == 0 && f.beir == "" && f.corpus == "" {
		return usagef("no training data: give --pairs, --triplets, --beir or --corpus")
	}
	if _, err := trainer.NewLoss(f.opt.Loss, trainer.LossOptions{}); err != nil {
		return usageError{err}
	}
	f.opt.OutDir = f.out
	f.opt.LossOptions = trainer.LossOptions{Temperature: f.temperature, Symmetric: f.symmetric, Margin: f.margin,
		Distance: f.distance, Scale: f.scale, Bias: f.bias, LearnScale: f.learnScale}
	if err := f.opt.Validate(); err != nil {
		return usageError{err}
	}

	// Model.
	var m *encoder.Model
	var err error
	if f.initModel != "" {
		if m, err = encoder.Load(f.initModel); err != nil {
			return err
		}
	} else {
		var hidden []int
		if strings.TrimSpace(f.hidden) != "" {
			for _, s := range strings.Split(f.hidden, ",") {
				h, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil {
					return usagef("--hidden %q: want comma-separated widths", f.hidden)
				}
				hidden = append(hidden, h)
			}
		} else {
			hidden = []int{}
		}
		cfg := encoder.Config{Features: encoder.FeatureConfig{Bits: f.bits}, BagDim: f.bagDim, Hidden: hidden,
			Activation: f.activation, Dim: f.dim, Tying: encoder.Tying(f.tying)}
		if m, err = encoder.New(cfg, f.modelSeed); err != nil {
			return usageError{err}
		}
	}

	// Data.
	var data trainer.Data
	cols, err := parseColumns(f.columns, f.preset)
	if err != nil {
		return usageError{err}
	}
	for _, p := range f.pairs {
		c := formatOf(p, cols)
		src, err := trainer.LoadPairs(p, c)
		if err != nil {
			return err
		}
		data.Sources = append(data.Sources, src)
	}
	for _, p := range f.triplets {
		c := formatOf(p, cols)
		if c.Neg == "" {
			return usagef("--triplets needs a negative column (--columns ...,neg=N)")
		}
		src, err := trainer.LoadPairs(p, c)
		if err != nil {
			return err
		}
		data.Sources = append(data.Sources, src)
	}
	var corpusForIDF *trainer.Corpus
	if f.beir != "" {
		c, err := trainer.OpenCorpus(eval.CorpusPath(f.beir))
		if err != nil {
			return err
		}
		defer c.Close()
		corpusForIDF = c
		ds, err := eval.LoadBEIR(f.beir, f.split)
		if err != nil {
			return err
		}
		trainQ := ds.Qrels
		switch {
		case f.devBeirSplit != "":
			dd, err := eval.LoadBEIR(f.beir, f.devBeirSplit)
			if err != nil {
				return err
			}
			dev, err := trainer.NewRetrievalDev(c, dd.Queries, dd.Qrels)
			if err != nil {
				return fmt.Errorf("dev split %s: %w", f.devBeirSplit, err)
			}
			data.Dev = dev
		case f.devFrac > 0:
			tq, dq, err := trainer.SplitQrels(ds.Qrels, f.devFrac, f.opt.Seed)
			if err != nil {
				return err
			}
			dev, err := trainer.NewRetrievalDev(c, ds.Queries, dq)
			if err != nil {
				return err
			}
			trainQ, data.Dev = tq, dev
		}
		q, missing, err := trainer.NewQrels(c, ds.Queries, trainQ, f.split)
		if err != nil {
			return err
		}
		if missing > 0 && !globals.quiet {
			fmt.Fprintf(cmd.ErrOrStderr(), "twin: %d qrels entries name unknown queries or documents (skipped)\n", missing)
		}
		data.Sources = append(data.Sources, q)
		if f.opt.Miner != "" {
			data.Mine = q
		}
	}
	if f.corpus != "" {
		c, err := trainer.OpenCorpus(f.corpus)
		if err != nil {
			return err
		}
		defer c.Close()
		corpusForIDF = c
		data.Sources = append(data.Sources, &trainer.SelfSupervised{C: c, Opt: trainer.CropOptions{
			MinFrac: f.cropMin, MaxFrac: f.cropMax, TitleProb: f.titleProb, WholeDoc: f.wholeDoc}})
	}
	if f.devPairs != "" {
		p, err := trainer.LoadPairs(f.devPairs, formatOf(f.devPairs, cols))
		if err != nil {
			return err
		}
		if !p.Labelled() {
			return usagef("--dev-pairs needs a label column")
		}
		data.Dev = &trainer.PairsDev{P: p}
	}
	if f.weights != "" {
		for _, s := range strings.Split(f.weights, ",") {
			w, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return usagef("--weights %q: want comma-separated numbers", f.weights)
			}
			data.Weights = append(data.Weights, w)
		}
	}
	if f.idf {
		// IDF over the corpus, or else over the texts of the pair files.
		var docs []string
		if corpusForIDF != nil {
			docs = make([]string, corpusForIDF.Len())
			for i := range docs {
				if docs[i], err = corpusForIDF.Body(i); err != nil {
					return err
				}
			}
		} else {
			seen := map[string]bool{}
			for _, src := range data.Sources {
				if p, ok := src.(*trainer.Pairs); ok {
					for _, e := range p.Items {
						for _, t := range append([]string{e.A, e.B}, e.Neg...) {
							if !seen[t] {
								seen[t] = true
								docs = append(docs, t)
							}
						}
					}
				}
			}
		}
		idf, err := trainer.ComputeIDF(ctx, m, docs)
		if err != nil {
			return err
		}
		if err := m.SetIDF(idf); err != nil {
			return err
		}
	}

	var bar *progressbar.ProgressBar
	newBar := func(steps int64) *progressbar.ProgressBar {
		if globals.quiet {
			return progressbar.DefaultSilent(steps, "training")
		}
		return progressbar.NewOptions64(steps,
			progressbar.OptionSetDescription("training"),
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionShowCount(),
			progressbar.OptionSetItsString("steps"),
			progressbar.OptionShowIts(),
			progressbar.OptionThrottle(200*time.Millisecond),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
			progressbar.OptionSetWidth(30),
		)
	}
	f.opt.Progress = func(p trainer.Progress) {
		if bar == nil {
			bar = newBar(int64(p.Steps))
		}
		dev := ""
		if p.DevMetric != "" && p.Dev == p.Dev {
			dev = fmt.Sprintf(" %s %.4f", p.DevMetric, p.Dev)
		}
		bar.Describe(fmt.Sprintf("loss %.4f %5.0f pairs/s%s", p.Loss, p.PairsPerSec, dev))
		bar.Set64(int64(p.Step))
	}
	res, err := trainer.Train(ctx, m, data, f.opt)
	if bar != nil {
		bar.Finish()
	}
	if err != nil && res == nil {
		return err
	}
	if globals.json {
		if perr := printJSON(cmd.OutOrStdout(), res); perr != nil {
			return perr
		}
	} else {
		w := cmd.OutOrStdout()
		fmt.Fprintf(w, "steps %d (%s) in %.1fs, %.0f pairs/s, final loss %.4f\n", res.Steps, res.Stopped, res.Seconds, res.PairsPerSec, res.FinalLoss)
		if res.Metric != "" {
			fmt.Fprintf(w, "best dev %s %.4f at step %d\n", res.Metric, res.Best, res.BestStep)
		}
		fmt.Fprintf(w, "model      %s\nlog        %s\nplot       %s\ncheckpoint %s\n", res.ModelPath, res.LogPath, res.PlotPath, res.Checkpoint)
	}
	return err
}
