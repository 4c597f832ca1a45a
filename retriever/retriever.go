package retriever

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/internal/frame"
	"github.com/twinsearch/twin/internal/vec"
)

// MaxQueryRunes bounds a query: longer queries are truncated to this many
// runes (about a page of text) before encoding and analysis.
const MaxQueryRunes = 2048

var (
	// ErrEmptyQuery reports an empty or white-space-only query.
	ErrEmptyQuery = errors.New("retriever: empty query")
	// ErrBadSettings reports invalid Settings.
	ErrBadSettings = errors.New("retriever: bad settings")
	// ErrNoSource reports a mode whose source (encoder, vectors, BM25 index) is missing.
	ErrNoSource = errors.New("retriever: source not available")
)

// Mode selects the retrieval method.
type Mode string

// Modes.
const (
	Dense  Mode = "dense"
	BM25   Mode = "bm25"
	Hybrid Mode = "hybrid"
)

// Fusion methods.
const (
	FusionRRF      = "rrf"
	FusionWeighted = "weighted"
)

// Hybrid shapes.
const (
	// ShapeUnion fuses dense top k' and BM25 top k'; a document missing
	// from one list gets that list's floor (see Norm).
	ShapeUnion = "union"
	// ShapeRerank scores only the dense top k' with BM25 as well.
	ShapeRerank = "rerank"
	// ShapeFull is the union with every candidate scored by both sources:
	// BM25 for dense-only candidates (postings seeks), dense for BM25-only
	// candidates (dot product with the stored vector). Ranks in the
	// explanation are then ranks within the union. Needs Vectors.
	ShapeFull = "full"
)

// Settings choose how to retrieve. The zero value means the defaults
// (documented per field); Resolve applies them.
type Settings struct {
	Mode   Mode    `json:"mode,omitempty"`   // default hybrid when both sources exist, else the one that does
	Fusion string  `json:"fusion,omitempty"` // rrf (default) | weighted
	Shape  string  `json:"shape,omitempty"`  // union (default) | rerank
	RRFK   float64 `json:"rrf_k,omitempty"`  // default 60
	// Alpha is the dense weight of weighted fusion, in [0, 1]; nil means 0.5.
	Alpha  *float64 `json:"alpha,omitempty"`
	Norm   Norm     `json:"norm,omitempty"`    // minmax (default) | zscore
	KPrime int      `json:"k_prime,omitempty"` // candidates per source; default max(100, k)
	Ef     int      `json:"ef,omitempty"`      // ANN search breadth; default max(k', index default)
	// ExactRerank recomputes dense scores from stored vectors (needs Vectors).
	ExactRerank bool `json:"exact_rerank,omitempty"`
	// Collapse, when > 0, folds near-duplicate hits: walking the ranking
	// best first, a hit whose stored vector has cosine >= Collapse with an
	// already kept hit is dropped and listed in that hit's Duplicates.
	// Exact pairwise check over the top hits (O(k^2) dot products; 2k hits
	// are fetched so k remain). Needs Vectors. 0 = off.
	Collapse float64 `json:"collapse,omitempty"`
}

// DefaultAlpha is the weighted-fusion dense weight when none is set.
const DefaultAlpha = 0.5

// AlphaValue returns Alpha or its default.
func (s Settings) AlphaValue() float64 {
	if s.Alpha == nil {
		return DefaultAlpha
	}
	return *s.Alpha
}

// Overlay returns s with the non-zero fields of o replacing its own.
func (s Settings) Overlay(o Settings) Settings {
	if o.Mode != "" {
		s.Mode = o.Mode
	}
	if o.Fusion != "" {
		s.Fusion = o.Fusion
	}
	if o.Shape != "" {
		s.Shape = o.Shape
	}
	if o.RRFK != 0 {
		s.RRFK = o.RRFK
	}
	if o.Alpha != nil {
		s.Alpha = o.Alpha
	}
	if o.Norm != "" {
		s.Norm = o.Norm
	}
	if o.KPrime != 0 {
		s.KPrime = o.KPrime
	}
	if o.Ef != 0 {
		s.Ef = o.Ef
	}
	s.ExactRerank = s.ExactRerank || o.ExactRerank
	if o.Collapse != 0 {
		s.Collapse = o.Collapse
	}
	return s
}

