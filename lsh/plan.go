package lsh

import (
	"fmt"
	"math"
)

// CollisionProb is the probability that two vectors with cosine similarity
// cos get the same K-bit key in one table: (1 - theta/pi)^K with
// theta = arccos(cos) (Charikar 2002).
func CollisionProb(cos float64, k int) float64 {
	return math.Pow(bitAgree(cos), float64(k))
}

// bitAgree is the probability that one random hyperplane puts both vectors
// on the same side: 1 - theta/pi.
func bitAgree(cos float64) float64 {
	cos = max(-1, min(1, cos))
	return 1 - math.Acos(cos)/math.Pi
}

// ProbeProb is the probability that two vectors with cosine cos have keys
// within Hamming distance radius in one table, i.e. that probing every
// bucket within that radius of one finds the other:
// sum_{i<=radius} C(K,i) p^(K-i) (1-p)^i with p = 1 - theta/pi.
func ProbeProb(cos float64, k, radius int) float64 {
	p := bitAgree(cos)
	var sum float64
	for i := 0; i <= radius && i <= k; i++ {
		sum += binom(k, i) * math.Pow(p, float64(k-i)) * math.Pow(1-p, float64(i))
	}
	return min(1, sum)
}

// AnyProb is the probability that at least one of L tables brings the pair
// together: 1 - (1 - ProbeProb)^L.
func AnyProb(cos float64, k, l, radius int) float64 {
	return 1 - math.Pow(1-ProbeProb(cos, k, radius), float64(l))
}

// ProbesForRadius is the number of extra buckets per table within Hamming
// distance radius of the home bucket: sum_{1<=i<=radius} C(K,i).
func ProbesForRadius(k, radius int) int {
	n := 0.0
	for i := 1; i <= radius && i <= k; i++ {
		n += binom(k, i)
	}
	return int(n)
}

func binom(n, k int) float64 {
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return r
}

// CurvePoint is one row of an S-curve.
type CurvePoint struct {
	Cos      float64 `json:"cos"`
	ThetaDeg float64 `json:"theta_deg"`
	Table    float64 `json:"p_table"` // probability per table (within the probe radius)
	Any      float64 `json:"p_any"`   // probability over L tables
}

// SCurve returns the collision probabilities of a (K, L, radius) scheme at
// the given cosines (nil: -0.2, 0, 0.1, ..., 0.9, 0.95, 0.99, 1).
func SCurve(k, l, radius int, cosines []float64) []CurvePoint {
	if cosines == nil {
		cosines = []float64{-0.2, 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99, 1}
	}
	out := make([]CurvePoint, len(cosines))
	for i, c := range cosines {
		out[i] = CurvePoint{
			Cos:      c,
			ThetaDeg: math.Acos(max(-1, min(1, c))) * 180 / math.Pi,
			Table:    ProbeProb(c, k, radius),
			Any:      AnyProb(c, k, l, radius),
		}
	}
	return out
}

// PlanOptions describes what a parameter choice must achieve.
type PlanOptions struct {
	// Threshold is the cosine tau above which pairs must be found, in (0, 1].
	Threshold float64
	// Recall is the probability of finding a pair exactly at Threshold
	// (pairs above it are found more often), in (0, 1). Default 0.99.
	Recall float64
	// N is the collection size, used to weigh bucket lookups against
	// comparisons. Default 100000.
	N int
	// Background is the cosine of a typical unrelated pair, used to estimate
	// how many pairs become candidates when Sample is empty. Default 0
	// (random directions); learned embeddings are often 0.2-0.6.
	Background float64
	// Sample holds cosines of randomly drawn pairs of the collection; when
	// set, the candidate fraction is their mean collision probability.
	Sample []float64
	// MaxL bounds the number of tables. Default 64.
	MaxL int
	// MaxRadius bounds the multi-probe Hamming radius considered
	// (0: no probing, 1: up to K extra probes per table). Default 1.
	// Use -1 to forbid probing.
	MaxRadius int
	// ProjectionCost is the cost of one hyperplane projection (a dot
	// product streamed from the plane matrix) in units of one candidate
	// comparison (a dot product with a vector fetched from a random place
	// in memory). Default 0.25 (measured: ~17 ns vs ~70-100 ns at dim 128).
	ProjectionCost float64
	// LookupCost is the cost of probing one bucket in units of one vector
	// comparison (a few cache misses). Default 8.
	LookupCost float64
}

