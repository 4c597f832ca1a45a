package bm25

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/twinsearch/twin/internal/corpus"

	// analyzers selectable by name
	_ "github.com/blevesearch/bleve/v2/analysis/analyzer/simple"
	_ "github.com/blevesearch/bleve/v2/analysis/analyzer/standard"
	_ "github.com/blevesearch/bleve/v2/analysis/lang/en"
)

// Field names in the bleve mapping.
const (
	bodyField = "body" // title + "\n\n" + text, analysed, postings with freq and norm
	lenField  = "len"  // stored only: the analysed length of body, decimal
)

// internal keys, written in the same batch as the documents.
var (
	keyFormat = []byte("twin.bm25.format")
	keyDocs   = []byte("twin.bm25.docs")   // live docs with >= 1 token
	keyTokens = []byte("twin.bm25.tokens") // sum of their lengths
)

// formatVersion is stored under keyFormat. 1: first version.
const formatVersion = 1

var (
	// ErrClosed is returned by calls on a closed index.
	ErrClosed = errors.New("bm25: index closed")
	// ErrBadOptions reports invalid Options.
	ErrBadOptions = errors.New("bm25: bad options")
	// ErrNotExist reports a directory without a BM25 index (Options.NoCreate).
	ErrNotExist = errors.New("bm25: no index")
)

// Options configure an index. The zero value is the default.
type Options struct {
	// K1 is BM25's term-frequency saturation; 0 means 1.2 (Lucene's
	// default). Chosen over Anserini's 0.9/0.4 on SciFact *train* queries
	// (nDCG@10 0.7003 vs 0.6962); test agrees (0.6846 vs 0.6795). See
	// bench/RESULTS.md.
	K1 float64
	// B is BM25's length normalisation in [0, 1]; 0 means 0.75 unless
	// NoLengthNorm is set.
	B float64
	// NoLengthNorm sets b = 0.
	NoLengthNorm bool
	// Analyzer is a bleve analyzer name; "" means "en" (unicode tokenizer,
	// possessive filter, lower case, English stop words, Porter stemmer).
	// It is fixed when the index is created; opening an index with a
	// different non-empty Analyzer is an error.
	Analyzer string
	// BatchSize is the number of documents per bleve batch; 0 means 2000.
	BatchSize int
	// NoCreate makes Open fail with ErrNotExist instead of creating an
	// index when dir holds none (for readers such as twin search).
	NoCreate bool
}

// DefaultK1 and DefaultB are the BM25 parameters of the zero Options.
const (
	DefaultK1 = 1.2
	DefaultB  = 0.75
)

func (o Options) withDefaults() Options {
	if o.K1 == 0 {
		o.K1 = DefaultK1
	}
	if o.B == 0 && !o.NoLengthNorm {
		o.B = DefaultB
	}
	if o.NoLengthNorm {
		o.B = 0
	}
	if o.BatchSize == 0 {
		o.BatchSize = 2000
	}
	return o
}

// Validate reports every problem of o at once.
func (o Options) Validate() error {
	var errs []error
	if o.K1 < 0 || math.IsNaN(o.K1) || math.IsInf(o.K1, 0) {
		errs = append(errs, fmt.Errorf("%w: k1 %v must be finite and >= 0", ErrBadOptions, o.K1))
	}
	if o.B < 0 || o.B > 1 || math.IsNaN(o.B) {
		errs = append(errs, fmt.Errorf("%w: b %v must be in [0, 1]", ErrBadOptions, o.B))
	}
	if o.BatchSize < 0 {
		errs = append(errs, fmt.Errorf("%w: batch size %d must be >= 0", ErrBadOptions, o.BatchSize))
	}
	return errors.Join(errs...)
}

// Doc is one document to index; the indexed text is Title + "\n\n" + Text.
type Doc struct {
	ID, Title, Text string
}

func (d *Doc) body() string { return corpus.Body(d.Title, d.Text) }

