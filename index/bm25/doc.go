// Package bm25 is twin's lexical index: a bleve v2 (scorch) index on disk
// with a BM25 scorer that follows Lucene's BM25Similarity exactly and does
// not depend on how bleve has laid out its segments.
//
//	ix, err := bm25.Open(dir, bm25.Options{})       // dir "" = in memory
//	err = ix.Upsert(ctx, []bm25.Doc{{ID: "d1", Title: "t", Text: "body"}})
//	hits, err := ix.Search(ctx, "query text", 10)  // best first
//	scores, err := ix.Score(ctx, "query text", []string{"d7", "d1"})
//	err = ix.Close()
//
// Why not bleve's own BM25: bleve 2.6 estimates the average field length
// from distinct dictionary terms per segment, uses sqrt(tf) and a query
// norm, so its scores change as segments merge. Here bleve only stores
// postings; the score of document d for query q is
//
//	sum over distinct analysed query terms t, weighted by their count in q:
//	  idf(t) * tf / (tf + k1 * (1 - b + b*dl/avgdl))
//	idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5))
//
// (Lucene >= 8 BM25Similarity, as Anserini uses it; Lucene dropped the
// constant (k1+1) factor, which does not change rankings). tf comes from
// bleve's term field reader; dl is round(1/norm^2) of bleve's field norm,
// then rounded through Lucene's one-byte length encoding (SmallFloat
// intToByte4/byte4ToInt: exact below 24 tokens, ~4 significant bits above);
// df is the postings count without deleted docs; N is the number of live
// documents with at least one token and avgdl their total token count over N.
// N and the token total are maintained by Upsert/Delete inside the same
// bleve batch as the documents (bleve "internal" keys), so a reader sees
// them consistent with the postings it reads. Scores are summed term by term
// in sorted term order, so they are bit-identical whatever the segment
// layout or batch sizes were.
//
// Ties are ranked by doc id ascending.
//
// Costs: Search is O(sum of the postings lengths of the query terms); Score
// of m candidates is O(terms * m) postings seeks. Upsert analyses each
// document once, on all cores, and hands bleve the tokens; it also reads
// each id's stored length to keep the statistics right on replacement.
//
// An Index is safe for concurrent use; writes are serialised internally.
package bm25
