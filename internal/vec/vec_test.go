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

func TestAxpyAndBagMatchNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, d := range []int{1, 7, 8, 31, 32, 64, 100, 256} {
		rows := 50
		emb := make([]float32, rows*d)
		for i := range emb {
			emb[i] = r.Float32() - 0.5
		}
		idx := []uint32{3, 49, 0, 7, 7, 12, 33}
		val := []float32{0.5, -1, 0.25, 2, 0.1, -0.3, 0.7}
		got := make([]float32, d)
		want := make([]float64, d)
		for i := range got {
			got[i] = float32(i) / 64
			want[i] = float64(float32(i) / 64)
		}
		Bag(got, emb, idx, val)
		for j, id := range idx {
			for i := range want {
				want[i] += float64(val[j]) * float64(emb[int(id)*d+i])
			}
		}
		for i := range got {
			if math.Abs(float64(got[i])-want[i]) > 1e-5 {
				t.Fatalf("Bag d=%d [%d]: %v want %v", d, i, got[i], want[i])
			}
		}
		y := make([]float32, d)
		Axpy(2, emb[:d], y)
		for i := range y {
			if y[i] != 2*emb[i] {
				t.Fatalf("Axpy d=%d [%d]", d, i)
			}
		}
	}
}
