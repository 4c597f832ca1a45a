package index

import "unsafe"

// prefetch asks the CPU to load the n bytes at p into cache (hnswlib
// does the same while it scores the previous neighbour). Assembly, no cgo.
//
//go:noescape
func prefetch(p unsafe.Pointer, n int)
