// Package trainer trains twin's Siamese (twin-tower) encoders with
// contrastive objectives: hand-written backpropagation through the
// encoder's towers, sparse AdamW, data loaders for pairs, triplets, BEIR
// qrels and raw corpora, hard-negative mining, dev evaluation, and
// resumable checkpoints.
//
//	m, _ := encoder.New(encoder.Config{}, 1)
//	c, _ := trainer.OpenCorpus("corpus.jsonl")
//	res, err := trainer.Train(ctx, m, trainer.Data{
//		Sources: []trainer.Source{&trainer.SelfSupervised{C: c}},
//	}, trainer.Options{Steps: 400, OutDir: "run"})
//	// run/model.safetensors, run/train.jsonl, run/train.png, run/checkpoint.bin
//
// # Losses
//
// NewLoss builds one of LossNames from LossOptions. Every loss sees a batch
// of unit embeddings (Emb: anchors Q, partners P, extra negatives N, labels
// Y) and returns dLoss/dEmbedding; each has a finite-difference gradient
// test against float64. Label convention: Y = 1 similar, 0 dissimilar;
// graded scores are rescaled to [0, 1] by the loaders. Without labels (BEIR
// qrels, crops) the pair losses use every in-batch combination, (Q[i], P[j])
// being positive iff i == j.
//
//   - infonce: softmax cross-entropy of cos/T over in-batch partners and
//     mined negatives; optional symmetric term. The headline loss (a float32
//     SIMD path, checked against the float64 reference).
//   - contrastive / online-contrastive: y D^2/2 + (1-y) max(0, m-D)^2/2, D =
//     sqrt(2-2cos) (Euclidean between unit vectors) or 1-cos.
//   - bce: binary cross-entropy on s*cos+b, s and b fixed or learnt.
//   - triplet / triplet-hard: max(0, D(a,p) - D(a,n) + m), batch-all or
//     batch-hard mining.
//   - cosent, mse: for graded scores (STS).
//
// # Optimisation and parallelism
//
// AdamW: dense layers updated every step; embedding rows only when a batch
// touches them (lazy, global-step bias correction), with their own learning
// rate (EmbLR). A step is data-parallel over Workers goroutines: texts are
// split for forward and backward with per-worker dense-gradient buffers
// (summed in a fixed order, so a run is bit-reproducible for a given
// worker count); embedding rows are split by row, so workers never write the
// same row. Row gradients are not materialised: occurrences are sorted by
// row and summed on demand from the per-text bag gradients (once for the
// clipping norm, once for the update). AVX2/FMA kernels (Go assembly) do the
// bag, axpy and AdamW inner loops; other CPUs use the Go loops.
//
// Memory: the model plus two AdamW moments, i.e. 3 x 4 x 2^Bits x BagDim
// bytes for the table (800 MB at the defaults), plus the same again for
// an untied document tower.
//
// # Reproducibility and checkpoints
//
// Batches are a pure function of (seed, step, draws per source); a
// checkpoint (internal/frame layout, magic TWINCKPT, written atomically)
// holds the model, the optimiser moments, the draw counts, mined negatives
// and the early-stopping state, so a run killed at any moment and resumed
// reaches the same weights as an uninterrupted one (tested with SIGKILL).
//
// Train and the types it returns are not safe for concurrent use; the
// model must not be used for encoding while Train runs (dev evaluation
// encodes between steps).
package trainer
