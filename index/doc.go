// Package index holds twin's vector indexes and its on-disk collection.
//
// Three VectorIndex implementations share one small interface:
//
//   - HNSW, twin's own hierarchical navigable small world graph (Malkov &
//     Yashunin): the fast approximate index.
//   - Flat, exact brute force: the recall oracle and the right choice for
//     small collections.
//   - CoderHNSW, an adapter over github.com/coder/hnsw v0.6.1, kept only so
//     its (poor, see its doc) numbers sit next to ours in every benchmark.
//
// Vectors are float32 and scored by inner product (vec.Dot); callers pass
// unit vectors so the score is cosine similarity, higher is better. Ids are
// caller-chosen uint32 values; memory grows with the largest id, so ids
// should be dense (0, 1, 2, ...), which is what Collection assigns.
//
//	h := index.NewHNSW(128, index.HNSWOptions{M: 16, EfConstruction: 200})
//	for i, v := range vectors { h.Add(uint32(i), v) }
//	hits, err := h.Search(q, 10, 64) // best first
//
// Collection (Open/Close) is one collection directory:
//
//	DIR/manifest.json  format version, metric, dim, HNSW parameters, model
//	                   fingerprint; JSON {"body": ..., "crc32c": N}, replaced atomically
//	DIR/store/         Badger (16 MB memtables and caches, no compression):
//	                   d/<doc id> -> id, n/<id> -> doc id, v/<id> -> vector,
//	                   t/<id> -> {title, text, metadata}, m/... counters,
//	                   checkpoints and the dirty mark (ids big-endian)
//	DIR/graph.hnsw     HNSW snapshot (internal/frame, magic TWINHNSW)
//	DIR/graph.gen      the store generation that snapshot reflects
//
// Badger is the truth; the graph is derived. Open loads the snapshot when
// its generation matches the store's and rebuilds it from Badger (with a
// log line) when it is missing, stale or corrupt. A store left dirty by a
// crash is repaired first (half-written documents removed). Upsert and
// Delete are the only write paths; derived structures (LSH tables, BM25)
// follow them through Options.Followers and rebuild from Iterate and
// IterateDocs.
//
//	c, err := index.Open(dir, index.Options{Dim: 256, ModelFingerprint: m.Fingerprint()})
//	st, err := c.Upsert(ctx, docs)           // by doc id; last wins
//	hits, err := c.Search(q, 10, 0)           // doc ids + cosine, best first
//	err = c.Close()                           // snapshot + sync
package index
