//go:build !amd64

package index

import "unsafe"

func prefetch(p unsafe.Pointer, n int) {}
