package vec

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestDotMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 16, 33, 128, 257} {
		a, b := make([]float32, n), make([]float32, n)
		var want float64
		for i := range a {
			a[i], b[i] = r.Float32()-0.5, r.Float32()-0.5
			want += float64(a[i]) * float64(b[i])
		}
		if got := Dot(a, b); math.Abs(float64(got)-want) > 1e-4 {
			t.Fatalf("n=%d: got %v want %v", n, got, want)
		}
	}
}

func TestNormalize(t *testing.T) {
	a := []float32{3, 4}
	if n := Normalize(a); n != 5 || math.Abs(float64(a[0])-0.6) > 1e-7 {
		t.Fatalf("got %v %v", n, a)
	}
	z := []float32{0, 0}
	if n := Normalize(z); n != 0 || z[0] != 0 {
		t.Fatal("zero vector changed")
	}
	if Finite([]float32{1, float32(math.NaN())}) {
		t.Fatal("NaN counted finite")
	}
}
