package index

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func quietLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func docsFrom(vs [][]float32, prefix string) []Doc {
	out := make([]Doc, len(vs))
	for i, v := range vs {
		out[i] = Doc{ID: fmt.Sprintf("%s%d", prefix, i), Title: "t", Text: fmt.Sprintf("text %d", i), Vector: v, Metadata: []byte(`{"n":1}`)}
	}
	return out
}

func openT(t *testing.T, dir string, opt Options) *Collection {
	t.Helper()
	c, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCollectionLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var logs bytes.Buffer
	opt := Options{Dim: 16, ModelFingerprint: "model-a", HNSW: HNSWOptions{M: 8, EfConstruction: 64}, Logger: quietLogger(&logs)}
	c := openT(t, dir, opt)
	data := mixture(51, 600, 16, 5)
	docs := docsFrom(data, "doc")
	// A duplicate at the end of the batch: the last one wins.
	dup := docs[3]
	dup.Text = "replaced"
	dup.Vector = data[10]
	docs = append(docs, dup)
	st, err := c.Upsert(ctx, docs)
	if err != nil {
		t.Fatal(err)
	}
	if st.Added != 600 || st.Duplicates != 1 || st.DuplicateIDs[0] != "doc3" {
		t.Fatalf("stats %+v", st)
	}
	if c.Len() != 600 {
		t.Fatalf("Len %d", c.Len())
	}
	d, err := c.Get("doc3")
	if err != nil || d.Text != "replaced" || string(d.Metadata) != `{"n":1}` {
		t.Fatalf("Get doc3 = %+v, %v", d, err)
	}
	hits, err := c.Search(data[20], 5, 0)
	if err != nil || len(hits) == 0 || hits[0].DocID != "doc20" {
		t.Fatalf("search own vector: %v %v", hits, err)
	}
	// Replace and delete.
	st, err = c.Upsert(ctx, []Doc{{ID: "doc20", Text: "new", Vector: data[30]}})
	if err != nil || st.Replaced != 1 || st.Added != 0 {
		t.Fatalf("replace: %+v %v", st, err)
	}
	if err := c.Delete(ctx, "doc30"); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, "doc30"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := c.Get("doc30"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get deleted: %v", err)
	}
	hits, _ = c.Search(data[30], 3, 0)
	if len(hits) == 0 || hits[0].DocID != "doc20" {
		t.Fatalf("after replace+delete: %v", hits)
	}
	for _, h := range hits {
		if h.DocID == "doc30" {
			t.Fatal("deleted doc returned")
		}
	}
	n := 0
	if err := c.IterateDocs(ctx, func(id uint32, d Doc) error { n++; return nil }); err != nil || n != 599 {
		t.Fatalf("IterateDocs: %d docs, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen: the snapshot is used (no rebuild log), state is the same.
	logs.Reset()
	c = openT(t, dir, Options{Logger: quietLogger(&logs)})
	if strings.Contains(logs.String(), "rebuil") {
		t.Fatalf("reopen rebuilt the graph: %s", logs.String())
	}
	if c.Len() != 599 || c.Dim() != 16 || c.Manifest().ModelFingerprint != "model-a" {
		t.Fatalf("reopened: len %d dim %d manifest %+v", c.Len(), c.Dim(), c.Manifest())
	}
	c.Close()

	// Corrupt the snapshot: rebuilt with a log line.
	g := filepath.Join(dir, graphFile)
	b, _ := os.ReadFile(g)
	b[len(b)/2] ^= 1
	os.WriteFile(g, b, 0o644)
	logs.Reset()
	c = openT(t, dir, Options{Logger: quietLogger(&logs)})
	if !strings.Contains(logs.String(), "snapshot unreadable") || c.Len() != 599 {
		t.Fatalf("corrupt snapshot: len %d, log %q", c.Len(), logs.String())
	}
	hits, _ = c.Search(data[40], 1, 0)
	if len(hits) != 1 || hits[0].DocID != "doc40" {
		t.Fatalf("after rebuild: %v", hits)
	}
	c.Close()

	// Another model, another dim: clear errors.
	if _, err := Open(dir, Options{ModelFingerprint: "model-b"}); !errors.Is(err, ErrModel) ||
		!strings.Contains(err.Error(), "model-a") || !strings.Contains(err.Error(), "model-b") {
		t.Fatalf("other model: %v", err)
	}
	if _, err := Open(dir, Options{Dim: 8}); !errors.Is(err, ErrDim) {
		t.Fatalf("other dim: %v", err)
	}
	// Corrupt manifest: clear error.
	mp := filepath.Join(dir, ManifestFile)
	mb, _ := os.ReadFile(mp)
	os.WriteFile(mp, bytes.Replace(mb, []byte(`"dim": 16`), []byte(`"dim": 17`), 1), 0o644)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrManifest) {
		t.Fatalf("edited manifest: %v", err)
	}
	os.WriteFile(mp, mb[:len(mb)/2], 0o644)
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrManifest) {
		t.Fatalf("truncated manifest: %v", err)
	}
	os.WriteFile(mp, mb, 0o644)
	if c, err := Open(dir, Options{}); err != nil {
		t.Fatalf("restored manifest: %v", err)
	} else {
		c.Close()
	}
}

func TestCollectionBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Open(dir, Options{}); err == nil {
		t.Fatal("creating without a dimension succeeded")
	}
	c := openT(t, dir, Options{Dim: 4, Logger: quietLogger(new(bytes.Buffer))})
	defer c.Close()
	for _, tc := range []struct {
		name string
		doc  Doc
		want string
	}{
		{"wrong dim", Doc{ID: "a", Vector: []float32{1, 2, 3}}, `"a"`},
		{"NaN", Doc{ID: "b", Vector: []float32{1, float32(math.NaN()), 0, 0}}, `"b"`},
		{"Inf", Doc{ID: "c", Vector: []float32{float32(math.Inf(-1)), 0, 0, 0}}, `"c"`},
		{"empty id", Doc{Vector: []float32{1, 0, 0, 0}}, "empty id"},
		{"bad metadata", Doc{ID: "e", Vector: []float32{1, 0, 0, 0}, Metadata: []byte("{")}, `"e"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Upsert(ctx, []Doc{{ID: "ok", Vector: []float32{0, 1, 0, 0}}, tc.doc})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want mention of %s", err, tc.want)
			}
		})
	}
	if c.Len() != 0 {
		t.Fatalf("a rejected batch left %d docs", c.Len())
	}
	c.Upsert(ctx, []Doc{{ID: "x", Vector: []float32{1, 0, 0, 0}}, {ID: "y", Vector: []float32{0, 1, 0, 0}}})
	if _, err := c.Search([]float32{1, 0, 0, 0}, 0, 0); !errors.Is(err, ErrBadK) {
		t.Fatalf("k=0: %v", err)
	}
	if hits, err := c.Search([]float32{1, 0, 0, 0}, 50, 1); err != nil || len(hits) != 2 {
		t.Fatalf("k > size: %v %v", hits, err)
	}
	if _, err := c.Search([]float32{1, 0}, 1, 0); !errors.Is(err, ErrDim) {
		t.Fatalf("query dim: %v", err)
	}
	// The directory is locked while open.
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second open: %v", err)
	}
}

func TestCollectionConcurrent(t *testing.T) {
	ctx := context.Background()
	c := openT(t, t.TempDir(), Options{Dim: 8, HNSW: HNSWOptions{M: 6, EfConstruction: 32}, Logger: quietLogger(new(bytes.Buffer))})
	defer c.Close()
	data := mixture(61, 400, 8, 4)
	c.Upsert(ctx, docsFrom(data[:100], "d"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := c.Search(data[(i+r)%len(data)], 5, 0); err != nil {
					t.Error(err)
					return
				}
				c.Get(fmt.Sprintf("d%d", i%100))
			}
		}()
	}
	docs := docsFrom(data, "d")
	for i := 100; i < 400; i += 20 {
		if _, err := c.Upsert(ctx, docs[i:i+20]); err != nil {
			t.Fatal(err)
		}
		if err := c.Delete(ctx, fmt.Sprintf("d%d", i-50)); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if c.Len() != 400-15 {
		t.Fatalf("Len %d", c.Len())
	}
}

// TestCollectionRepair simulates a crash in the middle of a batch: the
// store keeps the dirty mark and a half-written record; Open removes the
// orphan, recomputes the next id and rebuilds the graph.
func TestCollectionRepair(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var logs bytes.Buffer
	c := openT(t, dir, Options{Dim: 8, Logger: quietLogger(&logs)})
	data := mixture(71, 50, 8, 2)
	if _, err := c.Upsert(ctx, docsFrom(data, "d")); err != nil {
		t.Fatal(err)
	}
	// Crash: no snapshot, dirty mark stays; plus an orphan record (id 77,
	// no doc mapping) and a dangling mapping (doc "ghost" -> id 78 without
	// a record), as a torn write batch could leave.
	wb := c.db.NewWriteBatch()
	wb.Set(idKey(prefixName, 77), []byte("orphan"))
	wb.Set(idKey(prefixVec, 77), encodeVec(data[0]))
	wb.Set(docKey("ghost"), []byte{0, 0, 0, 78})
	if err := wb.Flush(); err != nil {
		t.Fatal(err)
	}
	c.db.Close()
	c = openT(t, dir, Options{Logger: quietLogger(&logs)})
	defer c.Close()
	if !strings.Contains(logs.String(), "not closed cleanly") || !strings.Contains(logs.String(), "orphan_ids=1") {
		t.Fatalf("log: %s", logs.String())
	}
	if c.Len() != 50 {
		t.Fatalf("Len %d after repair", c.Len())
	}
	if _, err := c.Get("ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("dangling doc: %v", err)
	}
	if _, err := c.DocID(77); !errors.Is(err, ErrNotFound) {
		t.Fatalf("orphan id: %v", err)
	}
	// New ids start after everything ever written.
	st, _ := c.Upsert(ctx, []Doc{{ID: "new", Vector: data[1]}})
	hits, _ := c.Search(data[1], 2, 0)
	if st.Added != 1 || len(hits) < 2 || (hits[0].ID < 79 && hits[1].ID < 79) {
		t.Fatalf("new id not above the old ones: %+v %v", st, hits)
	}
}

func FuzzDecodeManifest(f *testing.F) {
	m := &Manifest{FormatVersion: formatV1, Metric: "cosine", Dim: 8, ModelFingerprint: "x", HNSW: HNSWParams{M: 16, EfConstruction: 200, EfSearch: 64}}
	p := filepath.Join(f.TempDir(), ManifestFile)
	if err := writeManifest(p, m); err != nil {
		f.Fatal(err)
	}
	good, _ := os.ReadFile(p)
	f.Add(good)
	f.Add([]byte(`{"body": {}, "crc32c": 0}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeManifest("m", data)
		if err != nil {
			if !errors.Is(err, ErrManifest) {
				t.Fatalf("error without ErrManifest: %v", err)
			}
			return
		}
		if got.Dim <= 0 || got.Metric != "cosine" {
			t.Fatalf("accepted %+v", got)
		}
	})
}

