package retriever

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/twinsearch/twin/index"
	"github.com/twinsearch/twin/index/bm25"
)

func TestCollectionWithBM25Follower(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "coll")
	bm, err := bm25.Open(BM25Dir(dir), bm25.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bm.Close()
	coll, err := index.Open(dir, index.Options{Dim: 3, Followers: []index.Follower{BM25Follower(bm)}})
	if err != nil {
		t.Fatal(err)
	}
	defer coll.Close()
	docs := []index.Doc{
		{ID: "a", Title: "scurvy", Text: "vitamin c deficiency", Vector: []float32{1, 0, 0}},
		{ID: "b", Title: "rickets", Text: "vitamin d deficiency", Vector: []float32{0.9, 0.1, 0}},
		{ID: "c", Title: "hashing", Text: "hash tables and buckets", Vector: []float32{0, 1, 0}},
	}
	if _, err := coll.Upsert(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if err := coll.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.Upsert(ctx, []index.Doc{{ID: "c", Title: "hashing", Text: "vitamin hash", Vector: []float32{0, 1, 0}}}); err != nil {
		t.Fatal(err)
	}
	r, err := New(Sources{Dense: Collection{coll}, Vectors: Collection{coll}, Lexical: BM25Source(bm)}, Settings{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.SearchVector(ctx, "vitamin deficiency", []float32{1, 0, 0}, 5, Settings{Mode: Hybrid, ExactRerank: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := order(res.Hits); got != "a c" {
		t.Fatalf("hybrid after upsert/delete: %q", got)
	}
	if title, _, ok, err := (Collection{coll}).Doc(ctx, "a"); !ok || err != nil || title != "scurvy" {
		t.Fatalf("Doc: %q %v %v", title, ok, err)
	}
	// a fresh BM25 index catches up from the collection
	bm2, err := bm25.Open("", bm25.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer bm2.Close()
	bm2.Upsert(ctx, []bm25.Doc{{ID: "stale", Text: "vitamin"}})
	did, err := SyncBM25(ctx, coll, bm2, false)
	if err != nil || !did {
		t.Fatalf("sync: %v %v", did, err)
	}
	for _, q := range []string{"vitamin", "hash deficiency"} {
		h1, _ := bm.Search(ctx, q, 10)
		h2, _ := bm2.Search(ctx, q, 10)
		if len(h1) != len(h2) {
			t.Fatalf("%q: %v vs %v", q, h1, h2)
		}
		for i := range h1 {
			if h1[i] != h2[i] {
				t.Fatalf("%q: %v vs %v", q, h1, h2)
			}
		}
	}
	if did, err := SyncBM25(ctx, coll, bm2, false); err != nil || did {
		t.Fatalf("second sync should be a no-op: %v %v", did, err)
	}
}