// Hit is a scored document; higher is better.
type Hit struct {
	DocID string
	Score float64
}

// Index is a BM25 index. Safe for concurrent use; writes are serialised.
type Index struct {
	idx      bleve.Index
	analyzer analysis.Analyzer
	opt      Options
	wmu      sync.Mutex // serialises Upsert/Delete (stats read-modify-write)
	mu       sync.RWMutex
	closed   bool
}

// Open opens the index in dir, creating it when dir does not exist or is
// empty. dir "" keeps the index in memory (scorch without persistence; not
// bleve.NewMemOnly, whose upsidedown index has no BM25 norms we rely on).
func Open(dir string, opt Options) (*Index, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	var idx bleve.Index
	var err error
	exists := false
	if dir != "" {
		if _, err := os.Stat(filepath.Join(dir, "index_meta.json")); err == nil {
			exists = true
		}
	}
	if exists {
		idx, err = bleve.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("bm25: open %s: %w", dir, err)
		}
		im, ok := idx.Mapping().(*mapping.IndexMappingImpl)
		if !ok {
			idx.Close()
			return nil, fmt.Errorf("bm25: %s: unexpected bleve mapping type %T", dir, idx.Mapping())
		}
		if opt.Analyzer != "" && opt.Analyzer != im.DefaultAnalyzer {
			idx.Close()
			return nil, fmt.Errorf("bm25: %s was built with analyzer %q, not %q (rebuild it to change analyzers)", dir, im.DefaultAnalyzer, opt.Analyzer)
		}
		opt.Analyzer = im.DefaultAnalyzer
		v, err := idx.GetInternal(keyFormat)
		if err != nil || len(v) != 8 {
			idx.Close()
			return nil, fmt.Errorf("bm25: %s is a bleve index but not one written by twin (no format key)", dir)
		}
		if got := binary.BigEndian.Uint64(v); got != formatVersion {
			idx.Close()
			return nil, fmt.Errorf("bm25: %s: unsupported format version %d (this build reads %d)", dir, got, formatVersion)
		}
	} else {
		if opt.NoCreate {
			return nil, fmt.Errorf("%w in %s", ErrNotExist, dir)
		}
		if opt.Analyzer == "" {
			opt.Analyzer = "en"
		}
		im, err := newMapping(opt.Analyzer)
		if err != nil {
			return nil, err
		}
		idx, err = bleve.NewUsing(dir, im, scorch.Name, scorch.Name, nil)
		if err != nil {
			return nil, fmt.Errorf("bm25: create %s: %w", dir, err)
		}
		var v [8]byte
		binary.BigEndian.PutUint64(v[:], formatVersion)
		if err := idx.SetInternal(keyFormat, v[:]); err != nil {
			idx.Close()
			return nil, fmt.Errorf("bm25: create %s: %w", dir, err)
		}
	}
	a := idx.Mapping().AnalyzerNamed(opt.Analyzer)
	if a == nil {
		idx.Close()
		return nil, fmt.Errorf("%w: unknown analyzer %q", ErrBadOptions, opt.Analyzer)
	}
	return &Index{idx: idx, analyzer: a, opt: opt}, nil
}

func newMapping(analyzer string) (*mapping.IndexMappingImpl, error) {
	im := bleve.NewIndexMapping()
	if im.AnalyzerNamed(analyzer) == nil {
		return nil, fmt.Errorf("%w: unknown analyzer %q (try en, standard or simple)", ErrBadOptions, analyzer)
	}
	im.ScoringModel = index.BM25Scoring
	im.DefaultAnalyzer = analyzer
	im.StoreDynamic, im.IndexDynamic, im.DocValuesDynamic = false, false, false
	body := bleve.NewTextFieldMapping()
	body.Analyzer = analyzer
	body.Store, body.IncludeTermVectors, body.IncludeInAll, body.DocValues = false, false, false, false
	ln := bleve.NewTextFieldMapping()
	ln.Analyzer = "keyword"
	ln.Index, ln.Store, ln.IncludeTermVectors, ln.IncludeInAll, ln.DocValues = false, true, false, false, false
	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt(bodyField, body)
	dm.AddFieldMappingsAt(lenField, ln)
	im.DefaultMapping = dm
	return im, nil
}

