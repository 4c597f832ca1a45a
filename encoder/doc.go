// Package encoder turns text into unit vectors with twin towers.
//
// The pipeline is
//
//	text -> tokens (NFKC, lower-case, byte offsets) -> hashed sparse features
//	     -> tower (embedding bag -> hidden layers -> projection) -> L2 normalise
//
// Features are word unigrams, word bigrams and character n-grams (3..5 by
// default) of each word with boundary markers ("<" and ">"), hashed with a
// fixed, seeded function into 2^Bits buckets (see FeatureConfig and the hash
// description in features.go; a golden test pins the ids). Weights are the
// sublinear term frequency times a per-family weight (times an optional
// per-bucket IDF), scaled to unit L2 norm.
//
// A Model holds a query tower and a document tower: the same tower (Tied,
// the Siamese default), two towers (Untied), or a shared body with a
// projection head per side (Heads).
//
//	m, err := encoder.New(encoder.Config{}, seed) // or encoder.Load(path)
//	v := make([]float32, m.Dim())
//	m.Encode(encoder.QueryTower, "what is a twin network?", v)
//	err = m.EncodeBatch(ctx, encoder.DocTower, texts, dst) // all cores
//	err = m.Save("model.twin")                            // safetensors
//
// Outputs have unit L2 norm, so cosine similarity is a dot product. A text
// with no features (empty, punctuation only) gives the tower's output for an
// empty bag, normalised; when that output is zero (as in a freshly
// initialised model, whose biases are zero) the result is the zero vector —
// never NaN.
//
// Costs: featurizing is linear in the text (at most MaxTokens tokens, and
// 256 bytes of each token give character n-grams); encoding costs one
// BagDim-wide row addition per distinct feature plus the dense layers. A
// model holds 2^Bits x BagDim float32 per distinct embedding table (256 MiB
// at the defaults).
package encoder
