package trainer

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugeFloats returns a zeroed []float32 of length n whose memory is advised
// for transparent huge pages (MADV_HUGEPAGE). The embedding table and its
// AdamW moments are read and written at random 1 KB rows; with 4 KB pages
// nearly every row access misses the TLB. Falls back to plain memory when
// the advice fails or n is small.
func hugeFloats(n int) []float32 {
	const huge = 2 << 20
	if n*4 < 4*huge {
		return make([]float32, n)
	}
	// Over-allocate so a 2 MB-aligned window of n floats fits.
	raw := make([]float32, n+huge/4)
	base := uintptr(unsafe.Pointer(&raw[0]))
	off := int((huge - base%huge) % huge / 4)
	x := raw[off : off+n : off+n]
	b := unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), n*4)
	_ = unix.Madvise(b[:len(b)/huge*huge], unix.MADV_HUGEPAGE)
	return x
}