// Validate reports every problem at once.
func (s Settings) Validate() error {
	var errs []error
	bad := func(f string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+f, append([]any{ErrBadSettings}, a...)...))
	}
	switch s.Mode {
	case "", Dense, BM25, Hybrid:
	default:
		bad("mode %q (want dense, bm25 or hybrid)", s.Mode)
	}
	switch s.Fusion {
	case "", FusionRRF, FusionWeighted:
	default:
		bad("fusion %q (want rrf or weighted)", s.Fusion)
	}
	switch s.Shape {
	case "", ShapeUnion, ShapeRerank, ShapeFull:
	default:
		bad("shape %q (want union, rerank or full)", s.Shape)
	}
	switch s.Norm {
	case "", MinMax, ZScore:
	default:
		bad("norm %q (want minmax or zscore)", s.Norm)
	}
	if s.RRFK < 0 || math.IsNaN(s.RRFK) || math.IsInf(s.RRFK, 0) {
		bad("rrf k %v must be > 0", s.RRFK)
	}
	if a := s.AlphaValue(); !(a >= 0 && a <= 1) {
		bad("alpha %v must be in [0, 1]", a)
	}
	if s.KPrime < 0 {
		bad("k' %d must be >= 1", s.KPrime)
	}
	if !(s.Collapse >= 0 && s.Collapse <= 1) {
		bad("collapse threshold %v must be a cosine in (0, 1], or 0 for off", s.Collapse)
	}
	if s.Ef < 0 {
		bad("ef %d must be >= 1", s.Ef)
	}
	return errors.Join(errs...)
}

// DenseIndex is the vector side of a collection: ANN search by doc id.
type DenseIndex interface {
	SearchVector(ctx context.Context, q []float32, k, ef int) ([]Scored, error)
	Len() int
}

// VectorStore returns a document's stored unit vector (nil when absent).
type VectorStore interface {
	Vector(ctx context.Context, docID string) ([]float32, error)
}

// Lexical is a BM25 index (index/bm25.Index satisfies it through BM25Source).
type Lexical interface {
	Search(ctx context.Context, query string, k int) ([]Scored, error)
	Score(ctx context.Context, query string, ids []string) ([]float64, error)
	Count() (int, error)
}

// QueryEncoder embeds query text; *encoder.Model satisfies it.
type QueryEncoder interface {
	Dim() int
	Encode(t encoder.TowerKind, text string, dst []float32)
}

// Sources are what a Retriever draws on; any may be nil, which disables the
// modes that need it.
type Sources struct {
	Encoder QueryEncoder
	Dense   DenseIndex
	Vectors VectorStore
	Lexical Lexical
}

// Retriever answers queries. Safe for concurrent use when its sources are.
type Retriever struct {
	src      Sources
	defaults Settings
}

// New returns a retriever over src with default settings d (e.g. the
// collection's tuned retriever.json); per-call settings overlay them.
func New(src Sources, d Settings) (*Retriever, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	if src.Dense == nil && src.Lexical == nil {
		return nil, fmt.Errorf("%w: neither a vector index nor a BM25 index", ErrNoSource)
	}
	return &Retriever{src: src, defaults: d}, nil
}

// Defaults returns the retriever's default settings.
func (r *Retriever) Defaults() Settings { return r.defaults }

// Result is the answer to one query.
type Result struct {
	Hits      []Hit    `json:"hits"`
	Mode      Mode     `json:"mode"`
	Settings  Settings `json:"settings"`
	Truncated bool     `json:"truncated,omitempty"` // the query was cut to MaxQueryRunes
	K         int      `json:"k"`                   // after clamping to the collection size
}

