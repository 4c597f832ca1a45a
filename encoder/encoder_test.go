package encoder

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// goldenTexts cover ASCII, accents (composed and decomposed), CJK, emoji,
// punctuation only, empty, NUL and invalid UTF-8.
var goldenTexts = []string{
	"The quick brown fox",
	"Café CAFÉ cafe\u0301",
	"東京タワーに行きます",
	"I ❤️ twin 🎉🎉",
	"?!... ---",
	"",
	"nul\x00byte and bad\xffutf8",
	"Ｆｕｌｌｗｉｄｔｈ ＡＢＣ ﬁle",
}

type goldenCase struct {
	Text   string    `json:"text"`
	Tokens []string  `json:"tokens"`
	Idx    []uint32  `json:"idx"`
	Val    []float32 `json:"val"`
}

// TestGoldenFeatures pins tokens, feature ids and weights: any change to
// tokenisation or hashing breaks every stored model and index, so it must
// be deliberate (rerun with -update and bump FormatVersion).
func TestGoldenFeatures(t *testing.T) {
	f, err := NewFeaturizer(FeatureConfig{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []goldenCase
	for _, text := range goldenTexts {
		var fs Features
		f.Featurize(text, &fs)
		c := goldenCase{Text: text, Idx: fs.Idx, Val: fs.Val, Tokens: []string{}}
		for _, tok := range Tokenize(text, 0) {
			c.Tokens = append(c.Tokens, tok.Term)
		}
		if c.Idx == nil {
			c.Idx, c.Val = []uint32{}, []float32{}
		}
		got = append(got, c)
	}
	path := filepath.Join("testdata", "golden_features.json")
	if *update {
		b, _ := json.MarshalIndent(got, "", " ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update once)", err)
	}
	var want []goldenCase
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(got) {
		t.Fatalf("golden has %d cases, test has %d", len(want), len(got))
	}
	for i := range got {
		g, w := got[i], want[i]
		if strings.Join(g.Tokens, "|") != strings.Join(w.Tokens, "|") {
			t.Errorf("%q tokens %q, golden %q", g.Text, g.Tokens, w.Tokens)
		}
		if len(g.Idx) != len(w.Idx) {
			t.Errorf("%q: %d features, golden %d", g.Text, len(g.Idx), len(w.Idx))
			continue
		}
		for j := range g.Idx {
			if g.Idx[j] != w.Idx[j] || math.Abs(float64(g.Val[j]-w.Val[j])) > 1e-7 {
				t.Errorf("%q feature %d: (%d, %v), golden (%d, %v)", g.Text, j, g.Idx[j], g.Val[j], w.Idx[j], w.Val[j])
				break
			}
		}
	}
}

func TestTokenizeOffsets(t *testing.T) {
	text := "Héllo,  wörld! 東京"
	toks := Tokenize(text, 0)
	want := []string{"héllo", "wörld", "東", "京"}
	if len(toks) != len(want) {
		t.Fatalf("got %v", toks)
	}
	for i, tok := range toks {
		if tok.Term != want[i] {
			t.Errorf("token %d = %q, want %q", i, tok.Term, want[i])
		}
		if src := strings.ToLower(text[tok.Start:tok.End]); src != tok.Term {
			t.Errorf("token %d span %q does not match term %q", i, src, tok.Term)
		}
	}
	if got := Tokenize("a b c d e", 2); len(got) != 2 {
		t.Errorf("max tokens 2 gave %d", len(got))
	}
}

func TestFeaturesProperties(t *testing.T) {
	f, _ := NewFeaturizer(FeatureConfig{Bits: 12}, nil)
	var fs Features
	f.Featurize("alpha beta alpha gamma", &fs)
	var norm float64
	for i, id := range fs.Idx {
		if i > 0 && fs.Idx[i-1] >= id {
			t.Fatalf("ids not strictly ascending at %d", i)
		}
		if id >= 1<<12 {
			t.Fatalf("id %d out of range", id)
		}
		norm += float64(fs.Val[i]) * float64(fs.Val[i])
	}
	if math.Abs(norm-1) > 1e-5 {
		t.Fatalf("weights norm^2 %v, want 1", norm)
	}
	// Families can be turned off; seeds change ids.
	only, _ := NewFeaturizer(FeatureConfig{Bits: 12, BigramWeight: -1, CharWeight: -1}, nil)
	var u Features
	only.Featurize("alpha beta alpha gamma", &u)
	if len(u.Idx) != 3 {
		t.Fatalf("unigrams only: %d features, want 3", len(u.Idx))
	}
	seeded, _ := NewFeaturizer(FeatureConfig{Bits: 12, BigramWeight: -1, CharWeight: -1, HashSeed: 99}, nil)
	var s Features
	seeded.Featurize("alpha beta alpha gamma", &s)
	if s.Idx[0] == u.Idx[0] && s.Idx[1] == u.Idx[1] && s.Idx[2] == u.Idx[2] {
		t.Fatal("hash seed does not change ids")
	}
	if _, err := NewFeaturizer(FeatureConfig{Bits: 30, TF: "cubic"}, nil); err == nil || !strings.Contains(err.Error(), "bits") || !strings.Contains(err.Error(), "cubic") {
		t.Fatalf("want both problems reported, got %v", err)
	}
}

func TestHugeAndHostileText(t *testing.T) {
	m, err := New(Config{Features: FeatureConfig{Bits: 12}, BagDim: 16, Dim: 8}, 3)
	if err != nil {
		t.Fatal(err)
	}
	dst := make([]float32, 8)
	cases := map[string]string{
		"1MB of words":    strings.Repeat("lorem ipsum dolor sit amet ", 40000),
		"1MB single word": strings.Repeat("x", 1<<20),
		"NUL bytes":       "\x00\x00abc\x00",
		"invalid UTF-8":   "\xff\xfe\xfd ok \xc3",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			var fs Features
			m.Featurizer().Featurize(text, &fs)
			// Bounded: at most MaxTokens tokens, so at most MaxTokens*(2+3*258) keys.
			if len(fs.Idx) > 1<<12 {
				t.Fatalf("%d features with 2^12 buckets", len(fs.Idx))
			}
			m.Encode(DocTower, text, dst)
			if !finite(dst) {
				t.Fatalf("non-finite output %v", dst)
			}
		})
	}
	if n := len(Tokenize(strings.Repeat("a ", 1<<19), 8192)); n != 8192 {
		t.Fatalf("max tokens: got %d", n)
	}
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// naiveForward is the reference tower in float64, written from the
// formula in Tower's doc and nothing else.
func naiveForward(m *Model, t TowerKind, text string) []float64 {
	var fs Features
	m.Featurizer().Featurize(text, &fs)
	tw := m.Tower(t)
	h := make([]float64, m.Config.BagDim)
	for j, id := range fs.Idx {
		for k := range h {
			h[k] += float64(fs.Val[j]) * float64(tw.Emb[int(id)*m.Config.BagDim+k])
		}
	}
	dense := func(d *Dense, x []float64) []float64 {
		out := make([]float64, d.Out)
		for o := range out {
			s := float64(d.B[o])
			for i := range x {
				s += float64(d.W[o*d.In+i]) * x[i]
			}
			out[o] = s
		}
		return out
	}
	for _, l := range tw.Hidden {
		h = dense(l, h)
		for i := range h {
			switch m.Config.Activation {
			case "tanh":
				h[i] = math.Tanh(h[i])
			case "relu":
				h[i] = math.Max(0, h[i])
			}
		}
	}
	z := dense(tw.Proj, h)
	var n float64
	for _, v := range z {
		n += v * v
	}
	n = math.Sqrt(n)
	for i := range z {
		z[i] /= n
	}
	return z
}

func TestForwardMatchesNaive(t *testing.T) {
	texts := []string{"siamese networks learn similarity", "Twin towers: query and document", "x"}
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"tied tanh", Config{Features: FeatureConfig{Bits: 12}, BagDim: 32, Hidden: []int{24}, Dim: 16, Tying: Tied}},
		{"untied relu 2 layers", Config{Features: FeatureConfig{Bits: 12}, BagDim: 32, Hidden: []int{24, 20}, Activation: "relu", Dim: 16, Tying: Untied}},
		{"heads no hidden", Config{Features: FeatureConfig{Bits: 12}, BagDim: 32, Hidden: []int{}, Dim: 16, Tying: Heads}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(tc.cfg, 7)
			if err != nil {
				t.Fatal(err)
			}
			// Non-zero biases so they are exercised.
			for _, tw := range []*Tower{m.Query, m.Doc} {
				for _, d := range append(tw.Hidden, tw.Proj) {
					for i := range d.B {
						d.B[i] = 0.01 * float32(i%7-3)
					}
				}
			}
			got := make([]float32, 16)
			for _, kind := range []TowerKind{QueryTower, DocTower} {
				for _, text := range texts {
					m.Encode(kind, text, got)
					want := naiveForward(m, kind, text)
					for i := range got {
						if math.Abs(float64(got[i])-want[i]) > 1e-5 {
							t.Fatalf("%s %q [%d]: got %v, want %v", kind, text, i, got[i], want[i])
						}
					}
				}
			}
			q, d := make([]float32, 16), make([]float32, 16)
			m.Encode(QueryTower, texts[0], q)
			m.Encode(DocTower, texts[0], d)
			if same := equal(q, d); same != (tc.cfg.Tying == Tied) {
				t.Fatalf("query and doc towers equal=%v for %s", same, tc.cfg.Tying)
			}
		})
	}
}

