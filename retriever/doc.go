// Package retriever answers top-k queries over a collection: dense (query
// tower -> ANN -> optional exact rerank), BM25, and hybrid fusion of both,
// with a per-hit explanation (each source's rank and score, the fused score).
//
//	r, err := retriever.New(retriever.Sources{Encoder: model, Dense: coll, Lexical: bm, Vectors: coll})
//	res, err := r.Search(ctx, "what causes scurvy", 10, retriever.Settings{Mode: retriever.Hybrid})
//	for _, h := range res.Hits { fmt.Println(h.DocID, h.Score, h.Sources) }
//
// Hybrid has three shapes:
//   - Union (default): dense top k' and BM25 top k', fused; a document
//     missing from one list gets that list's floor.
//   - Rerank: dense top k' only, BM25 scored for those candidates
//     (bm25.Index.Score: postings seeks, not a search), fused.
//   - Full: the union, with BM25 scored for the dense-only candidates and
//     dense scored (stored vectors) for the BM25-only ones.
//
// Fusion is reciprocal-rank fusion (k = 60 by default) or a weighted sum of
// normalised scores, alpha * dense + (1 - alpha) * bm25, normalised by
// min-max (default) or z-score over each source's candidate list; see Norm.
//
// Queries: empty or white-space queries are ErrEmptyQuery; queries longer
// than MaxQueryRunes are cut there on a rune boundary (Result.Truncated);
// k larger than the collection is clamped to its size.
//
// Settings tuned on a dev split live in the collection directory as
// retriever.json (SettingsFile), read by LoadSettings and written
// atomically by SaveSettings. The BM25 index of a collection lives in
// DIR/bm25 (BM25Dir).
//
// Settings.Collapse folds near-duplicate hits (stored-vector cosine above a
// threshold) into the better-ranked one (Hit.Duplicates).
//
// Tune fuses cached candidates (Retriever.Candidates) under a grid of
// settings and ranks them by dev nDCG@10; twin eval --tune writes the best.
//
// A Retriever is safe for concurrent use when its sources are.
package retriever
