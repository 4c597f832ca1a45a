package index

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/twinsearch/twin/internal/frame"
	"github.com/twinsearch/twin/lsh"
)

// dupPairs runs dedup over the tables and returns (representative, member) doc-id pairs.
func dupPairs(t *testing.T, c *Collection, tb *LSHTables, tau float64) map[[2]string]bool {
	t.Helper()
	pairs := map[[2]string]bool{}
	_, err := tb.Index().Dedup(context.Background(), lsh.DedupOptions{Threshold: tau}, func(g lsh.Group) error {
		rep, _ := c.DocID(g.Representative)
		for _, m := range g.Members {
			if m.ID != g.Representative {
				id, _ := c.DocID(m.ID)
				pairs[[2]string{rep, id}] = true
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pairs
}

func TestLSHTablesFollowAndPersist(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var logs bytes.Buffer
	lf := &LSHFollower{}
	opt := Options{Dim: 16, HNSW: HNSWOptions{M: 8, EfConstruction: 64}, Logger: quietLogger(&logs), Followers: []Follower{lf}}
	c := openT(t, dir, opt)
	data := mixture(7, 300, 16, 5)
	docs := docsFrom(data, "d")
	// Plant one exact duplicate: d300 copies d5.
	docs = append(docs, Doc{ID: "d300", Text: "copy", Vector: append([]float32(nil), data[5]...)})
	if _, err := c.Upsert(ctx, docs); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLSH(ctx, c); !errors.Is(err, ErrNoLSH) {
		t.Fatalf("before any save: %v, want ErrNoLSH", err)
	}
	tb, err := BuildLSH(ctx, c, 0.99, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := dupPairs(t, c, tb, 0.99); !got[[2]string{"d5", "d300"}] {
		t.Fatalf("planted duplicate not found: %v", got)
	}
	lf.Set(tb)
	// Writes now reach the tables: a new copy of d9, and d300 deleted.
	if _, err := c.Upsert(ctx, []Doc{{ID: "d301", Text: "copy", Vector: append([]float32(nil), data[9]...)}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "d300"); err != nil {
		t.Fatal(err)
	}
	got := dupPairs(t, c, tb, 0.99)
	if !got[[2]string{"d9", "d301"}] || got[[2]string{"d5", "d300"}] {
		t.Fatalf("tables did not follow the writes: %v", got)
	}
	if err := SaveLSH(c, tb); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen: the saved tables match the store and give the same pairs.
	c = openT(t, dir, Options{Logger: quietLogger(&logs)})
	back, err := LoadLSH(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if back.Threshold != 0.99 || back.Index().Len() != tb.Index().Len() {
		t.Fatalf("loaded threshold %v len %d, want 0.99 and %d", back.Threshold, back.Index().Len(), tb.Index().Len())
	}
	if again := dupPairs(t, c, back, 0.99); len(again) != len(got) {
		t.Fatalf("after reload %v, before %v", again, got)
	}
	// A write the tables did not follow makes them stale.
	if _, err := c.Upsert(ctx, []Doc{{ID: "x", Vector: data[1]}}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLSH(ctx, c); !errors.Is(err, ErrStaleLSH) {
		t.Fatalf("after an unfollowed write: %v, want ErrStaleLSH", err)
	}
	// A damaged file is ErrCorrupt, not a panic.
	path := filepath.Join(dir, LSHFile)
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0x10
	os.WriteFile(path, b, 0o644)
	if _, err := LoadLSH(ctx, c); !errors.Is(err, frame.ErrCorrupt) {
		t.Fatalf("flipped byte: %v, want ErrCorrupt", err)
	}
	if _, err := BuildLSH(ctx, c, 1.5, 1); err == nil {
		t.Fatal("threshold 1.5 accepted")
	}
	c.Close()
}
