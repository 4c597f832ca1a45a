package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/index"
	"github.com/twinsearch/twin/index/bm25"
	"github.com/twinsearch/twin/internal/corpus"
	"github.com/twinsearch/twin/internal/vecio"
	"github.com/twinsearch/twin/retriever"
)

func init() { register(newBuildCmd) }

// buildCheckpoint is stored in the collection with every committed batch,
// under "build:" + the input's absolute path, so that the same command
// after a crash continues after the last complete batch.
type buildCheckpoint struct {
	Size     int64 `json:"size"`
	ModTime  int64 `json:"mtime_ns"`
	Line     int   `json:"line"` // last committed input line (JSONL) or row (fvecs, 1-based)
	Docs     int   `json:"docs"` // documents committed so far by this input
	Added    int   `json:"added"`
	Replaced int   `json:"replaced"`
	Dups     int   `json:"dups_in_batch"`
	Done     bool  `json:"done"`

	resumedSeen bool
}

type buildFlags struct {
	model, corpusPath, vectors, dir string
	fields                          corpus.Fields
	batch, workers                  int
	hnsw                            index.HNSWOptions
	noBM25                          bool
	lshThreshold                    float64
}

func newBuildCmd() *cobra.Command {
	var f buildFlags
	cmd := &cobra.Command{
		Use:   "build --model M --corpus corpus.jsonl --index DIR",
		Short: "Encode a corpus (or load vectors) into a collection: Badger store, HNSW graph, BM25 index, LSH tables",
		Long: `Build (or extend) the collection in DIR.

With --model and --corpus, documents are read from BEIR-style JSON Lines
(_id, title, text, optional metadata; field names configurable), encoded with
the model's document tower over all cores, stored in Badger and inserted into
the HNSW graph. With --vectors, precomputed vectors (.fvecs or .npy) are
stored instead, with document ids = row numbers (0, 1, ...). Corpus builds
also keep the BM25 index in DIR/bm25 in step (--no-bm25 to skip), so
twin search can answer lexical and hybrid queries.

Documents are upserted: an id seen again replaces the earlier document (last
wins; counted and reported). Each batch is committed with the input position,
so after a crash or kill -9 the same command continues where the last
complete batch ended, and the final collection holds every document exactly
once. A collection refuses vectors from a model other than the one that
built it.`,
		Example: `  twin build --model model.twin --corpus scifact/corpus.jsonl --index ./coll
  twin build --vectors gmm100k_base.fvecs --index ./ann --m 16 --ef-construction 200
  twin build -m model.twin --corpus docs.jsonl --id-field uid --text-field body --index ./coll`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.dir == "" {
				return usagef("--index is required")
			}
			switch {
			case f.vectors != "" && (f.model != "" || f.corpusPath != ""):
				return usagef("--vectors builds from precomputed vectors; do not combine it with --model/--corpus")
			case f.vectors == "" && (f.model == "" || f.corpusPath == ""):
				return usagef("give --model and --corpus, or --vectors")
			case f.batch <= 0:
				return usagef("--batch must be positive, got %d", f.batch)
			}
			if f.lshThreshold < 0 || f.lshThreshold > 1 {
				return usagef("--lsh-threshold %v: want a cosine in (0, 1], or 0 for no LSH tables", f.lshThreshold)
			}
			if err := f.hnsw.Validate(); err != nil {
				return usageError{err}
			}
			// The graph is most of the live heap and lives for the whole
			// build: a tighter GC target cut the peak RSS of the gmm100k
			// build from 583 to 492 MB at no measurable CPU cost.
			if os.Getenv("GOGC") == "" {
				defer debug.SetGCPercent(debug.SetGCPercent(50))
			}
			if f.vectors != "" {
				return buildVectors(cmd.Context(), cmd, &f)
			}
			return buildCorpus(cmd.Context(), cmd, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.model, "model", "m", "", "model file (its document tower encodes the corpus)")
	fl.StringVar(&f.corpusPath, "corpus", "", "corpus JSON Lines file")
	fl.StringVar(&f.vectors, "vectors", "", "build from precomputed vectors (.fvecs or .npy); ids are row numbers")
	fl.StringVar(&f.dir, "index", "", "collection directory (created if absent)")
	fl.StringVar(&f.fields.ID, "id-field", "_id", "JSON field holding the document id")
	fl.StringVar(&f.fields.Title, "title-field", "title", "JSON field holding the title")
	fl.StringVar(&f.fields.Text, "text-field", "text", "JSON field holding the text")
	fl.StringVar(&f.fields.Metadata, "metadata-field", "metadata", "JSON field holding metadata")
	fl.BoolVar(&f.fields.AutoID, "auto-id", false, "documents without an id get their line number")
	fl.IntVar(&f.batch, "batch", 512, "documents per committed batch")
	fl.BoolVar(&f.noBM25, "no-bm25", false, "corpus builds: do not keep the BM25 index (DIR/bm25) in step")
	fl.Float64Var(&f.lshThreshold, "lsh-threshold", 0.9, "plan the LSH tables (DIR/lsh.tables, for twin dedup) for this cosine; 0: keep no tables")
	fl.IntVar(&f.workers, "workers", 0, "graph insertion workers (0 = all cores)")
	fl.IntVar(&f.hnsw.M, "m", 16, "HNSW links per node (2M on layer 0); new collections only")
	fl.IntVar(&f.hnsw.EfConstruction, "ef-construction", 200, "HNSW candidate list while inserting; new collections only")
	fl.IntVar(&f.hnsw.EfSearch, "ef-search", 64, "default HNSW search breadth; new collections only")
	fl.Uint64Var(&f.hnsw.Seed, "seed", 1, "HNSW level seed; new collections only")
	return cmd
}

// externalFingerprint marks collections built from user-supplied vectors.
const externalFingerprint = "external-vectors"

func fileIdentity(path string) (string, int64, int64, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", 0, 0, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return "", 0, 0, err
	}
	if st.IsDir() {
		return "", 0, 0, fmt.Errorf("%s is a directory", path)
	}
	return abs, st.Size(), st.ModTime().UnixNano(), nil
}

