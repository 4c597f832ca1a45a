package vec

// Axpy computes y[i] += a*x[i] for i < len(y); x must be at least as long
// as y. AVX2+FMA on amd64 where the CPU has them.
func Axpy(a float32, x, y []float32) {
	x = x[:len(y)]
	i := 0
	if useAVX2 && len(y) >= 8 {
		axpyAVX2(a, x, y)
		i = len(y) &^ 7
	}
	for ; i < len(y); i++ {
		y[i] += a * x[i]
	}
}

// Bag adds the embedding bag of a sparse feature vector to dst:
//
//	dst += Σ_j val[j] · emb[idx[j]·d : (idx[j]+1)·d],  d = len(dst)
//
// emb is a row-major table of rows of length d; every idx[j] must be a row
// of it and len(val) >= len(idx) (Bag panics otherwise: programmer
// error). With AVX2+FMA and d a multiple of 32 it runs an assembly loop
// that prefetches the row four features ahead: the bag is bound by memory
// latency, one random row per feature.
func Bag(dst, emb []float32, idx []uint32, val []float32) {
	d := len(dst)
	if len(idx) == 0 {
		return
	}
	val = val[:len(idx)]
	for _, id := range idx {
		if (int(id)+1)*d > len(emb) {
			panic("vec: bag row out of range")
		}
	}
	if useAVX2 && d%32 == 0 {
		bagAVX2(dst, emb, idx, val)
		return
	}
	row := func(id uint32) []float32 { return emb[int(id)*d : int(id+1)*d] }
	j := 0
	for ; j+4 <= len(idx); j += 4 {
		r0, r1, r2, r3 := row(idx[j]), row(idx[j+1]), row(idx[j+2]), row(idx[j+3])
		a0, a1, a2, a3 := val[j], val[j+1], val[j+2], val[j+3]
		for i := range dst {
			dst[i] += a0*r0[i] + a1*r1[i] + a2*r2[i] + a3*r3[i]
		}
	}
	for ; j < len(idx); j++ {
		Axpy(val[j], row(idx[j]), dst)
	}
}
