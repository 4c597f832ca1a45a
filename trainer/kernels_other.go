//go:build !amd64

package trainer

var useAVX2 = false

func axpyAVX2(a float32, x, y []float32)          { panic("unreachable") }
func adamAVX2(w, g, m, v []float32, c *adamConst) { panic("unreachable") }

func bagAVX2(dst, emb []float32, idx []uint32, val []float32) { panic("unreachable") }