// resumePoint reads the checkpoint for input; it returns the line to skip
// to (0: from the start) and the counts so far.
func resumePoint(c *index.Collection, key string, size, mtime int64) (buildCheckpoint, error) {
	b, ok, err := c.Checkpoint(key)
	if err != nil || !ok {
		return buildCheckpoint{}, err
	}
	var ck buildCheckpoint
	if err := json.Unmarshal(b, &ck); err != nil {
		slog.Warn("ignoring unreadable build checkpoint", "key", key, "err", err)
		return buildCheckpoint{}, nil
	}
	if ck.Size != size || ck.ModTime != mtime {
		slog.Info("input changed since the last build; reading it from the start", "input", key)
		return buildCheckpoint{}, nil
	}
	return ck, nil
}

func openForBuild(f *buildFlags, dim int, fingerprint, modelPath string, followers ...index.Follower) (*index.Collection, error) {
	return index.Open(f.dir, index.Options{
		Dim: dim, ModelFingerprint: fingerprint, ModelPath: modelPath,
		HNSW: f.hnsw, Workers: f.workers, Logger: slog.Default(), Followers: followers,
	})
}

// startLSH installs the collection's saved LSH tables into lf when they
// match the store, so the build's writes keep them in step.
func startLSH(ctx context.Context, c *index.Collection, lf *index.LSHFollower) {
	t, err := index.LoadLSH(ctx, c)
	if err != nil {
		slog.Info("LSH tables will be rebuilt after the build", "reason", err)
		return
	}
	lf.Set(t)
}

// finishLSH saves the LSH tables the build kept in step, or builds them
// over the whole store when there were none (a new or older collection,
// or a crash that left them stale).
func finishLSH(ctx context.Context, c *index.Collection, lf *index.LSHFollower, threshold float64, seed uint64) error {
	t := lf.Tables()
	if t == nil || t.Threshold != threshold {
		var err error
		if t, err = index.BuildLSH(ctx, c, threshold, seed); err != nil {
			return fmt.Errorf("build LSH tables: %w", err)
		}
	}
	if err := index.SaveLSH(c, t); err != nil {
		return fmt.Errorf("save LSH tables: %w", err)
	}
	return nil
}

// snapshotEvery is how often a build saves the graph snapshot, so that a
// resumed build brings a recent graph up to date instead of rebuilding it;
// the interval grows to 20x the time a save takes, so large graphs spend
// at most ~5% of the build saving.
var snapshotEvery = 30 * time.Second

var (
	lastSnapshot  = time.Now()
	snapshotSpent time.Duration
)

// commit upserts a batch with its checkpoint and accumulates counts.
func commit(ctx context.Context, c *index.Collection, key string, ck *buildCheckpoint, docs []index.Doc, line int) error {
	st, err := c.Upsert(ctx, docs)
	if err != nil {
		return err
	}
	// The first batch after a resume re-commits documents the killed run
	// may already have stored; those are not duplicates in the input.
	resumed := ck.Line > 0 && !ck.resumedSeen
	ck.resumedSeen = true
	ck.Line = line
	ck.Docs += len(docs) - st.Duplicates
	ck.Added += st.Added
	if resumed {
		ck.Added += st.Replaced // stored by the killed run, new to this input
	} else {
		ck.Replaced += st.Replaced
	}
	ck.Dups += st.Duplicates
	for _, id := range st.DuplicateIDs {
		slog.Info("duplicate document id in one batch; the last one wins", "id", id)
	}
	b, _ := json.Marshal(ck)
	if _, err = c.UpsertCheckpoint(ctx, nil, key, b); err != nil {
		return err
	}
	if time.Since(lastSnapshot) > max(snapshotEvery, 20*snapshotSpent) {
		t0 := time.Now()
		err := c.Sync()
		lastSnapshot, snapshotSpent = time.Now(), time.Since(t0)
		return err
	}
	return nil
}

