// Package vec holds the float32 vector kernels shared by twin's packages.
// Dot products use SIMD (github.com/viterin/vek) where the CPU supports it.
// All functions panic if slice lengths differ (programmer error).
package vec

import (
	"math"

	"github.com/viterin/vek/vek32"
)

// Dot returns the inner product of a and b.
func Dot(a, b []float32) float32 {
	if len(a) != len(b) {
		panic("vec: length mismatch")
	}
	if len(a) == 0 {
		return 0
	}
	return vek32.Dot(a, b)
}

// Norm returns the Euclidean norm of a, accumulated in float64.
func Norm(a []float32) float64 {
	var s float64
	for _, x := range a {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// Normalize scales a in place to unit length and returns its previous norm.
// A zero vector is left as it is and 0 is returned.
func Normalize(a []float32) float64 {
	n := Norm(a)
	if n == 0 {
		return 0
	}
	inv := float32(1 / n)
	for i := range a {
		a[i] *= inv
	}
	return n
}

// Finite reports whether every element of a is neither NaN nor ±Inf.
func Finite(a []float32) bool {
	for _, x := range a {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// Hit is one search result: an internal id and its score (for unit vectors
// the inner product, i.e. cosine similarity; higher is better).
type Hit struct {
	ID    uint32
	Score float32
}
