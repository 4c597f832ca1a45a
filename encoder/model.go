package encoder

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/twinsearch/twin/internal/vec"
	"github.com/viterin/vek/vek32"
	"golang.org/x/sync/errgroup"
)

// FormatVersion is the model format this build writes.
//
//	1: safetensors with twin.* metadata, CRC32-C over the whole file.
const FormatVersion = 1

var (
	// ErrCorrupt reports a model file that is damaged or not a twin model.
	ErrCorrupt = errors.New("encoder: corrupt model file")
	// ErrVersion reports a model file from a format this build cannot read.
	ErrVersion = errors.New("encoder: unsupported model format version")
	// ErrConfig reports an invalid model configuration.
	ErrConfig = errors.New("encoder: invalid config")
)

// Tying says how the query and document towers share parameters.
type Tying string

const (
	// Tied: one tower for both sides (Siamese). The default.
	Tied Tying = "tied"
	// Untied: two towers with their own parameters (asymmetric).
	Untied Tying = "untied"
	// Heads: a shared embedding bag and hidden layers, and a projection
	// head per side.
	Heads Tying = "heads"
)

// Config is a model's architecture. The zero value of each field means its
// default; New fills the defaults in and the model file stores them.
type Config struct {
	// Version is the model format version (set by New and Save).
	Version  int           `json:"version"`
	Features FeatureConfig `json:"features"`
	// BagDim is the width of the embedding bag (default 256).
	BagDim int `json:"bag_dim"`
	// Hidden lists the widths of the hidden layers after the bag. nil means
	// the default, one layer of 256; an empty non-nil slice means none.
	Hidden []int `json:"hidden"`
	// Activation after each hidden layer: "tanh" (default), "relu" or
	// "identity".
	Activation string `json:"activation"`
	// Dim is the output dimension (default 256).
	Dim int `json:"dim"`
	// Tying is Tied (default), Untied or Heads.
	Tying Tying `json:"tying"`
	// InitSeed is the seed of the random initialisation (recorded).
	InitSeed uint64 `json:"init_seed"`
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Features = c.Features.withDefaults()
	if c.Version == 0 {
		c.Version = FormatVersion
	}
	if c.BagDim == 0 {
		c.BagDim = 256
	}
	if c.Hidden == nil {
		c.Hidden = []int{256}
	}
	if c.Activation == "" {
		c.Activation = "tanh"
	}
	if c.Dim == 0 {
		c.Dim = 256
	}
	if c.Tying == "" {
		c.Tying = Tied
	}
	return c
}

