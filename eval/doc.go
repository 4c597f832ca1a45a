// Package eval measures rankings: BEIR data set loaders, the IR metrics BEIR
// reports (nDCG@10, Recall@100, MRR@10, MAP@100) with pytrec_eval's
// conventions, and TREC run files in and out.
//
//	ds, err := eval.LoadBEIR(dir, "test")           // corpus is streamed separately
//	run := eval.Run{}                                // qid -> docid -> score
//	run["1"] = map[string]float64{"31715818": 12.5}
//	rep := eval.Evaluate(ds.Qrels, run, eval.Options{})
//	fmt.Println(rep.Mean.NDCG10)
//
// Conventions (those of trec_eval 9.x, which pytrec_eval wraps and BEIR calls):
//
//   - A run is re-sorted before it is scored: by score descending, ties by
//     doc id descending in byte order (trec_eval's comp_sim_docno in
//     form_res_rels.c: strcmp(ptr2->docno, ptr1->docno)). The rank column of
//     a run file is ignored, as trec_eval ignores it.
//   - A document is relevant when its qrels grade is >= 1. nDCG uses the
//     grade itself as the gain (ndcg_cut: linear gain, not 2^rel-1) and the
//     discount log2(rank+1); the ideal ranking sorts every judged grade of
//     the query in descending order. Negative grades count as 0.
//   - Recall@k = relevant docs in the top k / all relevant docs.
//     MAP@k (map_cut) = sum of precision at each relevant doc in the top k,
//     divided by all relevant docs (not by min(k, relevant)).
//     MRR@10 = 1/rank of the first relevant doc in the top 10, else 0.
//   - Queries without any relevant judgement are skipped and counted
//     (Report.NoQrels). Queries with judgements but no retrieved documents
//     score 0 and are averaged in (trec_eval -c), so an empty run is a
//     zero, not a hole in the mean.
//   - Options.DropSelfHits removes a retrieved document whose id equals the
//     query id before scoring (BEIR does this for ArguAna, Quora, ...).
package eval