// TestCollectionReconcile: a crash after the last snapshot leaves a graph
// that is behind the store; Open brings it up to date instead of
// rebuilding it.
func TestCollectionReconcile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var logs bytes.Buffer
	data := mixture(91, 300, 8, 3)
	c := openT(t, dir, Options{Dim: 8, Logger: quietLogger(&logs)})
	c.Upsert(ctx, docsFrom(data[:200], "d"))
	if err := c.Sync(); err != nil { // snapshot at this generation
		t.Fatal(err)
	}
	docs := docsFrom(data, "d")
	c.Upsert(ctx, docs[200:])                                          // added after the snapshot
	c.Upsert(ctx, []Doc{{ID: "d5", Text: "moved", Vector: data[250]}}) // replaced
	c.Delete(ctx, "d7")                                                // deleted
	c.db.Close()                                                       // crash: no Close
	logs.Reset()
	c = openT(t, dir, Options{Logger: quietLogger(&logs)})
	defer c.Close()
	if !strings.Contains(logs.String(), "behind the store") || strings.Contains(logs.String(), "rebuilding") {
		t.Fatalf("log: %s", logs.String())
	}
	if c.Len() != 299 {
		t.Fatalf("Len %d, want 299", c.Len())
	}
	for _, q := range data[:20] {
		hits, _ := c.Search(q, 10, 64)
		for _, h := range hits {
			if h.DocID == "d7" {
				t.Fatal("deleted doc returned")
			}
		}
	}
	hits, _ := c.Search(data[250], 2, 64)
	got := map[string]bool{}
	for _, h := range hits {
		got[h.DocID] = true
	}
	if !got["d5"] || !got["d250"] {
		t.Fatalf("replaced vector: %v", hits)
	}
	hits, _ = c.Search(data[280], 1, 64)
	if len(hits) != 1 || hits[0].DocID != "d280" {
		t.Fatalf("doc added after the snapshot: %v", hits)
	}
}
