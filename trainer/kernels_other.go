//go:build !amd64

package trainer

var useAVX2 = false

func adamAVX2(w, g, m, v []float32, c *adamConst) { panic("unreachable") }
