package encoder

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/twinsearch/twin/internal/corpus"
	"github.com/twinsearch/twin/internal/testutil"
)

func scifactTexts(tb testing.TB) []string {
	dir := testutil.NeedData(tb, "scifact")
	f, err := os.Open(filepath.Join(dir, "corpus.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	docs, err := corpus.ReadAll(f, corpus.Fields{})
	if err != nil {
		tb.Fatal(err)
	}
	texts := make([]string, len(docs))
	for i := range docs {
		texts[i] = docs[i].Body()
	}
	return texts
}

func encodeAll(tb testing.TB, m *Model, texts []string) [][]float32 {
	dst := make([][]float32, len(texts))
	flat := make([]float32, len(texts)*m.Dim())
	for i := range dst {
		dst[i] = flat[i*m.Dim() : (i+1)*m.Dim()]
	}
	if err := m.EncodeBatch(context.Background(), DocTower, texts, dst); err != nil {
		tb.Fatal(err)
	}
	return dst
}

// TestSciFactRoundTrip writes a default-shaped model, reads it back and
// checks every SciFact document encodes to the identical vector.
func TestSciFactRoundTrip(t *testing.T) {
	texts := scifactTexts(t)
	m, err := New(Config{}, 42)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.twin")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := encodeAll(t, m, texts), encodeAll(t, back, texts)
	for i := range a {
		if !equal(a[i], b[i]) {
			t.Fatalf("doc %d encodes differently after the round trip", i)
		}
		if n := vecNorm(a[i]); n < 0.999 || n > 1.001 {
			t.Fatalf("doc %d norm %v", i, n)
		}
	}
}

func vecNorm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}

// BenchmarkSciFact measures featurize and encode throughput in docs/s on
// the SciFact corpus (title + abstract, ~200 words) at b=18, bag 256,
// hidden 256, d=256, on 1 and 2 cores.
func BenchmarkSciFact(b *testing.B) {
	texts := scifactTexts(b)
	m, err := New(Config{}, 42)
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	for _, t := range texts {
		bytes += int64(len(t))
	}
	dst := encodeAll(b, m, texts[:1])
	_ = dst
	for _, cores := range []int{1, 2} {
		b.Run(fmt.Sprintf("featurize/cores=%d", cores), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cores))
			b.SetBytes(bytes)
			b.ReportAllocs()
			for b.Loop() {
				parallelFeaturize(m, texts, cores)
			}
			b.ReportMetric(float64(len(texts))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
		b.Run(fmt.Sprintf("encode/cores=%d", cores), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cores))
			out := make([][]float32, len(texts))
			for i := range out {
				out[i] = make([]float32, m.Dim())
			}
			b.SetBytes(bytes)
			b.ReportAllocs()
			for b.Loop() {
				if err := m.EncodeBatch(context.Background(), DocTower, texts, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(texts))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

func parallelFeaturize(m *Model, texts []string, workers int) {
	done := make(chan struct{})
	for w := 0; w < workers; w++ {
		go func() {
			var fs Features
			var s featScratch
			for i := w; i < len(texts); i += workers {
				m.feat.featurize(texts[i], &fs, &s)
			}
			done <- struct{}{}
		}()
	}
	for w := 0; w < workers; w++ {
		<-done
	}
}
