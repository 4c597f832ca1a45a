//go:build !amd64

package vec

const useAVX2 = false

func axpyAVX2(a float32, x, y []float32) { panic("unreachable") }

func bagAVX2(dst, emb []float32, idx []uint32, val []float32) { panic("unreachable") }
