package retriever

import (
	"fmt"
	"math"
	"sort"
)

// Scored is one entry of a ranked source list.
type Scored struct {
	DocID string
	Score float64
}

// List is one source's ranking, best first (rank 1 = Hits[0]).
type List struct {
	Source string // "dense", "bm25", ...
	Hits   []Scored
}

// Contribution is what one source said about a hit.
type Contribution struct {
	Source string  `json:"source"`
	Rank   int     `json:"rank,omitempty"` // 1-based; 0 = not in this source's list
	Score  float64 `json:"score"`          // the source's raw score (0 when absent)
	Norm   float64 `json:"norm,omitempty"` // normalised score used by weighted fusion
	Part   float64 `json:"part"`           // this source's share of the fused score
}

// Hit is a fused (or single-source) result; Sources explain Score.
type Hit struct {
	DocID   string         `json:"id"`
	Score   float64        `json:"score"`
	Sources []Contribution `json:"sources,omitempty"`
	// Duplicates are near-duplicate hits folded into this one (Settings.Collapse).
	Duplicates []string `json:"duplicates,omitempty"`
}

// Norm names a score normalisation for weighted fusion.
type Norm string

const (
	// MinMax maps a list's scores to (s - min) / (max - min), so its best
	// hit gets 1 and its worst 0 (all 1 when every score is equal). A
	// document absent from the list gets 0.
	MinMax Norm = "minmax"
	// ZScore maps a list's scores to (s - mean) / stddev (population; 0
	// when stddev is 0). A document absent from the list gets the list's
	// lowest z-score, i.e. it is treated like the list's last hit.
	ZScore Norm = "zscore"
)

// sortHits orders by score descending, then doc id ascending.
func sortHits(h []Hit) {
	sort.Slice(h, func(i, j int) bool {
		if h[i].Score != h[j].Score {
			return h[i].Score > h[j].Score
		}
		return h[i].DocID < h[j].DocID
	})
}

// union gathers the distinct doc ids of lists in first-seen order, each
// hit carrying one Contribution per list (rank 0 when absent).
func union(lists []List) ([]Hit, map[string]int) {
	pos := map[string]int{}
	var hits []Hit
	for li, l := range lists {
		for r, s := range l.Hits {
			i, ok := pos[s.DocID]
			if !ok {
				i = len(hits)
				pos[s.DocID] = i
				c := make([]Contribution, len(lists))
				for j := range c {
					c[j].Source = lists[j].Source
				}
				hits = append(hits, Hit{DocID: s.DocID, Sources: c})
			}
			if hits[i].Sources[li].Rank == 0 { // keep the first (best) occurrence
				hits[i].Sources[li].Rank = r + 1
				hits[i].Sources[li].Score = s.Score
			}
		}
	}
	return hits, pos
}

// RRF is reciprocal-rank fusion (Cormack et al. 2009): the fused score of a
// document is the sum over lists containing it of 1 / (k + rank), rank
// 1-based. k <= 0 means 60. The result holds every document of every list,
// best first, ties by doc id ascending.
func RRF(lists []List, k float64) []Hit {
	if k <= 0 {
		k = 60
	}
	hits, _ := union(lists)
	for i := range hits {
		var s float64
		for j := range hits[i].Sources {
			c := &hits[i].Sources[j]
			if c.Rank > 0 {
				c.Part = 1 / (k + float64(c.Rank))
				s += c.Part
			}
		}
		hits[i].Score = s
	}
	sortHits(hits)
	return hits
}

// Weighted is a convex combination of normalised scores: the fused score is
// sum_j weights[j] * norm_j(score). With two lists (dense, bm25) and
// weights (alpha, 1-alpha), alpha = 1 is dense only and 0 is BM25 only.
// weights must have one entry per list, each in [0, 1]; otherwise it panics
// (programmer error: the retriever validates user input).
func Weighted(lists []List, weights []float64, norm Norm) []Hit {
	if len(weights) != len(lists) {
		panic(fmt.Sprintf("retriever: %d weights for %d lists", len(weights), len(lists)))
	}
	hits, _ := union(lists)
	for j, l := range lists {
		f, missing := normaliser(l.Hits, norm)
		for i := range hits {
			c := &hits[i].Sources[j]
			if c.Rank > 0 {
				c.Norm = f(c.Score)
			} else {
				c.Norm = missing
			}
			c.Part = weights[j] * c.Norm
			hits[i].Score += c.Part
		}
	}
	sortHits(hits)
	return hits
}

// normaliser returns the normalisation of a list's scores and the value
// given to documents absent from it.
func normaliser(h []Scored, norm Norm) (func(float64) float64, float64) {
	if len(h) == 0 {
		return func(float64) float64 { return 0 }, 0
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	var sum float64
	for _, s := range h {
		lo, hi = min(lo, s.Score), max(hi, s.Score)
		sum += s.Score
	}
	switch norm {
	case ZScore:
		mean := sum / float64(len(h))
		var v float64
		for _, s := range h {
			v += (s.Score - mean) * (s.Score - mean)
		}
		sd := math.Sqrt(v / float64(len(h)))
		if sd == 0 {
			return func(float64) float64 { return 0 }, 0
		}
		f := func(x float64) float64 { return (x - mean) / sd }
		return f, f(lo)
	default: // MinMax
		if hi == lo {
			return func(float64) float64 { return 1 }, 0
		}
		return func(x float64) float64 { return (x - lo) / (hi - lo) }, 0
	}
}

// Single wraps one source's list as hits (score = the source's score).
func Single(l List) []Hit {
	hits := make([]Hit, len(l.Hits))
	for i, s := range l.Hits {
		hits[i] = Hit{DocID: s.DocID, Score: s.Score, Sources: []Contribution{{Source: l.Source, Rank: i + 1, Score: s.Score, Part: s.Score}}}
	}
	return hits
}