// resolve overlays s on the retriever's defaults and fills the rest for
// a query of k results.
func (r *Retriever) resolve(s Settings, k int, haveVector bool) Settings {
	s = r.defaults.Overlay(s)
	if s.Mode == "" {
		switch {
		case r.src.Dense != nil && r.src.Lexical != nil && (r.src.Encoder != nil || haveVector):
			s.Mode = Hybrid
		case r.src.Lexical != nil:
			s.Mode = BM25
		default:
			s.Mode = Dense
		}
	}
	if s.KPrime == 0 {
		s.KPrime = max(100, k)
	}
	s = resolveStatic(s)
	if s.Ef != 0 {
		s.Ef = max(s.Ef, s.KPrime)
	}
	return s
}

// CleanQuery trims q, reports ErrEmptyQuery for nothing left, and cuts it
// to MaxQueryRunes.
func CleanQuery(q string) (string, bool, error) {
	q = strings.TrimFunc(q, func(r rune) bool { return unicode.IsSpace(r) || r == 0 })
	if q == "" {
		return "", false, ErrEmptyQuery
	}
	if !utf8.ValidString(q) {
		q = strings.ToValidUTF8(q, "\uFFFD")
	}
	if utf8.RuneCountInString(q) <= MaxQueryRunes {
		return q, false, nil
	}
	n := 0
	for i := range q {
		if n == MaxQueryRunes {
			return q[:i], true, nil
		}
		n++
	}
	return q, false, nil
}

func (r *Retriever) size() (int, error) {
	n := 0
	if r.src.Lexical != nil {
		c, err := r.src.Lexical.Count()
		if err != nil {
			return 0, err
		}
		n = c
	}
	if r.src.Dense != nil {
		n = max(n, r.src.Dense.Len())
	}
	return n, nil
}

// Search answers a text query.
func (r *Retriever) Search(ctx context.Context, query string, k int, s Settings) (*Result, error) {
	return r.search(ctx, query, nil, k, s)
}

// SearchVector answers a dense query given as a raw vector (it is
// normalised to unit length here). Only dense mode, or hybrid with a text
// query too (query may be "" for dense only).
func (r *Retriever) SearchVector(ctx context.Context, query string, v []float32, k int, s Settings) (*Result, error) {
	if len(v) == 0 {
		return nil, fmt.Errorf("retriever: empty query vector")
	}
	if !vec.Finite(v) {
		return nil, fmt.Errorf("retriever: query vector has NaN or infinite values")
	}
	if vec.Norm(v) == 0 {
		return nil, fmt.Errorf("retriever: query vector is all zeros")
	}
	return r.search(ctx, query, v, k, s)
}

func (r *Retriever) search(ctx context.Context, query string, qv []float32, k int, s Settings) (*Result, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	if k < 1 {
		return nil, fmt.Errorf("retriever: k %d must be >= 1", k)
	}
	res := &Result{}
	var err error
	if qv != nil && strings.TrimSpace(query) == "" {
		query = "" // vector-only query
	}
	if qv == nil || query != "" {
		query, res.Truncated, err = CleanQuery(query)
		if err != nil {
			return nil, err
		}
	}
	n, err := r.size()
	if err != nil {
		return nil, err
	}
	k = min(k, n)
	res.K = k
	s = r.resolve(s, k, qv != nil)
	if qv != nil && query == "" {
		s.Mode = Dense
	}
	res.Mode, res.Settings = s.Mode, s
	if k == 0 {
		res.Hits = []Hit{}
		return res, nil
	}
	if s.Collapse > 0 && r.src.Vectors == nil {
		return nil, fmt.Errorf("%w: collapsing near-duplicates needs stored vectors", ErrNoSource)
	}
	want := k // hits before collapsing: over-fetch so k remain
	if s.Collapse > 0 {
		want = min(n, 2*k)
	}
	switch s.Mode {
	case BM25:
		if r.src.Lexical == nil {
			return nil, fmt.Errorf("%w: bm25 mode needs the collection's BM25 index", ErrNoSource)
		}
		l, err := r.lexical(ctx, query, want)
		if err != nil {
			return nil, err
		}
		res.Hits = Single(l)
	case Dense:
		l, err := r.dense(ctx, query, qv, want, s)
		if err != nil {
			return nil, err
		}
		res.Hits = Single(l)
	case Hybrid:
		c, err := r.candidates(ctx, query, qv, s, s.Shape)
		if err != nil {
			return nil, err
		}
		res.Hits = FuseCandidates(c, s)
	}
	if s.Collapse > 0 {
		if res.Hits, err = r.collapse(ctx, res.Hits, k, s.Collapse); err != nil {
			return nil, err
		}
	}
	if len(res.Hits) > k {
		res.Hits = res.Hits[:k]
	}
	return res, nil
}

