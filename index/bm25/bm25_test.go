package bm25

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2/index/scorch"
)

var ctx = context.Background()

func open(t *testing.T, dir string, opt Options) *Index {
	t.Helper()
	ix, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func TestLuceneLengthEncoding(t *testing.T) {
	// Lucene SmallFloat: exact below 40 (24 free values + 16), then 4 significant bits of len-24, truncated.
	for _, c := range []struct{ in, want uint64 }{{0, 0}, {1, 1}, {23, 23}, {24, 24}, {25, 25}, {31, 31}, {32, 32}, {33, 33}, {39, 39}, {40, 40}, {41, 40}, {150, 144}, {1000, 984}} {
		if got := luceneLength(c.in); got != float64(c.want) {
			t.Errorf("luceneLength(%d) = %v, want %d", c.in, got, c.want)
		}
	}
	// monotone, and encode(decode(b)) == b for every byte
	for b := uint64(0); b < 256; b++ {
		if intToByte4(byte4ToInt(b)) != b {
			t.Fatalf("byte %d does not round-trip", b)
		}
	}
}

func TestScoresEqualHandComputation(t *testing.T) {
	const k1, b = 1.2, 0.75
	ix := open(t, "", Options{K1: k1, B: b, Analyzer: "simple"})
	docs := []Doc{
		{ID: "d1", Text: "apple banana apple"},
		{ID: "d2", Title: "banana", Text: "cherry"},
		{ID: "d3", Text: "cherry cherry cherry date"},
		{ID: "d4", Text: ""},
	}
	if err := ix.Upsert(ctx, docs); err != nil {
		t.Fatal(err)
	}
	// N = 3 docs with tokens, 9 tokens, avgdl 3
	idfApple := math.Log(1 + (3-1+0.5)/(1+0.5))
	idfCherry := math.Log(1 + (3-2+0.5)/(2+0.5))
	want := map[string]float64{
		"d1": 2 * idfApple * 2 / (2 + k1*(1-b+b*3/3.0)), // "apple" twice in the query
		"d2": idfCherry * 1 / (1 + k1*(1-b+b*2/3.0)),
		"d3": idfCherry * 3 / (3 + k1*(1-b+b*4/3.0)),
	}
	hits, err := ix.Search(ctx, "Apple cherry apple", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 3 {
		t.Fatalf("hits %v", hits)
	}
	for i, h := range hits {
		if math.Abs(h.Score-want[h.DocID]) > 1e-12 {
			t.Errorf("%s: score %v, want %v", h.DocID, h.Score, want[h.DocID])
		}
		if i > 0 && hits[i-1].Score < h.Score {
			t.Errorf("not sorted: %v", hits)
		}
	}
	sc, err := ix.Score(ctx, "Apple cherry apple", []string{"d3", "nope", "d1", "d4", "d2"})
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"d3", "nope", "d1", "d4", "d2"} {
		if math.Abs(sc[i]-want[id]) > 1e-12 {
			t.Errorf("Score(%s) = %v, want %v", id, sc[i], want[id])
		}
	}
	if h, err := ix.Search(ctx, "the of and", 5); err != nil || len(h) != 0 {
		t.Errorf("stop-word query: %v %v", h, err)
	}
	if _, err := ix.Search(ctx, "apple", 0); err == nil {
		t.Error("k=0: want error")
	}
	if n, _ := ix.Count(); n != 4 {
		t.Errorf("Count = %d", n)
	}
}

func TestTiesByDocID(t *testing.T) {
	ix := open(t, "", Options{Analyzer: "simple"})
	var docs []Doc
	for _, id := range []string{"c", "a", "e", "b", "d"} {
		docs = append(docs, Doc{ID: id, Text: "same words here"})
	}
	if err := ix.Upsert(ctx, docs); err != nil {
		t.Fatal(err)
	}
	hits, err := ix.Search(ctx, "words", 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(hits); got != "a b c" {
		t.Fatalf("tied hits %q, want a b c", got)
	}
}

func ids(h []Hit) string {
	var s []string
	for _, x := range h {
		s = append(s, x.DocID)
	}
	return strings.Join(s, " ")
}

// synth makes n documents of seeded random words from a Zipf-ish vocabulary.
func synth(seed uint64, n int) []Doc {
	r := rand.New(rand.NewPCG(seed, 1))
	vocab := make([]string, 400)
	for i := range vocab {
		vocab[i] = fmt.Sprintf("w%03dx", i)
	}
	docs := make([]Doc, n)
	for i := range docs {
		var sb strings.Builder
		for j := 0; j < 5+r.IntN(120); j++ {
			sb.WriteString(vocab[int(float64(len(vocab))*math.Pow(r.Float64(), 2.5))])
			sb.WriteByte(' ')
		}
		docs[i] = Doc{ID: fmt.Sprintf("doc%04d", i), Title: vocab[r.IntN(len(vocab))], Text: sb.String()}
	}
	return docs
}

func TestDeterministicAcrossSegmentLayouts(t *testing.T) {
	docs := synth(7, 600)
	queries := []string{"w001x w050x", "w300x w002x w002x", "w010x w100x w200x w399x", "w000x"}
	layout := func(dir string, batch int, merge bool, extra func(*Index)) map[string][]Hit {
		ix := open(t, dir, Options{BatchSize: batch})
		if err := ix.Upsert(ctx, docs); err != nil {
			t.Fatal(err)
		}
		if extra != nil {
			extra(ix)
		}
		if merge {
			adv, err := ix.idx.Advanced()
			if err != nil {
				t.Fatal(err)
			}
			if err := adv.(*scorch.Scorch).ForceMerge(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		st, _ := ix.stats()
		rc, err := ix.recount(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st != rc {
			t.Fatalf("maintained stats %+v, recounted %+v", st, rc)
		}
		out := map[string][]Hit{}
		for _, q := range queries {
			h, err := ix.Search(ctx, q, 50)
			if err != nil {
				t.Fatal(err)
			}
			out[q] = h
		}
		return out
	}
	base := layout("", 10000, false, nil)
	cases := []struct {
		name  string
		dir   string
		batch int
		merge bool
		extra func(*Index)
	}{
		{"batches of 7 in memory", "", 7, false, nil},
		{"batches of 50 on disk", t.TempDir(), 50, false, nil},
		{"batches of 50 on disk, force-merged", filepath.Join(t.TempDir(), "m"), 50, true, nil},
		{"re-upserted and deleted then re-added", "", 100, false, func(ix *Index) {
			if err := ix.Delete(ctx, []string{"doc0001", "doc0100", "missing"}); err != nil {
				t.Fatal(err)
			}
			if err := ix.Upsert(ctx, []Doc{{ID: "doc0002", Text: "changed"}, docs[1], docs[100], docs[2]}); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := layout(c.dir, c.batch, c.merge, c.extra)
			for _, q := range queries {
				if len(got[q]) != len(base[q]) {
					t.Fatalf("%q: %d hits vs %d", q, len(got[q]), len(base[q]))
				}
				for i := range got[q] {
					if got[q][i] != base[q][i] { // bit-identical
						t.Fatalf("%q rank %d: %+v vs %+v", q, i, got[q][i], base[q][i])
					}
				}
			}
		})
	}
}

func TestUpsertDeleteStats(t *testing.T) {
	ix := open(t, "", Options{Analyzer: "simple"})
	step := func(name string, f func() error, docs, tokens uint64) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st, _ := ix.stats()
		if st.docs != docs || st.tokens != tokens {
			t.Fatalf("%s: stats %+v, want docs %d tokens %d", name, st, docs, tokens)
		}
	}
	step("add", func() error { return ix.Upsert(ctx, []Doc{{ID: "a", Text: "x y z"}, {ID: "b", Text: "x"}}) }, 2, 4)
	step("replace", func() error { return ix.Upsert(ctx, []Doc{{ID: "a", Text: "x"}}) }, 2, 2)
	step("dup in one call keeps last", func() error { return ix.Upsert(ctx, []Doc{{ID: "c", Text: "p q"}, {ID: "c", Text: "p q r s"}}) }, 3, 6)
	step("empty body", func() error { return ix.Upsert(ctx, []Doc{{ID: "b", Text: "..."}}) }, 2, 5)
	step("delete", func() error { return ix.Delete(ctx, []string{"a", "a", "zz"}) }, 1, 4)
	if ids, err := ix.IDs(ctx); err != nil || strings.Join(sorted(ids), " ") != "b c" {
		t.Fatalf("IDs = %v, %v", ids, err)
	}
	if err := ix.Upsert(ctx, []Doc{{ID: ""}}); err == nil {
		t.Fatal("empty id: want error")
	}
	h, err := ix.Search(ctx, "x", 10)
	if err != nil || len(h) != 0 {
		t.Fatalf("deleted/replaced docs still match: %v %v", h, err)
	}
}

func TestReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bm25")
	ix, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	docs := synth(3, 50)
	if err := ix.Upsert(ctx, docs); err != nil {
		t.Fatal(err)
	}
	before, _ := ix.Search(ctx, "w001x w020x", 10)
	ix.Close()
	if _, err := ix.Search(ctx, "x", 1); err != ErrClosed {
		t.Fatalf("closed: %v", err)
	}
	if _, err := Open(dir, Options{Analyzer: "simple"}); err == nil || !strings.Contains(err.Error(), "analyzer") {
		t.Fatalf("analyzer mismatch: %v", err)
	}
	ix2 := open(t, dir, Options{})
	after, _ := ix2.Search(ctx, "w001x w020x", 10)
	if ids(before) != ids(after) || before[0].Score != after[0].Score {
		t.Fatalf("after reopen %v, before %v", after, before)
	}
	if _, err := Open(t.TempDir(), Options{B: 2, K1: -1}); err == nil || !strings.Contains(err.Error(), "k1") || !strings.Contains(err.Error(), "b 2") {
		t.Fatalf("bad options: %v", err)
	}
	if _, err := Open("", Options{Analyzer: "klingon"}); err == nil {
		t.Fatal("unknown analyzer: want error")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none"), Options{NoCreate: true}); !errors.Is(err, ErrNotExist) {
		t.Fatalf("NoCreate on a missing index: %v", err)
	}
}

func sorted(s []string) []string { slices.Sort(s); return s }

// FuzzSearch feeds arbitrary queries (any script, control bytes, invalid
// UTF-8) to Search and Score: no panic, hits sorted, Score agrees.
func FuzzSearch(f *testing.F) {
	ix, err := Open("", Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer ix.Close()
	if err := ix.Upsert(ctx, synth(1, 40)); err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"w001x w002x", "", "維生素 C", "\xff\xfe", "the the the", strings.Repeat("w003x ", 200)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		hits, err := ix.Search(ctx, q, 5)
		if err != nil {
			t.Fatal(err)
		}
		ids := make([]string, len(hits))
		for i, h := range hits {
			if i > 0 && (hits[i-1].Score < h.Score || math.IsNaN(h.Score)) {
				t.Fatalf("not sorted: %v", hits)
			}
			ids[i] = h.DocID
		}
		sc, err := ix.Score(ctx, q, ids)
		if err != nil {
			t.Fatal(err)
		}
		for i := range hits {
			if sc[i] != hits[i].Score {
				t.Fatalf("Score(%s) = %v, Search said %v", ids[i], sc[i], hits[i].Score)
			}
		}
	})
}

// TestConcurrentSearchAndWrite runs searches while documents are upserted
// and deleted (go test -race): every answer comes from one snapshot, so a
// hit's Score recomputed from the same query is never NaN or negative.
func TestConcurrentSearchAndWrite(t *testing.T) {
	ix := open(t, "", Options{BatchSize: 16})
	docs := synth(5, 200)
	if err := ix.Upsert(ctx, docs[:100]); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	errs := make(chan error, 3)
	for g := 0; g < 2; g++ {
		go func() {
			for {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				hits, err := ix.Search(ctx, "w001x w005x w030x", 10)
				if err != nil {
					errs <- err
					return
				}
				for _, h := range hits {
					if !(h.Score > 0) {
						errs <- fmt.Errorf("bad score %v", h)
						return
					}
				}
			}
		}()
	}
	for i := 100; i < 200; i += 10 {
		if err := ix.Upsert(ctx, docs[i:i+10]); err != nil {
			t.Fatal(err)
		}
		if err := ix.Delete(ctx, []string{docs[i-100].ID}); err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	for g := 0; g < 2; g++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	st, _ := ix.stats()
	rc, _ := ix.recount(ctx)
	if st != rc {
		t.Fatalf("stats %+v after concurrent writes, recount %+v", st, rc)
	}
}
