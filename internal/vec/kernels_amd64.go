package vec

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func axpyAVX2(a float32, x, y []float32)

//go:noescape
func bagAVX2(dst, emb []float32, idx []uint32, val []float32)
