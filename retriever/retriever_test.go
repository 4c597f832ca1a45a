package retriever

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/twinsearch/twin/index/bm25"
)

func TestCleanQuery(t *testing.T) {
	for _, q := range []string{"", "   ", "\t\n\u00a0", "\x00"} {
		if _, _, err := CleanQuery(q); !errors.Is(err, ErrEmptyQuery) {
			t.Errorf("%q: err %v, want ErrEmptyQuery", q, err)
		}
	}
	long := strings.Repeat("é", 100_000)
	got, cut, err := CleanQuery(long)
	if err != nil || !cut || utf8.RuneCountInString(got) != MaxQueryRunes || !utf8.ValidString(got) {
		t.Fatalf("long query: %d runes, cut %v, err %v", utf8.RuneCountInString(got), cut, err)
	}
	if got, cut, _ := CleanQuery("  hello "); got != "hello" || cut {
		t.Fatalf("%q %v", got, cut)
	}
}

func newTestRetriever(t *testing.T) *Retriever {
	lex, err := bm25.Open("", bm25.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lex.Close() })
	ctx := context.Background()
	var docs []bm25.Doc
	dense := NewMemVectors(2)
	for i, w := range []string{"alpha beta", "beta gamma", "gamma delta"} {
		id := string(rune('a' + i))
		docs = append(docs, bm25.Doc{ID: id, Text: w})
		dense.Upsert(id, []float32{float32(i), 1})
	}
	if err := lex.Upsert(ctx, docs); err != nil {
		t.Fatal(err)
	}
	r, err := New(Sources{Dense: dense, Vectors: dense, Lexical: BM25Source(lex)}, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSearchBadInput(t *testing.T) {
	r := newTestRetriever(t)
	ctx := context.Background()
	one := 1.0
	bad := -0.1
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"empty", func() error { _, err := r.Search(ctx, " \n", 3, Settings{Mode: BM25}); return err }, "empty query"},
		{"k=0", func() error { _, err := r.Search(ctx, "beta", 0, Settings{Mode: BM25}); return err }, "k 0"},
		{"alpha", func() error {
			_, err := r.Search(ctx, "beta", 3, Settings{Mode: Hybrid, Fusion: FusionWeighted, Alpha: &bad})
			return err
		}, "alpha -0.1"},
		{"mode", func() error { _, err := r.Search(ctx, "beta", 3, Settings{Mode: "sparse"}); return err }, `mode "sparse"`},
		{"dense without encoder", func() error { _, err := r.Search(ctx, "beta", 3, Settings{Mode: Dense}); return err }, "no encoder"},
		{"zero vector", func() error { _, err := r.SearchVector(ctx, "", []float32{0, 0}, 3, Settings{}); return err }, "all zeros"},
		{"several problems at once", func() error {
			_, err := r.Search(ctx, "x", 3, Settings{Fusion: "max", Norm: "l2", Alpha: &one, KPrime: -1})
			return err
		}, "norm"},
	}
	for _, tc := range tests {
		err := tc.run()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want it to mention %q", tc.name, err, tc.want)
		}
	}
	res, err := r.Search(ctx, strings.Repeat("beta ", 30_000), 10, Settings{Mode: BM25})
	if err != nil || !res.Truncated || res.K != 3 || len(res.Hits) != 2 {
		t.Fatalf("long query: %+v %v", res, err)
	}
	res, err = r.SearchVector(ctx, "", []float32{0, 3}, 2, Settings{Mode: Hybrid})
	if err != nil || res.Mode != Dense || res.Hits[0].DocID != "a" {
		t.Fatalf("vector-only query falls back to dense: %+v %v", res, err)
	}
	res, err = r.SearchVector(ctx, "beta", []float32{0, 3}, 2, Settings{})
	if err != nil || res.Mode != Hybrid {
		t.Fatalf("text + vector without an encoder defaults to hybrid: %+v %v", res, err)
	}
	res, err = r.SearchVector(ctx, "  ", []float32{0, 3}, 2, Settings{})
	if err != nil || res.Mode != Dense {
		t.Fatalf("blank text + vector is a dense query: %+v %v", res, err)
	}
}

func TestSettingsFile(t *testing.T) {
	dir := t.TempDir()
	s, note, err := LoadSettings(dir)
	if err != nil || s.Mode != "" || note != "" {
		t.Fatalf("missing file: %+v %q %v", s, note, err)
	}
	a := 0.3
	want := Settings{Mode: Hybrid, Fusion: FusionWeighted, Alpha: &a, KPrime: 200, RRFK: 20}
	if err := SaveSettings(dir, want, "tuned on dev"); err != nil {
		t.Fatal(err)
	}
	got, note, err := LoadSettings(dir)
	if err != nil || got.AlphaValue() != 0.3 || got.KPrime != 200 || got.Fusion != FusionWeighted || note != "tuned on dev" {
		t.Fatalf("round trip: %+v %q %v", got, note, err)
	}
	// per-call settings overlay the stored ones
	o := got.Overlay(Settings{Mode: BM25})
	if o.Mode != BM25 || o.KPrime != 200 {
		t.Fatalf("overlay %+v", o)
	}
	os.WriteFile(filepath.Join(dir, SettingsFile), []byte(`{"version":1,"settings":{"alpha":7}}`), 0o644)
	if _, _, err := LoadSettings(dir); err == nil || !strings.Contains(err.Error(), "alpha 7") {
		t.Fatalf("bad stored alpha: %v", err)
	}
	os.WriteFile(filepath.Join(dir, SettingsFile), []byte(`{"version":9}`), 0o644)
	if _, _, err := LoadSettings(dir); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Fatalf("bad version: %v", err)
	}
	if err := SaveSettings(dir, Settings{Alpha: &[]float64{2}[0]}, ""); err == nil {
		t.Fatal("saving bad settings: want error")
	}
}

func FuzzLoadSettings(f *testing.F) {
	f.Add(`{"version":1,"settings":{"mode":"hybrid","alpha":0.3,"k_prime":200}}`)
	f.Add(`{"version":1,"settings":{"alpha":-1}}`)
	f.Add(`{"version":2}`)
	f.Add(`[]`)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, s string) {
		os.WriteFile(filepath.Join(dir, SettingsFile), []byte(s), 0o644)
		st, _, err := LoadSettings(dir)
		if err != nil {
			return
		}
		if err := st.Validate(); err != nil {
			t.Fatalf("loaded settings do not validate: %v", err)
		}
		if err := SaveSettings(dir, st, "x"); err != nil {
			t.Fatalf("re-save: %v", err)
		}
	})
}