// Params returns the effective k1 and b.
func (ix *Index) Params() (k1, b float64) { return ix.opt.K1, ix.opt.B }

// Analyzer returns the analyzer name.
func (ix *Index) Analyzer() string { return ix.opt.Analyzer }

// Close releases the index. Further calls return ErrClosed.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil
	}
	ix.closed = true
	return ix.idx.Close()
}

// Count returns the number of documents in the index.
func (ix *Index) Count() (int, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return 0, ErrClosed
	}
	n, err := ix.idx.DocCount()
	return int(n), err
}

// tokens analyses s and returns its terms (the Analyzer's output).
func (ix *Index) tokens(s string) analysis.TokenStream {
	return ix.analyzer.Analyze([]byte(s))
}

type stats struct{ docs, tokens uint64 }

func readStats(get func([]byte) ([]byte, error)) (stats, error) {
	var s stats
	for _, kv := range []struct {
		k []byte
		v *uint64
	}{{keyDocs, &s.docs}, {keyTokens, &s.tokens}} {
		b, err := get(kv.k)
		if err != nil {
			return s, err
		}
		if len(b) == 8 {
			*kv.v = binary.BigEndian.Uint64(b)
		} else if len(b) != 0 {
			return s, fmt.Errorf("bm25: corrupt statistics key %s", kv.k)
		}
	}
	return s, nil
}

func (s stats) set(b *bleve.Batch) {
	var v [8]byte
	binary.BigEndian.PutUint64(v[:], s.docs)
	b.SetInternal(keyDocs, slices.Clone(v[:]))
	binary.BigEndian.PutUint64(v[:], s.tokens)
	b.SetInternal(keyTokens, slices.Clone(v[:]))
}

// storedLen returns the stored analysed length of doc id, and whether it exists.
func (ix *Index) storedLen(id string) (uint64, bool, error) {
	d, err := ix.idx.Document(id)
	if err != nil || d == nil {
		return 0, false, err
	}
	var n uint64
	var perr error
	found := false
	d.VisitFields(func(f index.Field) {
		if f.Name() == lenField {
			found = true
			n, perr = strconv.ParseUint(string(f.Value()), 10, 64)
		}
	})
	if !found || perr != nil {
		return 0, true, fmt.Errorf("bm25: document %q has no valid stored length", id)
	}
	return n, true, nil
}

