// Package lsh is random-hyperplane (sign random projection) locality
// sensitive hashing for unit vectors: signatures, bucket tables with
// multi-probe querying, a parameter chooser with its S-curve, and
// near-duplicate detection (candidate pairs from shared buckets, verified by
// exact cosine, grouped with union-find).
//
// Usage:
//
//	plan, _ := lsh.Choose(lsh.PlanOptions{Threshold: 0.9, Recall: 0.99, N: n})
//	x, _ := lsh.New(lsh.Options{Dim: 256, K: plan.K, L: plan.L, Probes: plan.Probes, Seed: 1})
//	for id, v := range vectors { x.Add(uint32(id), v) }
//	hits, _ := x.Search(q, 10, 0)               // ANN: candidates reranked by exact cosine
//	stats, _ := x.Dedup(ctx, lsh.DedupOptions{Threshold: 0.9}, func(g lsh.Group) error { ... })
//
// Conventions. Each of the L tables hashes a vector to a K-bit key (K <= 64):
// bit b of table t is set when the projection of the vector on the unit
// normal r[t*K+b] is >= 0. The normals are Gaussian draws from a seeded
// math/rand/v2 PCG source, scaled to unit length; they are persisted with
// the tables, so a saved index does not depend on the generator's stability.
// Two vectors at angle theta share a table's key with probability
// (1 - theta/pi)^K; CollisionProb and SCurve compute it, Choose picks K, L and
// the number of probes for a target threshold and recall.
//
// Vectors are expected to be unit length (twin's encoder output): scores are
// dot products, i.e. cosines. The index keeps its own normalised copy of each
// vector unless Options.Source is set, in which case it keeps only the
// signatures and reads vectors through Source (which must then return unit
// vectors, stay valid for every live id, and be safe for concurrent use).
//
// Search and the vector-index interface. Add, Delete, Search and Len have
// the method set of twin's index.VectorIndex (this package does not import
// index). In Search(q, k, ef), ef is the number of buckets probed per table
// (1 = the home bucket only; <= 0 = 1 + Options.Probes); the candidates are
// scored by exact cosine (all of them, or the Options.Rerank found in the
// most tables).
//
// Layout and cost. Per live vector the index holds its id (4 bytes), its L
// keys (8L bytes), one 4-byte entry per table, and the copy of the vector
// (4*Dim bytes) unless Source is set. A table is a slice of slots sorted by
// (key, slot), LSD-radix-sorted when merged, with a directory on the top
// key bits (<= 2 bytes per entry) so a lookup reads one directory cell and
// scans a few entries; vectors added one by one since the last merge
// sit in a small per-table map that is merged geometrically (amortised
// O(log n) per Add). Removal marks a tombstone; tombstones are compacted
// away once they outnumber the live vectors (and before saving).
//
// Goroutine contract: an *Index is safe for concurrent use; Add, Delete and
// Compact take a write lock, Search, Query, Dedup and Save a read lock
// (Save and Dedup may first merge pending entries under the write lock).
package lsh
