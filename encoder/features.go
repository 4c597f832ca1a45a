package encoder

import (
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Feature families. The family tag is hashed with the feature's bytes, so
// the word "the" and the character n-gram "the" land in different buckets.
const (
	famUnigram = 1 // word unigram: the token
	famBigram  = 2 // word bigram: token, 0x1F, next token
	famChar    = 3 // character n-gram of "<" + token + ">"
)

// FeatureConfig says how text becomes hashed sparse features. The zero value
// of every field means its default; the defaults are filled in by New and
// stored in the model file, so a model always featurizes as it was trained.
type FeatureConfig struct {
	// Bits is log2 of the number of hash buckets (default 18; 8..24).
	Bits int `json:"bits"`
	// HashSeed is mixed into every feature hash (default 0x7477696e, "twin").
	HashSeed uint64 `json:"hash_seed"`
	// NGramMin and NGramMax bound the character n-gram lengths in runes,
	// boundary markers included (defaults 3 and 5). NGramMax -1 turns
	// character n-grams off.
	NGramMin int `json:"ngram_min"`
	NGramMax int `json:"ngram_max"`
	// Per-family weights (default 1 each; a negative weight turns the
	// family off).
	UnigramWeight float32 `json:"unigram_weight"`
	BigramWeight  float32 `json:"bigram_weight"`
	CharWeight    float32 `json:"char_weight"`
	// TF is the term-frequency transform: "log" (1 + ln tf, the default),
	// "raw" (tf) or "binary" (1).
	TF string `json:"tf"`
	// MaxTokens bounds the tokens read from one text (default 8192), which
	// bounds time and memory on huge inputs; later tokens are ignored.
	MaxTokens int `json:"max_tokens"`
}

// DefaultHashSeed is the hash seed used when FeatureConfig.HashSeed is zero.
const DefaultHashSeed = 0x7477696e

func (c FeatureConfig) withDefaults() FeatureConfig {
	if c.Bits == 0 {
		c.Bits = 18
	}
	if c.HashSeed == 0 {
		c.HashSeed = DefaultHashSeed
	}
	if c.NGramMin == 0 {
		c.NGramMin = 3
	}
	if c.NGramMax == 0 {
		c.NGramMax = 5
	}
	if c.UnigramWeight == 0 {
		c.UnigramWeight = 1
	}
	if c.BigramWeight == 0 {
		c.BigramWeight = 1
	}
	if c.CharWeight == 0 {
		c.CharWeight = 1
	}
	if c.TF == "" {
		c.TF = "log"
	}
	if c.MaxTokens == 0 {
		c.MaxTokens = 8192
	}
	return c
}

func (c FeatureConfig) validate() []error {
	var errs []error
	if c.Bits < 8 || c.Bits > 24 {
		errs = append(errs, fmt.Errorf("features: bits %d outside 8..24", c.Bits))
	}
	if c.NGramMax != -1 && (c.NGramMin < 1 || c.NGramMax < c.NGramMin || c.NGramMax > 16) {
		errs = append(errs, fmt.Errorf("features: n-gram range %d..%d invalid (want 1 <= min <= max <= 16, or max -1 for none)", c.NGramMin, c.NGramMax))
	}
	switch c.TF {
	case "log", "raw", "binary":
	default:
		errs = append(errs, fmt.Errorf("features: tf %q: want log, raw or binary", c.TF))
	}
	if c.MaxTokens < 0 {
		errs = append(errs, fmt.Errorf("features: max tokens %d < 0", c.MaxTokens))
	}
	if c.UnigramWeight < 0 && c.BigramWeight < 0 && (c.CharWeight < 0 || c.NGramMax == -1) {
		errs = append(errs, errors.New("features: every feature family is turned off"))
	}
	return errs
}

// Features is the sparse feature vector of one text: unique bucket ids in
// ascending order and their weights. Weights are tf-transformed, multiplied
// by the family weight and the model's IDF (when it has one), and scaled to
// unit L2 norm; a text with no features has empty slices.
type Features struct {
	Idx []uint32
	Val []float32
}

// Featurizer turns text into Features. Its methods are safe for concurrent
// use; each call uses a scratch taken from the caller or a pool.
type Featurizer struct {
	cfg  FeatureConfig
	mask uint64
	idf  []float32 // nil or len 1<<Bits
	famW [4]float32
	tfw  [64]float32 // tf transform for tf < 64
}

// NewFeaturizer returns a featurizer for cfg (defaults filled in) and an
// optional IDF vector of length 2^Bits.
func NewFeaturizer(cfg FeatureConfig, idf []float32) (*Featurizer, error) {
	cfg = cfg.withDefaults()
	if errs := cfg.validate(); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if idf != nil && len(idf) != 1<<cfg.Bits {
		return nil, fmt.Errorf("features: idf has %d entries, want %d", len(idf), 1<<cfg.Bits)
	}
	f := &Featurizer{cfg: cfg, mask: 1<<cfg.Bits - 1, idf: idf}
	f.famW = [4]float32{0, cfg.UnigramWeight, cfg.BigramWeight, cfg.CharWeight}
	for i := range f.famW {
		if f.famW[i] < 0 {
			f.famW[i] = 0
		}
	}
	for tf := range f.tfw {
		f.tfw[tf] = f.tfWeight(tf)
	}
	return f, nil
}

// Config returns the featurizer's configuration with defaults filled in.
func (f *Featurizer) Config() FeatureConfig { return f.cfg }

// Buckets returns the number of hash buckets, 2^Bits.
func (f *Featurizer) Buckets() int { return 1 << f.cfg.Bits }

func (f *Featurizer) tfWeight(tf int) float32 {
	switch f.cfg.TF {
	case "raw":
		return float32(tf)
	case "binary":
		return 1
	}
	if tf == 0 {
		return 0
	}
	return float32(1 + math.Log(float64(tf)))
}

// The feature hash, fixed for all versions of format 1: 64-bit FNV-1a over
// the 8 little-endian bytes of the seed, the family tag byte and the feature
// bytes, then the murmur3 fmix64 finaliser; the bucket is the low Bits bits.
const maxCharGramBytes = 256

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func fnvByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

func fnvBytes(h uint64, b []byte) uint64 {
	for _, c := range b {
		h = (h ^ uint64(c)) * fnvPrime
	}
	return h
}

func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// famState returns the FNV state after the seed and the family tag.
func (f *Featurizer) famState(fam byte) uint64 {
	h := uint64(fnvOffset)
	s := f.cfg.HashSeed
	for i := 0; i < 8; i++ {
		h = fnvByte(h, byte(s>>(8*i)))
	}
	return fnvByte(h, fam)
}

// featScratch is the per-call working memory of Featurize.
type featScratch struct {
	tok    tokenizer
	keys   []uint32 // open-addressing table: (id<<2|fam)+1, 0 empty
	counts []uint32
	order  []int32 // occupied slots in insertion order
	packed []uint64
	tmp    []uint64
	runes  []int32 // byte offsets of rune starts in the marked word
	marked []byte
}

func (s *featScratch) reset(capacity int) {
	size := 64
	for size < 2*capacity {
		size <<= 1
	}
	full := s.keys[:cap(s.keys)]
	for _, slot := range s.order {
		full[slot] = 0
	}
	s.order = s.order[:0]
	if cap(s.keys) < size {
		s.keys = make([]uint32, size)
		s.counts = make([]uint32, size)
	} else {
		s.keys = full[:size]
		s.counts = s.counts[:size]
	}
}

func (s *featScratch) add(key uint32) {
	mask := uint32(len(s.keys) - 1)
	slot := (key * 0x9e3779b1) & mask
	k := key + 1
	for {
		switch s.keys[slot] {
		case k:
			s.counts[slot]++
			return
		case 0:
			s.keys[slot] = k
			s.counts[slot] = 1
			s.order = append(s.order, int32(slot))
			return
		}
		slot = (slot + 1) & mask
	}
}

// Featurize computes the features of text into dst (its slices are reused).
func (f *Featurizer) Featurize(text string, dst *Features) {
	s := featPool.Get().(*featScratch)
	f.featurize(text, dst, s)
	featPool.Put(s)
}

func (f *Featurizer) featurize(text string, dst *Features, s *featScratch) {
	dst.Idx, dst.Val = dst.Idx[:0], dst.Val[:0]
	s.tok.tokenize(text, f.cfg.MaxTokens)
	spans := s.tok.spans
	if len(spans) == 0 {
		return
	}
	// Upper bound on distinct keys: unigrams + bigrams + char n-grams.
	ngrams := 0
	if f.famW[famChar] > 0 && f.cfg.NGramMax > 0 {
		ngrams = len(s.tok.buf) + 2*len(spans)
		ngrams *= f.cfg.NGramMax - f.cfg.NGramMin + 1
	}
	s.reset(2*len(spans) + ngrams)
	buf := s.tok.buf
	uni, bi, ch := f.famState(famUnigram), f.famState(famBigram), f.famState(famChar)
	for i, sp := range spans {
		term := buf[sp.a:sp.b]
		if f.famW[famUnigram] > 0 {
			s.add(f.key(fnvBytes(uni, term), famUnigram))
		}
		if f.famW[famBigram] > 0 && i+1 < len(spans) {
			next := spans[i+1]
			h := fnvByte(fnvBytes(bi, term), 0x1f)
			s.add(f.key(fnvBytes(h, buf[next.a:next.b]), famBigram))
		}
		if f.famW[famChar] > 0 && f.cfg.NGramMax > 0 {
			f.charGrams(ch, term, s)
		}
	}
	// Weight, merge ids shared by two families, sort by id.
	s.packed = s.packed[:0]
	for _, slot := range s.order {
		key := s.keys[slot] - 1
		id, fam := key>>2, key&3
		c := s.counts[slot]
		var w float32
		if c < uint32(len(f.tfw)) {
			w = f.tfw[c]
		} else {
			w = f.tfWeight(int(c))
		}
		w *= f.famW[fam]
		if f.idf != nil {
			w *= f.idf[id]
		}
		if w == 0 {
			continue
		}
		s.packed = append(s.packed, uint64(id)<<32|uint64(math.Float32bits(w)))
	}
	s.sortByID()
	var norm float64
	for i := 0; i < len(s.packed); {
		id := uint32(s.packed[i] >> 32)
		var w float32
		for ; i < len(s.packed) && uint32(s.packed[i]>>32) == id; i++ {
			w += math.Float32frombits(uint32(s.packed[i]))
		}
		dst.Idx = append(dst.Idx, id)
		dst.Val = append(dst.Val, w)
		norm += float64(w) * float64(w)
	}
	if norm == 0 {
		dst.Idx, dst.Val = dst.Idx[:0], dst.Val[:0]
		return
	}
	inv := float32(1 / math.Sqrt(norm))
	for i := range dst.Val {
		dst.Val[i] *= inv
	}
}

func (f *Featurizer) key(h uint64, fam uint32) uint32 {
	return uint32(fmix64(h)&f.mask)<<2 | fam
}

// charGrams adds the character n-grams of "<" + term + ">".
// Only the first maxCharGramBytes bytes of a token give character n-grams,
// which bounds the work on pathological tokens (a 1 MB string of letters).
func (f *Featurizer) charGrams(state uint64, term []byte, s *featScratch) {
	if len(term) > maxCharGramBytes {
		cut := maxCharGramBytes
		for cut > 0 && !utf8.RuneStart(term[cut]) {
			cut--
		}
		term = term[:cut]
	}
	s.marked = append(append(append(s.marked[:0], '<'), term...), '>')
	s.runes = s.runes[:0]
	for i := 0; i < len(s.marked); {
		s.runes = append(s.runes, int32(i))
		_, n := utf8.DecodeRune(s.marked[i:])
		i += n
	}
	nr := len(s.runes)
	s.runes = append(s.runes, int32(len(s.marked)))
	lo, hi := f.cfg.NGramMin, f.cfg.NGramMax
	for start := 0; start < nr; start++ {
		h := state
		for n := 1; n <= hi && start+n <= nr; n++ {
			h = fnvBytes(h, s.marked[s.runes[start+n-1]:s.runes[start+n]])
			if n >= lo {
				s.add(f.key(h, famChar))
			}
		}
	}
}

// sortByID sorts s.packed by its high 32 bits (the bucket id, < 2^24) with
// a two-pass LSD radix sort on 12-bit digits: linear, unlike a comparison
// sort, which was a third of featurizing time on SciFact.
func (s *featScratch) sortByID() {
	n := len(s.packed)
	if n < 64 {
		insertionSort(s.packed)
		return
	}
	if cap(s.tmp) < n {
		s.tmp = make([]uint64, n)
	}
	src, dst := s.packed, s.tmp[:n]
	var count [1 << 12]int32
	for pass := 0; pass < 2; pass++ {
		shift := 32 + 12*pass
		clear(count[:])
		for _, v := range src {
			count[(v>>shift)&0xfff]++
		}
		var sum int32
		for i, c := range count {
			count[i] = sum
			sum += c
		}
		for _, v := range src {
			d := (v >> shift) & 0xfff
			dst[count[d]] = v
			count[d]++
		}
		src, dst = dst, src
	}
	// Two passes: the result is back in s.packed.
}

func insertionSort(a []uint64) {
	for i := 1; i < len(a); i++ {
		v := a[i]
		j := i
		for ; j > 0 && a[j-1]>>32 > v>>32; j-- {
			a[j] = a[j-1]
		}
		a[j] = v
	}
}
