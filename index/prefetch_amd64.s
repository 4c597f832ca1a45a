#include "textflag.h"

// func prefetch(p unsafe.Pointer, n int)
// Issues PREFETCHT0 for the n bytes at p, one per 64-byte cache line.
TEXT ·prefetch(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), CX
loop:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	SUBQ $64, CX
	JG   loop
	RET