// Validate reports every problem of c (after defaults) at once.
func (c Config) Validate() error {
	errs := c.Features.validate()
	if c.BagDim < 1 || c.BagDim > 8192 {
		errs = append(errs, fmt.Errorf("bag dim %d outside 1..8192", c.BagDim))
	}
	for i, h := range c.Hidden {
		if h < 1 || h > 8192 {
			errs = append(errs, fmt.Errorf("hidden layer %d width %d outside 1..8192", i, h))
		}
	}
	if len(c.Hidden) > 8 {
		errs = append(errs, fmt.Errorf("%d hidden layers (at most 8)", len(c.Hidden)))
	}
	if c.Dim < 1 || c.Dim > 8192 {
		errs = append(errs, fmt.Errorf("dim %d outside 1..8192", c.Dim))
	}
	switch c.Activation {
	case "tanh", "relu", "identity":
	default:
		errs = append(errs, fmt.Errorf("activation %q: want tanh, relu or identity", c.Activation))
	}
	switch c.Tying {
	case Tied, Untied, Heads:
	default:
		errs = append(errs, fmt.Errorf("tying %q: want tied, untied or heads", c.Tying))
	}
	if c.Version != FormatVersion {
		errs = append(errs, fmt.Errorf("%w %d (this build reads %d)", ErrVersion, c.Version, FormatVersion))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
}

// Dense is a fully connected layer: out = W·in + B, W row-major Out x In
// (PyTorch's Linear layout: W[o*In+i]).
type Dense struct {
	In, Out int
	W       []float32
	B       []float32
}

// Forward computes dst = W·x + B; len(x) == In, len(dst) == Out.
func (d *Dense) Forward(x, dst []float32) {
	for o := 0; o < d.Out; o++ {
		dst[o] = vek32.Dot(d.W[o*d.In:(o+1)*d.In], x) + d.B[o]
	}
}

// Tower is one side of the twin network:
//
//	h0 = Σ_j Val[j]·Emb[Idx[j]]        (embedding bag, weights unit-L2)
//	h(l+1) = act(Hidden[l].W·h(l) + Hidden[l].B)
//	z = Proj.W·h(L) + Proj.B
//	out = z / ||z||                    (z = 0 gives the zero vector)
//
// Emb is Buckets x BagDim row-major.
type Tower struct {
	Emb    []float32
	Hidden []*Dense
	Proj   *Dense
}

// Model is a query tower and a document tower. For Tied models Query and
// Doc are the same *Tower; for Heads models Doc.Emb aliases Query.Emb and
// Doc.Hidden[i] == Query.Hidden[i]. The model is immutable while encoding:
// Encode and EncodeBatch are safe for concurrent use, and changing the
// weights (training) must not overlap with them.
type Model struct {
	Config Config
	Query  *Tower
	Doc    *Tower
	// IDF is an optional per-bucket weight (len 2^Bits) the featurizer
	// multiplies into feature weights; nil means none.
	IDF []float32

	feat *Featurizer
	act  func(x []float32)
	fp   string
}

// TowerKind selects the query or the document tower.
type TowerKind int

const (
	QueryTower TowerKind = iota
	DocTower
)

// ParseTower maps "query"/"doc" to a TowerKind.
func ParseTower(s string) (TowerKind, error) {
	switch s {
	case "query", "q":
		return QueryTower, nil
	case "doc", "document", "d":
		return DocTower, nil
	}
	return 0, fmt.Errorf("tower %q: want query or doc", s)
}

func (t TowerKind) String() string {
	if t == QueryTower {
		return "query"
	}
	return "doc"
}

// New returns a model with seeded random weights: embedding rows N(0, 1),
// dense layers uniform in ±sqrt(6/(in+out)) (Glorot), biases zero.
func New(cfg Config, seed uint64) (*Model, error) {
	cfg = cfg.WithDefaults()
	cfg.InitSeed = seed
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x7477696e))
	buckets := 1 << cfg.Features.Bits
	newEmb := func() []float32 {
		e := make([]float32, buckets*cfg.BagDim)
		for i := range e {
			e[i] = float32(r.NormFloat64())
		}
		return e
	}
	newDense := func(in, out int) *Dense {
		d := &Dense{In: in, Out: out, W: make([]float32, in*out), B: make([]float32, out)}
		lim := math.Sqrt(6 / float64(in+out))
		for i := range d.W {
			d.W[i] = float32((2*r.Float64() - 1) * lim)
		}
		return d
	}
	newBody := func() (emb []float32, hidden []*Dense, last int) {
		emb = newEmb()
		in := cfg.BagDim
		for _, h := range cfg.Hidden {
			hidden = append(hidden, newDense(in, h))
			in = h
		}
		return emb, hidden, in
	}
	m := &Model{Config: cfg}
	emb, hidden, last := newBody()
	m.Query = &Tower{Emb: emb, Hidden: hidden, Proj: newDense(last, cfg.Dim)}
	switch cfg.Tying {
	case Tied:
		m.Doc = m.Query
	case Heads:
		m.Doc = &Tower{Emb: emb, Hidden: hidden, Proj: newDense(last, cfg.Dim)}
	case Untied:
		emb, hidden, last := newBody()
		m.Doc = &Tower{Emb: emb, Hidden: hidden, Proj: newDense(last, cfg.Dim)}
	}
	if err := m.init(); err != nil {
		return nil, err
	}
	return m, nil
}

// init builds the derived state (featurizer, activation) after the weights
// and config are in place.
func (m *Model) init() error {
	f, err := NewFeaturizer(m.Config.Features, m.IDF)
	if err != nil {
		return err
	}
	m.feat = f
	m.act = activation(m.Config.Activation)
	return nil
}

// SetIDF installs (or with nil removes) the per-bucket IDF weights.
func (m *Model) SetIDF(idf []float32) error {
	old := m.IDF
	m.IDF = idf
	if err := m.init(); err != nil {
		m.IDF = old
		return err
	}
	m.fp = ""
	return nil
}

func activation(name string) func(x []float32) {
	return func(x []float32) { Activate(name, x) }
}

// Activate applies the named activation ("tanh", "relu" or "identity";
// anything else is tanh) to x in place: the function the towers use, for
// the trainer's forward pass to match it bit for bit.
func Activate(name string, x []float32) {
	switch name {
	case "relu":
		for i, v := range x {
			if v < 0 {
				x[i] = 0
			}
		}
	case "identity":
	default:
		for i, v := range x {
			x[i] = tanh32(v)
		}
	}
}

// tanh32 is tanh in float32 precision via the exponential; exact to ~1e-7.
func tanh32(x float32) float32 {
	if x > 9 {
		return 1
	}
	if x < -9 {
		return -1
	}
	e := float32(math.Exp(float64(2 * x)))
	return (e - 1) / (e + 1)
}

// Dim returns the output dimension.
func (m *Model) Dim() int { return m.Config.Dim }

// Featurizer returns the model's featurizer.
func (m *Model) Featurizer() *Featurizer { return m.feat }