// Candidates are the raw per-source lists of one query, before fusion.
type Candidates struct {
	Dense List // dense top k'
	BM25  List // BM25 top k' (union shape)
	// Rescored are the BM25 scores of the Dense candidates (rerank shape),
	// best first, those matching no query term left out.
	Rescored List
	// DenseBM25[i] is the BM25 score of Dense.Hits[i] and BM25Dense[i] the
	// dense score of BM25.Hits[i] (NaN: no stored vector) (full shape).
	DenseBM25, BM25Dense []float64
}

// Candidates returns every source list of a query at s.KPrime (defaults
// resolved for k), for fusing many settings offline (Tune). qv may be nil
// to encode query with the query tower.
func (r *Retriever) Candidates(ctx context.Context, query string, qv []float32, k int, s Settings) (Candidates, error) {
	if err := s.Validate(); err != nil {
		return Candidates{}, err
	}
	query, _, err := CleanQuery(query)
	if err != nil {
		return Candidates{}, err
	}
	s = r.resolve(s, k, qv != nil)
	return r.candidates(ctx, query, qv, s, "")
}

// candidates fetches the lists a shape needs ("" = both shapes).
func (r *Retriever) candidates(ctx context.Context, query string, qv []float32, s Settings, shape string) (Candidates, error) {
	var c Candidates
	if r.src.Lexical == nil {
		return c, fmt.Errorf("%w: hybrid mode needs the collection's BM25 index", ErrNoSource)
	}
	var err error
	if qv == nil {
		if qv, err = r.Embed(query); err != nil {
			return c, err
		}
	} else {
		qv = slices.Clone(qv)
		vec.Normalize(qv)
	}
	if c.Dense, err = r.dense(ctx, query, qv, s.KPrime, s); err != nil {
		return c, err
	}
	if shape == "" || shape == ShapeRerank || shape == ShapeFull {
		ids := make([]string, len(c.Dense.Hits))
		for i, h := range c.Dense.Hits {
			ids[i] = h.DocID
		}
		if c.DenseBM25, err = r.src.Lexical.Score(ctx, query, ids); err != nil {
			return c, err
		}
		c.Rescored = List{Source: string(BM25)}
		for i, sc := range c.DenseBM25 {
			if sc > 0 {
				c.Rescored.Hits = append(c.Rescored.Hits, Scored{ids[i], sc})
			}
		}
		sortScored(c.Rescored.Hits)
	}
	if shape != ShapeRerank {
		if c.BM25, err = r.lexical(ctx, query, s.KPrime); err != nil {
			return c, err
		}
	}
	if (shape == "" && r.src.Vectors != nil) || shape == ShapeFull {
		if r.src.Vectors == nil {
			return c, fmt.Errorf("%w: the full hybrid shape needs stored vectors", ErrNoSource)
		}
		c.BM25Dense = make([]float64, len(c.BM25.Hits))
		for i, h := range c.BM25.Hits {
			v, err := r.src.Vectors.Vector(ctx, h.DocID)
			if err != nil {
				return c, err
			}
			c.BM25Dense[i] = math.NaN()
			if len(v) == len(qv) {
				c.BM25Dense[i] = float64(vec.Dot(qv, v))
			}
		}
	}
	return c, nil
}

