package bm25

import (
	"bufio"
	"io"
	"os"
	"testing"

	"github.com/twinsearch/twin/eval"
	"github.com/twinsearch/twin/internal/corpus"
	"github.com/twinsearch/twin/internal/testutil"
)

// loadSciFact indexes SciFact (title + text) in memory.
func loadSciFact(tb testing.TB) (*Index, *eval.Dataset) {
	dir := testutil.NeedData(tb, "scifact")
	ds, err := eval.LoadBEIR(dir, "test")
	if err != nil {
		tb.Fatal(err)
	}
	f, err := os.Open(eval.CorpusPath(dir))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	cr := corpus.NewReader(bufio.NewReaderSize(f, 1<<20), corpus.Fields{})
	var docs []Doc
	for {
		d, err := cr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		docs = append(docs, Doc{ID: d.ID, Title: d.Title, Text: d.Text})
	}
	ix, err := Open("", Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ix.Close() })
	if err := ix.Upsert(ctx, docs); err != nil {
		tb.Fatal(err)
	}
	return ix, ds
}

func runSciFact(tb testing.TB, ix *Index, ds *eval.Dataset) eval.Report {
	run := eval.Run{}
	for qid := range ds.Qrels {
		hits, err := ix.Search(ctx, ds.Queries[qid], 100)
		if err != nil {
			tb.Fatal(err)
		}
		for _, h := range hits {
			run[qid] = append(run[qid], eval.Hit{DocID: h.DocID, Score: h.Score})
		}
	}
	return eval.Evaluate(ds.Qrels, run, eval.Options{})
}

// TestSciFact checks BM25 quality on SciFact test against Anserini's
// 0.679 (required >= 0.675) for both usual parameter sets.
func TestSciFact(t *testing.T) {
	ix, ds := loadSciFact(t)
	for _, p := range []struct{ k1, b float64 }{{0.9, 0.4}, {1.2, 0.75}} {
		ix.opt.K1, ix.opt.B = p.k1, p.b
		rep := runSciFact(t, ix, ds)
		t.Logf("k1 %.2f b %.2f: nDCG@10 %.4f R@100 %.4f MRR@10 %.4f MAP@100 %.4f (%d queries)",
			p.k1, p.b, rep.Mean.NDCG10, rep.Mean.Recall100, rep.Mean.MRR10, rep.Mean.MAP100, rep.Queries)
		if rep.Queries != 300 {
			t.Fatalf("%d queries evaluated", rep.Queries)
		}
		if rep.Mean.NDCG10 < 0.675 {
			t.Errorf("k1 %v b %v: nDCG@10 %.4f < 0.675", p.k1, p.b, rep.Mean.NDCG10)
		}
	}
}

// BenchmarkSciFactQuery measures one BM25 query (top 100) on SciFact.
func BenchmarkSciFactQuery(b *testing.B) {
	ix, ds := loadSciFact(b)
	var qs []string
	for qid := range ds.Qrels {
		qs = append(qs, ds.Queries[qid])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := ix.Search(ctx, qs[i%len(qs)], 100); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSciFactIndex measures indexing SciFact (5,183 docs, title +
// text) into an in-memory scorch index; run with -benchtime 3x.
func BenchmarkSciFactIndex(b *testing.B) {
	ix, _ := loadSciFact(b) // warm the file cache; reuse its docs
	ix.Close()
	dir := testutil.NeedData(b, "scifact")
	f, err := os.Open(eval.CorpusPath(dir))
	if err != nil {
		b.Fatal(err)
	}
	cd, err := corpus.ReadAll(bufio.NewReader(f), corpus.Fields{})
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	docs := make([]Doc, len(cd))
	for i, d := range cd {
		docs[i] = Doc{ID: d.ID, Title: d.Title, Text: d.Text}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ix, err := Open("", Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := ix.Upsert(ctx, docs); err != nil {
			b.Fatal(err)
		}
		ix.Close()
	}
	b.ReportMetric(float64(len(docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
}