// Plan is a parameter choice and its predicted behaviour.
type Plan struct {
	K      int `json:"k"`
	L      int `json:"l"`
	Radius int `json:"radius"` // Hamming radius the prediction assumes
	Probes int `json:"probes"` // extra probes per table (ProbesForRadius(K, Radius))
	// Recall is the predicted probability of finding a pair at Threshold.
	Recall float64 `json:"recall"`
	// CandidateFraction is the predicted fraction of all pairs compared.
	CandidateFraction float64 `json:"candidate_fraction"`
	// Cost is the predicted work per query in units of one vector
	// comparison: K*L*ProjectionCost for the projections,
	// L*(1+Probes)*LookupCost for the bucket lookups, and
	// N*CandidateFraction for verifying candidates.
	Cost float64 `json:"cost"`
}

func (p Plan) String() string {
	return fmt.Sprintf("K=%d L=%d probes=%d (radius %d): recall at tau %.4f, candidate fraction %.4g", p.K, p.L, p.Probes, p.Radius, p.Recall, p.CandidateFraction)
}

// Validate reports every problem with o at once.
func (o PlanOptions) Validate() error {
	var errs []error
	if !(o.Threshold > 0 && o.Threshold <= 1) {
		errs = append(errs, fmt.Errorf("threshold %v: want a cosine in (0, 1]", o.Threshold))
	}
	if o.Recall != 0 && !(o.Recall > 0 && o.Recall < 1) {
		errs = append(errs, fmt.Errorf("recall %v: want (0, 1)", o.Recall))
	}
	if o.N < 0 {
		errs = append(errs, fmt.Errorf("n %d: want >= 0", o.N))
	}
	if o.Background < -1 || o.Background > 1 {
		errs = append(errs, fmt.Errorf("background cosine %v: want [-1, 1]", o.Background))
	}
	if o.MaxL < 0 || o.MaxL > maxL {
		errs = append(errs, fmt.Errorf("max L %d: want 0..%d", o.MaxL, maxL))
	}
	if o.MaxRadius < -1 || o.MaxRadius > 3 {
		errs = append(errs, fmt.Errorf("max radius %d: want -1..3", o.MaxRadius))
	}
	if o.ProjectionCost < 0 {
		errs = append(errs, fmt.Errorf("projection cost %v: want >= 0", o.ProjectionCost))
	}
	if o.LookupCost < 0 {
		errs = append(errs, fmt.Errorf("lookup cost %v: want >= 0", o.LookupCost))
	}
	return joinErrs("lsh: invalid plan options", errs)
}

// Choose picks the (K, L, radius) with the least predicted cost whose
// predicted recall at Threshold is at least Recall, searching K in 1..64,
// L in 1..MaxL and radius in 0..MaxRadius. The prediction assumes probing
// the whole Hamming ball of the radius; the index probes the same number of
// buckets in query-directed order, which in practice finds at least as much.
func Choose(o PlanOptions) (Plan, error) {
	if err := o.Validate(); err != nil {
		return Plan{}, err
	}
	if o.Recall == 0 {
		o.Recall = 0.99
	}
	if o.N == 0 {
		o.N = 100000
	}
	if o.MaxL == 0 {
		o.MaxL = 64
	}
	switch o.MaxRadius {
	case 0:
		o.MaxRadius = 1
	case -1:
		o.MaxRadius = 0
	}
	if o.LookupCost == 0 {
		o.LookupCost = 8
	}
	if o.ProjectionCost == 0 {
		o.ProjectionCost = 0.25
	}
	best := Plan{Cost: math.Inf(1)}
	for radius := 0; radius <= o.MaxRadius; radius++ {
		for k := 1; k <= MaxK; k++ {
			pt := ProbeProb(o.Threshold, k, radius)
			var l int
			switch {
			case pt >= 1:
				l = 1
			case pt <= 0:
				continue
			default:
				l = int(math.Ceil(math.Log(1-o.Recall) / math.Log(1-pt)))
			}
			l = max(l, 1)
			if l > o.MaxL {
				continue
			}
			probes := ProbesForRadius(k, radius)
			frac := candidateFraction(o, k, l, radius)
			cost := float64(k*l)*o.ProjectionCost + float64(l*(1+probes))*o.LookupCost + float64(o.N)*frac
			if cost < best.Cost {
				best = Plan{K: k, L: l, Radius: radius, Probes: probes,
					Recall: AnyProb(o.Threshold, k, l, radius), CandidateFraction: frac, Cost: cost}
			}
		}
	}
	if best.L == 0 {
		return Plan{}, fmt.Errorf("lsh: no K <= %d with L <= %d reaches recall %v at cosine %v; raise MaxL or MaxRadius", MaxK, o.MaxL, o.Recall, o.Threshold)
	}
	return best, nil
}

func candidateFraction(o PlanOptions, k, l, radius int) float64 {
	if len(o.Sample) == 0 {
		return AnyProb(o.Background, k, l, radius)
	}
	var s float64
	for _, c := range o.Sample {
		s += AnyProb(c, k, l, radius)
	}
	return s / float64(len(o.Sample))
}
