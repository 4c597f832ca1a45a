// Package trainer trains twin's Siamese (twin-tower) encoders with
// contrastive objectives: hand-written backpropagation through the
// encoder's towers, sparse AdamW, data loaders for pairs, triplets, BEIR
// qrels and raw corpora, dev evaluation, and resumable checkpoints.
package trainer