// Tower returns the query or the document tower.
func (m *Model) Tower(t TowerKind) *Tower {
	if t == QueryTower {
		return m.Query
	}
	return m.Doc
}

// Scratch is the working memory of one encoding; reuse it across calls
// from one goroutine to make encoding allocation-free.
type Scratch struct {
	fs   featScratch
	feat Features
	a, b []float32
}

func (s *Scratch) buffers(n int) ([]float32, []float32) {
	if cap(s.a) < n {
		s.a = make([]float32, n)
		s.b = make([]float32, n)
	}
	return s.a[:n], s.b[:n]
}

var (
	featPool    = sync.Pool{New: func() any { return new(featScratch) }}
	scratchPool = sync.Pool{New: func() any { return new(Scratch) }}
)

// Bag computes the embedding bag h0 = Σ Val[j]·Emb[Idx[j]] into dst
// (len BagDim, overwritten).
func (tw *Tower) Bag(f *Features, dst []float32) {
	clear(dst)
	vec.Bag(dst, tw.Emb, f.Idx, f.Val)
}

// ForwardFeatures runs the tower on features into dst (len Dim), with act
// the model's activation. See Tower for the formula.
func (m *Model) ForwardFeatures(t TowerKind, f *Features, s *Scratch, dst []float32) {
	tw := m.Tower(t)
	width := m.Config.BagDim
	for _, h := range tw.Hidden {
		width = max(width, h.Out)
	}
	cur, other := s.buffers(width)
	h := cur[:m.Config.BagDim]
	tw.Bag(f, h)
	for _, layer := range tw.Hidden {
		out := other[:layer.Out]
		layer.Forward(h, out)
		m.act(out)
		h = out
		cur, other = other, cur
	}
	tw.Proj.Forward(h, dst)
	if n := vec.Norm(dst); n > 0 && !math.IsInf(n, 0) && !math.IsNaN(n) {
		inv := float32(1 / n)
		for i := range dst {
			dst[i] *= inv
		}
	} else {
		clear(dst)
	}
}

// EncodeWith encodes text with the given tower into dst (len Dim) using s
// as working memory: allocation-free once s has grown. The result has unit
// L2 norm, or is all zeros when the tower's output is zero (an empty text
// gives the tower's output for an empty bag: act(B) through the layers,
// normalised — a fixed vector per model, never NaN).
func (m *Model) EncodeWith(t TowerKind, text string, s *Scratch, dst []float32) {
	if len(dst) != m.Config.Dim {
		panic(fmt.Sprintf("encoder: dst has length %d, model dim is %d", len(dst), m.Config.Dim))
	}
	m.feat.featurize(text, &s.feat, &s.fs)
	m.ForwardFeatures(t, &s.feat, s, dst)
}

// Encode encodes one text into dst (len Dim). Safe for concurrent use.
func (m *Model) Encode(t TowerKind, text string, dst []float32) {
	s := scratchPool.Get().(*Scratch)
	m.EncodeWith(t, text, s, dst)
	scratchPool.Put(s)
}

// EncodeBatch encodes texts[i] into dst[i] (each len Dim) over all cores
// (workers = min(GOMAXPROCS, len(texts))). It stops early with ctx's error
// when ctx is cancelled; dst entries already written stay valid.
func (m *Model) EncodeBatch(ctx context.Context, t TowerKind, texts []string, dst [][]float32) error {
	if len(dst) != len(texts) {
		return fmt.Errorf("encoder: %d texts but %d destinations", len(texts), len(dst))
	}
	for i := range dst {
		if len(dst[i]) != m.Config.Dim {
			return fmt.Errorf("encoder: destination %d has length %d, model dim is %d", i, len(dst[i]), m.Config.Dim)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	var next atomic.Int64
	g, ctx := errgroup.WithContext(ctx)
	const chunk = 16
	for w := 0; w < workers; w++ {
		g.Go(func() error {
			s := scratchPool.Get().(*Scratch)
			defer scratchPool.Put(s)
			for {
				if err := ctx.Err(); err != nil {
					return err
				}
				start := int(next.Add(chunk)) - chunk
				if start >= len(texts) {
					return nil
				}
				for i := start; i < min(start+chunk, len(texts)); i++ {
					m.EncodeWith(t, texts[i], s, dst[i])
				}
			}
		})
	}
	return g.Wait()
}

// axpy4 computes dst += a0*x0 + a1*x1 + a2*x2 + a3*x3: four rows in one
// pass, so four memory streams are in flight and dst is loaded and stored
// once instead of four times.
func axpy4(dst, x0, x1, x2, x3 []float32, a0, a1, a2, a3 float32) {
	n := len(dst)
	x0, x1, x2, x3 = x0[:n], x1[:n], x2[:n], x3[:n]
	for i := 0; i < n; i++ {
		dst[i] += a0*x0[i] + a1*x1[i] + a2*x2[i] + a3*x3[i]
	}
}