// completed returns the dense and BM25 lists over the union of both top
// k' lists, each candidate scored by both sources where possible.
func completed(c Candidates, kp int) (List, List) {
	d, b := truncate(c.Dense, kp), truncate(c.BM25, kp)
	ds := map[string]float64{}
	bs := map[string]float64{}
	for i, h := range d.Hits {
		ds[h.DocID] = h.Score
		if i < len(c.DenseBM25) {
			bs[h.DocID] = c.DenseBM25[i]
		}
	}
	for i, h := range b.Hits {
		bs[h.DocID] = h.Score
		if _, ok := ds[h.DocID]; !ok && i < len(c.BM25Dense) && !math.IsNaN(c.BM25Dense[i]) {
			ds[h.DocID] = c.BM25Dense[i]
		}
	}
	toList := func(src string, m map[string]float64) List {
		l := List{Source: src, Hits: make([]Scored, 0, len(m))}
		for id, sc := range m {
			l.Hits = append(l.Hits, Scored{id, sc})
		}
		sortScored(l.Hits)
		return l
	}
	return toList(string(Dense), ds), toList(string(BM25), bs)
}

// FuseCandidates fuses c by s (defaults must be resolved; Shape, Fusion,
// RRFK, Alpha, Norm and KPrime are used): lists are first cut to s.KPrime.
// Pure; the result is every fused candidate, best first.
func FuseCandidates(c Candidates, s Settings) []Hit {
	d := truncate(c.Dense, s.KPrime)
	var lx List
	if s.Shape == ShapeFull {
		d, lx = completed(c, s.KPrime)
	} else if s.Shape == ShapeRerank {
		in := make(map[string]bool, len(d.Hits))
		for _, h := range d.Hits {
			in[h.DocID] = true
		}
		lx = List{Source: c.Rescored.Source}
		for _, h := range c.Rescored.Hits {
			if in[h.DocID] {
				lx.Hits = append(lx.Hits, h)
			}
		}
	} else {
		lx = truncate(c.BM25, s.KPrime)
	}
	if lx.Source == "" {
		lx.Source = string(BM25)
	}
	if d.Source == "" {
		d.Source = string(Dense)
	}
	if s.Fusion == FusionWeighted {
		a := s.AlphaValue()
		return Weighted([]List{d, lx}, []float64{a, 1 - a}, s.Norm)
	}
	return RRF([]List{d, lx}, s.RRFK)
}

func truncate(l List, k int) List {
	if k > 0 && len(l.Hits) > k {
		l.Hits = l.Hits[:k]
	}
	return l
}

func (r *Retriever) lexical(ctx context.Context, query string, k int) (List, error) {
	h, err := r.src.Lexical.Search(ctx, query, k)
	if err != nil {
		return List{}, err
	}
	return List{Source: string(BM25), Hits: h}, nil
}

// Embed returns the unit query vector of text (query tower).
func (r *Retriever) Embed(text string) ([]float32, error) {
	if r.src.Encoder == nil {
		return nil, fmt.Errorf("%w: no encoder model for dense queries (pass a query vector instead)", ErrNoSource)
	}
	v := make([]float32, r.src.Encoder.Dim())
	r.src.Encoder.Encode(encoder.QueryTower, text, v)
	return v, nil
}