// Upsert adds documents or replaces those with the same ids. Within docs a
// repeated id keeps its last version. Each batch of Options.BatchSize docs
// is atomic; ctx is checked between batches.
func (ix *Index) Upsert(ctx context.Context, docs []Doc) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return ErrClosed
	}
	last := make(map[string]int, len(docs))
	for i := range docs {
		if docs[i].ID == "" {
			return fmt.Errorf("bm25: document %d has an empty id", i)
		}
		last[docs[i].ID] = i
	}
	todo := make([]int, 0, len(last))
	for i := range docs {
		if last[docs[i].ID] == i {
			todo = append(todo, i)
		}
	}
	st, err := readStats(ix.idx.GetInternal)
	if err != nil {
		return err
	}
	for start := 0; start < len(todo); start += ix.opt.BatchSize {
		chunk := todo[start:min(start+ix.opt.BatchSize, len(todo))]
		bodies := make([]string, len(chunk))
		toks := make([]analysis.TokenStream, len(chunk))
		for j, i := range chunk {
			bodies[j] = docs[i].body()
		}
		ix.analyzeAll(bodies, toks)
		b := ix.idx.NewBatch()
		for j, i := range chunk {
			id := docs[i].ID
			old, ok, err := ix.storedLen(id)
			if err != nil {
				return err
			}
			if ok && old > 0 {
				st.docs--
				st.tokens -= old
			}
			n := uint64(len(toks[j]))
			if n > 0 {
				st.docs++
				st.tokens += n
			}
			// Analysed once, here: bleve's own analysis pass gets the tokens
			// back from fixedTokens instead of analysing the text again.
			d := document.NewDocument(id)
			d.AddField(document.NewTextFieldCustom(bodyField, nil, []byte(bodies[j]), index.IndexField, fixedTokens(toks[j])))
			d.AddField(document.NewTextFieldCustom(lenField, nil, []byte(strconv.FormatUint(n, 10)), index.StoreField, nil))
			d.SetIndexed()
			if err := b.IndexAdvanced(d); err != nil {
				return fmt.Errorf("bm25: document %q: %w", id, err)
			}
		}
		st.set(b)
		if err := ix.idx.Batch(b); err != nil {
			return fmt.Errorf("bm25: index batch: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}

// fixedTokens is an analyzer that returns tokens analysed beforehand.
type fixedTokens analysis.TokenStream

func (f fixedTokens) Analyze([]byte) analysis.TokenStream { return analysis.TokenStream(f) }

// analyzeAll analyses bodies into dst on all cores.
func (ix *Index) analyzeAll(bodies []string, dst []analysis.TokenStream) {
	workers := min(runtime.NumCPU(), len(bodies))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(bodies); i += workers {
				dst[i] = ix.tokens(bodies[i])
			}
		}()
	}
	wg.Wait()
}

// Delete removes documents; ids not in the index are ignored.
func (ix *Index) Delete(ctx context.Context, ids []string) error {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return ErrClosed
	}
	st, err := readStats(ix.idx.GetInternal)
	if err != nil {
		return err
	}
	b := ix.idx.NewBatch()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		old, ok, err := ix.storedLen(id)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if old > 0 {
			st.docs--
			st.tokens -= old
		}
		b.Delete(id)
	}
	if b.Size() == 0 {
		return nil
	}
	st.set(b)
	if err := ix.idx.Batch(b); err != nil {
		return fmt.Errorf("bm25: delete batch: %w", err)
	}
	return ctx.Err()
}