func equal(a, b []float32) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEncodeBatchMatchesEncode(t *testing.T) {
	m, _ := New(Config{Features: FeatureConfig{Bits: 12}, BagDim: 16, Dim: 8}, 1)
	texts := make([]string, 100)
	for i := range texts {
		texts[i] = strings.Repeat("word", i%5+1) + " number " + string(rune('a'+i%26))
	}
	dst := make([][]float32, len(texts))
	for i := range dst {
		dst[i] = make([]float32, 8)
	}
	if err := m.EncodeBatch(context.Background(), DocTower, texts, dst); err != nil {
		t.Fatal(err)
	}
	one := make([]float32, 8)
	for i, text := range texts {
		m.Encode(DocTower, text, one)
		if !equal(one, dst[i]) {
			t.Fatalf("text %d differs", i)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := m.EncodeBatch(ctx, DocTower, texts, dst); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled batch: %v", err)
	}
	if err := m.EncodeBatch(context.Background(), DocTower, texts, dst[:3]); err == nil {
		t.Fatal("length mismatch accepted")
	}
}

func TestEncodeAllocs(t *testing.T) {
	m, _ := New(Config{Features: FeatureConfig{Bits: 12}, BagDim: 16, Dim: 8}, 1)
	var s Scratch
	dst := make([]float32, 8)
	text := "the allocation free hot path of the encoder"
	m.EncodeWith(DocTower, text, &s, dst)
	if n := testing.AllocsPerRun(50, func() { m.EncodeWith(DocTower, text, &s, dst) }); n != 0 {
		t.Fatalf("EncodeWith allocates %v times per text", n)
	}
}

func smallModel(t testing.TB, tying Tying) *Model {
	m, err := New(Config{Features: FeatureConfig{Bits: 8}, BagDim: 4, Hidden: []int{3}, Dim: 2, Tying: tying}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetIDF(make([]float32, 256)); err != nil {
		t.Fatal(err)
	}
	for i := range m.IDF {
		m.IDF[i] = 1 + float32(i%3)
	}
	return m
}

func TestModelFileRoundTrip(t *testing.T) {
	for _, tying := range []Tying{Tied, Untied, Heads} {
		t.Run(string(tying), func(t *testing.T) {
			m := smallModel(t, tying)
			path := filepath.Join(t.TempDir(), "m.twin")
			if err := m.Save(path); err != nil {
				t.Fatal(err)
			}
			got, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Fingerprint() != m.Fingerprint() {
				t.Fatal("fingerprint changed in round trip")
			}
			got.ResetFingerprint()
			if got.Fingerprint() != m.Fingerprint() {
				t.Fatal("recomputed fingerprint differs")
			}
			a, b := make([]float32, 2), make([]float32, 2)
			for _, k := range []TowerKind{QueryTower, DocTower} {
				m.Encode(k, "round trip text", a)
				got.Encode(k, "round trip text", b)
				if !equal(a, b) {
					t.Fatalf("%s vectors differ", k)
				}
			}
			if tying == Heads && &got.Query.Emb[0] != &got.Doc.Emb[0] {
				t.Fatal("heads model lost its shared embedding")
			}
		})
	}
	a, b := smallModel(t, Tied), smallModel(t, Tied)
	b.Query.Proj.B[0] += 1e-3
	b.ResetFingerprint()
	if a.Fingerprint() == b.Fingerprint() {
		t.Fatal("different weights, same fingerprint")
	}
}

func TestModelFileCorruption(t *testing.T) {
	m := smallModel(t, Untied)
	var buf bytes.Buffer
	if err := m.Write(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for i := range good {
		bad := bytes.Clone(good)
		bad[i] ^= 0x01
		_, err := Read(bytes.NewReader(bad), int64(len(bad)))
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipped byte %d of %d: err=%v, want ErrCorrupt", i, len(good), err)
		}
	}
	for _, n := range []int{0, 4, 8, 9, 100, len(good) / 2, len(good) - 1} {
		_, err := Read(bytes.NewReader(good[:n]), int64(n))
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: err=%v", n, err)
		}
	}
	var future bytes.Buffer
	if err := m.write(&future, FormatVersion+1); err != nil {
		t.Fatal(err)
	}
	_, err := Read(bytes.NewReader(future.Bytes()), int64(future.Len()))
	if !errors.Is(err, ErrVersion) || !strings.Contains(err.Error(), "this build reads 1") {
		t.Fatalf("future version: %v", err)
	}
}

func FuzzTokenize(f *testing.F) {
	for _, s := range goldenTexts {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		last := 0
		for _, tok := range Tokenize(text, 0) {
			if tok.Start < last || tok.End <= tok.Start || tok.End > len(text) {
				t.Fatalf("bad span %+v in %q", tok, text)
			}
			if tok.Term == "" || !utf8.ValidString(tok.Term) {
				t.Fatalf("bad term %q", tok.Term)
			}
			last = tok.End
		}
		f, _ := NewFeaturizer(FeatureConfig{Bits: 10}, nil)
		var fs Features
		f.Featurize(text, &fs)
		if len(fs.Idx) != len(fs.Val) || !finite(fs.Val) {
			t.Fatal("bad features")
		}
	})
}

func FuzzRead(f *testing.F) {
	var buf bytes.Buffer
	m, _ := New(Config{Features: FeatureConfig{Bits: 8}, BagDim: 2, Hidden: []int{}, Dim: 2}, 1)
	m.Write(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte("\x02\x00\x00\x00\x00\x00\x00\x00{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("error not classified: %v", err)
			}
			return
		}
		var again bytes.Buffer
		if err := m.Write(&again); err != nil {
			t.Fatal(err)
		}
		m2, err := Read(bytes.NewReader(again.Bytes()), int64(again.Len()))
		if err != nil || m2.Fingerprint() != m.Fingerprint() {
			t.Fatalf("re-read: %v", err)
		}
	})
}
