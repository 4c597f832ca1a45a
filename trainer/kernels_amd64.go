package trainer

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func adamAVX2(w, g, m, v []float32, c *adamConst)