// queryTerms analyses q into distinct terms (sorted) with their counts.
func (ix *Index) queryTerms(q string) (terms []string, counts []float64) {
	m := map[string]float64{}
	for _, t := range ix.tokens(q) {
		m[string(t.Term)]++
	}
	for t := range m {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	for _, t := range terms {
		counts = append(counts, m[t])
	}
	return terms, counts
}

// scorer holds what a query needs from one reader snapshot.
type scorer struct {
	r            index.IndexReader
	k1, b, avgdl float64
	n            float64
	terms        []string
	weights      []float64
}

func (ix *Index) newScorer(q string) (*scorer, error) {
	adv, err := ix.idx.Advanced()
	if err != nil {
		return nil, err
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, err
	}
	st, err := readStats(r.GetInternal)
	if err != nil {
		r.Close()
		return nil, err
	}
	s := &scorer{r: r, k1: ix.opt.K1, b: ix.opt.B, n: float64(st.docs)}
	if st.docs > 0 {
		s.avgdl = float64(st.tokens) / float64(st.docs)
	}
	s.terms, s.weights = ix.queryTerms(q)
	return s, nil
}

// termScore is Lucene's per-term BM25 for one posting, given idf*count.
func (s *scorer) termScore(w float64, p *index.TermFieldDoc) float64 {
	tf := float64(p.Freq)
	dl := uint64(0)
	if p.Norm > 0 {
		dl = uint64(math.Round(1 / (p.Norm * p.Norm)))
	}
	l := luceneLength(dl)
	return w * tf / (tf + s.k1*(1-s.b+s.b*l/s.avgdl))
}

// term opens the postings of query term i and returns them with the
// term's weight (idf times its query weight); a nil reader means no
// document holds the term.
func (s *scorer) term(ctx context.Context, i int) (index.TermFieldReader, float64, error) {
	tfr, err := s.r.TermFieldReader(ctx, []byte(s.terms[i]), bodyField, true, true, false)
	if err != nil {
		return nil, 0, err
	}
	df := tfr.Count()
	if df == 0 {
		tfr.Close()
		return nil, 0, nil
	}
	return tfr, s.idf(df) * s.weights[i], nil
}

func (s *scorer) idf(df uint64) float64 {
	d := float64(df)
	return math.Log(1 + (s.n-d+0.5)/(d+0.5))
}

// Search returns the k best documents for query, best first (ties by doc
// id ascending). A query whose analysis yields no terms (only stop words,
// punctuation) returns no hits.
func (ix *Index) Search(ctx context.Context, query string, k int) ([]Hit, error) {
	if k < 1 {
		return nil, fmt.Errorf("bm25: k %d must be >= 1", k)
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return nil, ErrClosed
	}
	s, err := ix.newScorer(query)
	if err != nil {
		return nil, err
	}
	defer s.r.Close()
	var acc accumulator
	var tfd index.TermFieldDoc
	for i := range s.terms {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tfr, w, err := s.term(ctx, i)
		if err != nil {
			return nil, err
		}
		if tfr == nil {
			continue
		}
		for {
			p, err := tfr.Next(tfd.Reset())
			if err != nil {
				tfr.Close()
				return nil, err
			}
			if p == nil {
				break
			}
			acc.add(p.ID.Value(), s.termScore(w, p))
		}
		tfr.Close()
	}
	return topK(s.r, acc, k)
}

// accumulator sums per-document scores in a dense slice indexed by
// bleve's snapshot-global doc number, remembering which slots it touched.
type accumulator struct {
	score   []float64
	seen    []bool
	touched []uint64
}

func (a *accumulator) add(num uint64, v float64) {
	if num >= uint64(len(a.score)) {
		n := max(2*len(a.score), int(num)+1, 1024)
		a.score = append(a.score, make([]float64, n-len(a.score))...)
		a.seen = append(a.seen, make([]bool, n-len(a.seen))...)
	}
	if !a.seen[num] {
		a.seen[num] = true
		a.touched = append(a.touched, num)
	}
	a.score[num] += v
}

// topK picks the k best, resolving ties at the cut by external id: a
// size-k min-heap finds the k-th best score, then every document scoring
// at least that much is named and sorted.
func topK(r index.IndexReader, acc accumulator, k int) ([]Hit, error) {
	if len(acc.touched) == 0 {
		return nil, nil
	}
	h := make(minHeap, 0, k)
	for _, n := range acc.touched {
		sc := acc.score[n]
		if len(h) < k {
			h.push(sc)
		} else if sc > h[0] {
			h[0] = sc
			h.down()
		}
	}
	thr := h[0]
	hits := make([]Hit, 0, k)
	buf := make(index.IndexInternalID, 8)
	for _, n := range acc.touched {
		if acc.score[n] < thr {
			continue
		}
		id, err := r.ExternalID(index.NewIndexInternalID(buf, n))
		if err != nil {
			return nil, err
		}
		hits = append(hits, Hit{DocID: id, Score: acc.score[n]})
	}
	sortHits(hits)
	return hits[:min(k, len(hits))], nil
}

// minHeap of scores.
type minHeap []float64

func (h *minHeap) push(x float64) {
	*h = append(*h, x)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h minHeap) down() {
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < len(h) && h[l] < h[m] {
			m = l
		}
		if l+1 < len(h) && h[l+1] < h[m] {
			m = l + 1
		}
		if m == i {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func sortHits(h []Hit) {
	sort.Slice(h, func(i, j int) bool {
		if h[i].Score != h[j].Score {
			return h[i].Score > h[j].Score
		}
		return h[i].DocID < h[j].DocID
	})
}

// Score returns the BM25 score of each candidate for query, aligned with
// ids (a document not in the index, or matching no term, scores 0). It
// costs O(terms * len(ids)) postings seeks, not a full search: the shape
// for reranking a dense candidate list.
func (ix *Index) Score(ctx context.Context, query string, ids []string) ([]float64, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return nil, ErrClosed
	}
	out := make([]float64, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	s, err := ix.newScorer(query)
	if err != nil {
		return nil, err
	}
	defer s.r.Close()
	type slot struct {
		num uint64
		pos int
	}
	var slots []slot
	for i, id := range ids {
		iid, err := s.r.InternalID(id)
		if err != nil {
			return nil, err
		}
		if len(iid) == 8 {
			slots = append(slots, slot{iid.Value(), i})
		}
	}
	sort.Slice(slots, func(i, j int) bool { return slots[i].num < slots[j].num })
	var tfd index.TermFieldDoc
	buf := make(index.IndexInternalID, 8)
	for i := range s.terms {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tfr, w, err := s.term(ctx, i)
		if err != nil {
			return nil, err
		}
		if tfr == nil {
			continue
		}
		var p *index.TermFieldDoc
		for j := 0; j < len(slots); j++ {
			if p != nil && p.ID.Value() > slots[j].num {
				continue
			}
			if p == nil || p.ID.Value() < slots[j].num {
				p, err = tfr.Advance(index.NewIndexInternalID(buf, slots[j].num), tfd.Reset())
				if err != nil {
					tfr.Close()
					return nil, err
				}
				if p == nil {
					break
				}
			}
			if p.ID.Value() == slots[j].num {
				out[slots[j].pos] += s.termScore(w, p)
			}
		}
		tfr.Close()
	}
	return out, nil
}

// Terms returns the analysed terms of text (for explanations and tests).
func (ix *Index) Terms(text string) []string {
	var out []string
	for _, t := range ix.tokens(text) {
		out = append(out, string(t.Term))
	}
	return out
}

// recount returns the token total and docs with tokens from one pass over
// the postings (sum of tf over every term), to check the maintained stats.
func (ix *Index) recount(ctx context.Context) (stats, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	adv, err := ix.idx.Advanced()
	if err != nil {
		return stats{}, err
	}
	r, err := adv.Reader()
	if err != nil {
		return stats{}, err
	}
	defer r.Close()
	fd, err := r.FieldDict(bodyField)
	if err != nil {
		return stats{}, err
	}
	defer fd.Close()
	var st stats
	docs := map[uint64]bool{}
	var tfd index.TermFieldDoc
	for {
		e, err := fd.Next()
		if err != nil {
			return st, err
		}
		if e == nil {
			break
		}
		tfr, err := r.TermFieldReader(ctx, []byte(e.Term), bodyField, true, false, false)
		if err != nil {
			return st, err
		}
		for {
			p, err := tfr.Next(tfd.Reset())
			if err != nil || p == nil {
				tfr.Close()
				if err != nil {
					return st, err
				}
				break
			}
			st.tokens += p.Freq
			docs[p.ID.Value()] = true
		}
	}
	st.docs = uint64(len(docs))
	return st, nil
}

// stats returns the maintained statistics (for tests and explanations).
func (ix *Index) stats() (stats, error) { return readStats(ix.idx.GetInternal) }

// IDs returns the ids of every document in the index (any order).
func (ix *Index) IDs(ctx context.Context) ([]string, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.closed {
		return nil, ErrClosed
	}
	adv, err := ix.idx.Advanced()
	if err != nil {
		return nil, err
	}
	r, err := adv.Reader()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	dr, err := r.DocIDReaderAll()
	if err != nil {
		return nil, err
	}
	defer dr.Close()
	var out []string
	for {
		iid, err := dr.Next()
		if err != nil {
			return nil, err
		}
		if iid == nil {
			return out, nil
		}
		if len(out)%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		id, err := r.ExternalID(iid)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
}