func buildCorpus(ctx context.Context, cmd *cobra.Command, f *buildFlags) error {
	key, size, mtime, err := fileIdentity(f.corpusPath)
	if err != nil {
		return fmt.Errorf("--corpus: %w", err)
	}
	model, err := encoder.Load(f.model)
	if err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	in, err := os.Open(f.corpusPath)
	if err != nil {
		return err
	}
	defer in.Close()
	total, _ := countLines(in)
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r := corpus.NewReader(in, f.fields)
	first, err := r.Next()
	if err == io.EOF {
		return fmt.Errorf("corpus %s holds no documents", f.corpusPath)
	}
	if err != nil {
		return fmt.Errorf("corpus %s: %w", f.corpusPath, err)
	}
	// The BM25 index follows every committed batch; after a crash
	// between the store's commit and BM25's, SyncBM25 re-indexes from the
	// store (one pass; SciFact: seconds).
	lf := &index.LSHFollower{}
	followers := []index.Follower{lf}
	var bm *bm25.Index
	if !f.noBM25 {
		if bm, err = bm25.Open(retriever.BM25Dir(f.dir), bm25.Options{}); err != nil {
			return fmt.Errorf("open BM25 index: %w", err)
		}
		defer bm.Close()
		followers = append(followers, retriever.BM25Follower(bm))
	}
	c, err := index.Open(f.dir, index.Options{
		Dim: model.Dim(), ModelFingerprint: model.Fingerprint(), ModelPath: f.model,
		HNSW: f.hnsw, Workers: f.workers, Logger: slog.Default(), Followers: followers,
	})
	if err != nil {
		return err
	}
	if bm != nil {
		if synced, err := retriever.SyncBM25(ctx, c, bm, false); err != nil {
			c.Close()
			return fmt.Errorf("catch up the BM25 index: %w", err)
		} else if synced {
			slog.Info("re-indexed BM25 from the store", "docs", c.Len())
		}
	}
	if f.lshThreshold > 0 {
		startLSH(ctx, c, lf)
	}
	ck, err := resumePoint(c, "build:"+key, size, mtime)
	if err != nil {
		c.Close()
		return err
	}
	err = runCorpusBuild(ctx, c, model, r, first, "build:"+key, &ck, size, mtime, total, f.batch)
	if err == nil && f.lshThreshold > 0 {
		err = finishLSH(ctx, c, lf, f.lshThreshold, f.hnsw.Seed)
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return reportBuild(cmd, f.dir, c, &ck)
}

func runCorpusBuild(ctx context.Context, c *index.Collection, model *encoder.Model, r *corpus.Reader, first corpus.Doc,
	key string, ck *buildCheckpoint, size, mtime int64, total, batch int) error {
	ck.Size, ck.ModTime = size, mtime
	if ck.Done {
		fmt.Fprintf(os.Stderr, "twin: %s already built into this index (%d documents); nothing to do\n", key[len("build:"):], ck.Docs)
		return nil
	}
	bar := newProgress(int64(total), "build")
	bar.Set(ck.Line)
	if ck.Line > 0 {
		slog.Info("resuming build", "after_line", ck.Line, "docs_so_far", ck.Docs)
	}
	docs := make([]index.Doc, 0, batch)
	texts := make([]string, 0, batch)
	flat := make([]float32, batch*model.Dim())
	dst := make([][]float32, batch)
	for i := range dst {
		dst[i] = flat[i*model.Dim() : (i+1)*model.Dim()]
	}
	lastLine := 0
	flush := func() error {
		if len(docs) == 0 {
			return nil
		}
		if err := model.EncodeBatch(ctx, encoder.DocTower, texts, dst[:len(texts)]); err != nil {
			return err
		}
		for i := range docs {
			docs[i].Vector = dst[i]
		}
		if err := commit(ctx, c, key, ck, docs, lastLine); err != nil {
			return err
		}
		bar.Set(lastLine)
		docs, texts = docs[:0], texts[:0]
		return ctx.Err()
	}
	doc, err := first, error(nil)
	for ; err == nil; doc, err = r.Next() {
		if doc.Line <= ck.Line {
			continue
		}
		docs = append(docs, index.Doc{ID: doc.ID, Title: doc.Title, Text: doc.Text, Metadata: doc.Metadata})
		texts = append(texts, doc.Body())
		lastLine = doc.Line
		if len(docs) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err != io.EOF {
		return fmt.Errorf("corpus: %w", err)
	}
	if err := flush(); err != nil {
		return err
	}
	bar.Finish()
	ck.Done = true
	b, _ := json.Marshal(ck)
	_, err = c.UpsertCheckpoint(ctx, nil, key, b)
	if err == nil {
		err = c.Sync()
	}
	return err
}

func countLines(r io.Reader) (int, error) {
	buf := make([]byte, 1<<20)
	n := 0
	for {
		k, err := r.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func buildVectors(ctx context.Context, cmd *cobra.Command, f *buildFlags) error {
	key, size, mtime, err := fileIdentity(f.vectors)
	if err != nil {
		return fmt.Errorf("--vectors: %w", err)
	}
	in, err := os.Open(f.vectors)
	if err != nil {
		return err
	}
	defer in.Close()
	// next returns the next row; .npy files are read whole.
	var next func() ([]float32, error)
	var dim, total int
	if filepath.Ext(f.vectors) == ".npy" {
		rows, err := vecio.ReadNpy(in)
		if err != nil {
			return fmt.Errorf("--vectors %s: %w", f.vectors, err)
		}
		if len(rows) > 0 {
			dim = len(rows[0])
		}
		total = len(rows)
		i := 0
		next = func() ([]float32, error) {
			if i == len(rows) {
				return nil, io.EOF
			}
			i++
			return rows[i-1], nil
		}
	} else {
		fr := vecio.NewFvecsReader(in)
		var buf []float32
		next = func() ([]float32, error) {
			var err error
			buf, err = fr.Next(buf)
			return buf, err
		}
		v, err := next()
		if err == nil {
			dim = len(v)
			total = int(size / int64(4+4*dim))
			// Re-read from the start.
			in.Seek(0, io.SeekStart)
			fr = vecio.NewFvecsReader(in)
		} else if err != io.EOF {
			return fmt.Errorf("--vectors %s: %w", f.vectors, err)
		}
	}
	if dim == 0 {
		return fmt.Errorf("--vectors %s holds no vectors", f.vectors)
	}
	lf := &index.LSHFollower{}
	c, err := openForBuild(f, dim, externalFingerprint, "", lf)
	if err != nil {
		return err
	}
	if f.lshThreshold > 0 {
		startLSH(ctx, c, lf)
	}
	ck, err := resumePoint(c, "build:"+key, size, mtime)
	if err == nil {
		err = runVectorBuild(ctx, c, next, "build:"+key, &ck, size, mtime, total, f.batch)
	}
	if err == nil && f.lshThreshold > 0 {
		err = finishLSH(ctx, c, lf, f.lshThreshold, f.hnsw.Seed)
	}
	if cerr := c.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return reportBuild(cmd, f.dir, c, &ck)
}

func runVectorBuild(ctx context.Context, c *index.Collection, next func() ([]float32, error), key string, ck *buildCheckpoint,
	size, mtime int64, total, batch int) error {
	ck.Size, ck.ModTime = size, mtime
	if ck.Done {
		fmt.Fprintf(os.Stderr, "twin: %s already built into this index (%d vectors); nothing to do\n", key[len("build:"):], ck.Docs)
		return nil
	}
	bar := newProgress(int64(total), "build")
	bar.Set(ck.Line)
	docs := make([]index.Doc, 0, batch)
	row := 0
	for {
		v, err := next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("vectors: %w", err)
		}
		row++
		if row <= ck.Line {
			continue
		}
		docs = append(docs, index.Doc{ID: strconv.Itoa(row - 1), Vector: append([]float32(nil), v...)})
		if len(docs) == batch {
			if err := commit(ctx, c, key, ck, docs, row); err != nil {
				return err
			}
			bar.Set(row)
			docs = docs[:0]
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if len(docs) > 0 {
		if err := commit(ctx, c, key, ck, docs, row); err != nil {
			return err
		}
	}
	bar.Finish()
	ck.Done = true
	b, _ := json.Marshal(ck)
	if _, err := c.UpsertCheckpoint(ctx, nil, key, b); err != nil {
		return err
	}
	return c.Sync()
}

func reportBuild(cmd *cobra.Command, dir string, c *index.Collection, ck *buildCheckpoint) error {
	man := c.Manifest()
	out := map[string]any{
		"index": dir, "docs_from_input": ck.Docs, "added": ck.Added, "replaced": ck.Replaced,
		"duplicates_in_batch": ck.Dups, "dim": man.Dim, "model_fingerprint": man.ModelFingerprint,
	}
	if globals.json {
		return printJSON(cmd.OutOrStdout(), out)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "built %s: %d documents from the input (%d added, %d replaced an earlier document with the same id, %d duplicate ids inside a batch; last wins)\n",
		dir, ck.Docs, ck.Added, ck.Replaced, ck.Dups)
	return nil
}