func (r *Retriever) dense(ctx context.Context, query string, qv []float32, k int, s Settings) (List, error) {
	if r.src.Dense == nil {
		return List{}, fmt.Errorf("%w: %s mode needs the collection's vector index", ErrNoSource, s.Mode)
	}
	if qv == nil {
		var err error
		if qv, err = r.Embed(query); err != nil {
			return List{}, err
		}
	} else {
		qv = slices.Clone(qv)
		vec.Normalize(qv)
	}
	kk := k
	if s.ExactRerank {
		kk = max(k, s.KPrime)
	}
	h, err := r.src.Dense.SearchVector(ctx, qv, kk, s.Ef)
	if err != nil {
		return List{}, err
	}
	if s.ExactRerank {
		if r.src.Vectors == nil {
			return List{}, fmt.Errorf("%w: exact rerank needs stored vectors", ErrNoSource)
		}
		for i := range h {
			v, err := r.src.Vectors.Vector(ctx, h[i].DocID)
			if err != nil {
				return List{}, err
			}
			if len(v) == len(qv) {
				h[i].Score = float64(vec.Dot(qv, v))
			}
		}
		sortScored(h)
	}
	if len(h) > k {
		h = h[:k]
	}
	return List{Source: string(Dense), Hits: h}, nil
}

// SettingsFile is the name of the tuned settings file in a collection dir.
const SettingsFile = "retriever.json"

// BM25Dir returns where a collection keeps its BM25 index: DIR/bm25.
func BM25Dir(collection string) string { return filepath.Join(collection, "bm25") }

// settingsDoc is the on-disk form, with a version and a provenance note.
type settingsDoc struct {
	Version  int      `json:"version"`
	Settings Settings `json:"settings"`
	Note     string   `json:"note,omitempty"` // how they were chosen (split, metric, value)
}

const settingsVersion = 1

// LoadSettings reads DIR/retriever.json; a missing file gives the zero
// Settings (defaults) and no error.
func LoadSettings(dir string) (Settings, string, error) {
	p := filepath.Join(dir, SettingsFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Settings{}, "", nil
	}
	if err != nil {
		return Settings{}, "", err
	}
	var d settingsDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return Settings{}, "", fmt.Errorf("%w: %s: %v", ErrBadSettings, p, err)
	}
	if d.Version != settingsVersion {
		return Settings{}, "", fmt.Errorf("%w: %s: unsupported version %d (this build reads %d)", ErrBadSettings, p, d.Version, settingsVersion)
	}
	if err := d.Settings.Validate(); err != nil {
		return Settings{}, "", fmt.Errorf("%s: %w", p, err)
	}
	return d.Settings, d.Note, nil
}

// SaveSettings writes DIR/retriever.json atomically.
func SaveSettings(dir string, s Settings, note string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(settingsDoc{settingsVersion, s, note}, "", "  ")
	if err != nil {
		return err
	}
	return frame.WriteFileAtomic(filepath.Join(dir, SettingsFile), func(w io.Writer) error {
		_, err := w.Write(append(b, '\n'))
		return err
	})
}

// sortScored orders by score descending, then doc id ascending.
func sortScored(h []Scored) {
	slices.SortStableFunc(h, func(a, b Scored) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return strings.Compare(a.DocID, b.DocID)
	})
}

func normalize(v []float32) { vec.Normalize(v) }

// collapse keeps, best first, hits whose vector is not within cosine
// threshold of a kept one, until k are kept; dropped ids go to the
// keeper's Duplicates. Hits without a stored vector are kept as they are.
func (r *Retriever) collapse(ctx context.Context, hits []Hit, k int, threshold float64) ([]Hit, error) {
	var kept []Hit
	var vecs [][]float32
	for _, h := range hits {
		if len(kept) == k {
			break
		}
		v, err := r.src.Vectors.Vector(ctx, h.DocID)
		if err != nil {
			return nil, err
		}
		dup := -1
		if v != nil {
			for i, u := range vecs {
				if u != nil && len(u) == len(v) && float64(vec.Dot(u, v)) >= threshold {
					dup = i
					break
				}
			}
		}
		if dup >= 0 {
			kept[dup].Duplicates = append(kept[dup].Duplicates, h.DocID)
			continue
		}
		kept = append(kept, h)
		vecs = append(vecs, v)
	}
	return kept, nil
}
