#include "textflag.h"

// func adamAVX2(w, g, m, v []float32, c *adamConst)
// The AdamW update of adamUpdate for len(g) rounded down to a multiple of 8.
TEXT ·adamAVX2(SB), NOSPLIT, $0-104
	MOVQ w_base+0(FP), DI
	MOVQ g_base+24(FP), SI
	MOVQ g_len+32(FP), CX
	MOVQ m_base+48(FP), R8
	MOVQ v_base+72(FP), R9
	MOVQ c+96(FP), AX
	VBROADCASTSS 0(AX), Y6   // sc
	VBROADCASTSS 4(AX), Y7   // b1
	VBROADCASTSS 8(AX), Y8   // 1-b1
	VBROADCASTSS 12(AX), Y9  // b2
	VBROADCASTSS 16(AX), Y10 // 1-b2
	VBROADCASTSS 20(AX), Y11 // 1/c2
	VBROADCASTSS 24(AX), Y12 // eps
	VBROADCASTSS 28(AX), Y13 // decay
	VBROADCASTSS 32(AX), Y14 // step size
	SHRQ $3, CX
	JZ   adone

aloop:
	VMOVUPS (SI), Y0
	VMULPS  Y6, Y0, Y0        // g *= sc
	VMULPS  (R8), Y7, Y1      // m*b1
	VFMADD231PS Y0, Y8, Y1    // m += (1-b1) g
	VMOVUPS Y1, (R8)
	VMULPS  Y0, Y0, Y2        // g*g
	VMULPS  Y10, Y2, Y2       // (1-b2) g*g
	VFMADD231PS (R9), Y9, Y2  // += b2*v
	VMOVUPS Y2, (R9)
	VMULPS  Y11, Y2, Y3       // v/c2
	VSQRTPS Y3, Y3
	VADDPS  Y12, Y3, Y3       // + eps
	VMULPS  Y14, Y1, Y4       // step*m
	VDIVPS  Y3, Y4, Y4        // / denom
	VMULPS  (DI), Y13, Y5     // w*decay
	VSUBPS  Y4, Y5, Y5
	VMOVUPS Y5, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	ADDQ $32, R9
	DECQ CX
	JNZ  aloop

adone:
	VZEROUPPER
	RET
