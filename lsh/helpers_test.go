package lsh

import (
	"math"
	"math/rand/v2"

	"github.com/twinsearch/twin/internal/vec"
)

// randUnit returns a random unit vector.
func randUnit(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	vec.Normalize(v)
	return v
}

// atAngle returns a unit vector at exactly angle theta (radians) from unit u.
func atAngle(rng *rand.Rand, u []float32, theta float64) []float32 {
	w := randUnit(rng, len(u))
	d := vec.Dot(w, u)
	for i := range w {
		w[i] -= d * u[i]
	}
	vec.Normalize(w)
	v := make([]float32, len(u))
	c, s := float32(math.Cos(theta)), float32(math.Sin(theta))
	for i := range v {
		v[i] = c*u[i] + s*w[i]
	}
	vec.Normalize(v)
	return v
}

// planted builds n unit vectors: random background vectors, plus groups of
// 2..maxGroup near-duplicates of a random centre, each member at a cosine
// drawn in [minCos, 1) from the centre. It returns the vectors and the
// number of planted groups.
func planted(seed uint64, n, dim, groups, maxGroup int, minCos float64) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out [][]float32
	for range groups {
		c := randUnit(rng, dim)
		m := 2 + rng.IntN(maxGroup-1)
		for range m {
			cos := minCos + (1-minCos)*rng.Float64()
			out = append(out, atAngle(rng, c, math.Acos(cos)))
		}
	}
	for len(out) < n {
		out = append(out, randUnit(rng, dim))
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:n]
}

// bruteForcePairs is the exact all-pairs oracle: every pair i<j with
// cosine >= tau (same float32 tolerance as Dedup).
func bruteForcePairs(vs [][]float32, tau float64) [][2]int {
	t := float32(tau) - 1e-6
	var out [][2]int
	for i := range vs {
		for j := i + 1; j < len(vs); j++ {
			if vec.Dot(vs[i], vs[j]) >= t {
				out = append(out, [2]int{i, j})
			}
		}
	}
	return out
}

// bruteForceTopK is the exact top-k oracle.
func bruteForceTopK(vs [][]float32, q []float32, k int) []uint32 {
	type sc struct {
		id int
		s  float32
	}
	all := make([]sc, len(vs))
	for i, v := range vs {
		all[i] = sc{i, vec.Dot(q, v)}
	}
	// partial selection sort is fine for test sizes
	out := make([]uint32, 0, k)
	for range k {
		b := -1
		for i := range all {
			if all[i].id >= 0 && (b < 0 || all[i].s > all[b].s) {
				b = i
			}
		}
		out = append(out, uint32(all[b].id))
		all[b].id = -1
	}
	return out
}
