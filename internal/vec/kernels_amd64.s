#include "textflag.h"

// func axpyAVX2(a float32, x, y []float32)
// y[i] += a*x[i] for i < len(y) rounded down to a multiple of 8.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-56
	VBROADCASTSS a+0(FP), Y0
	MOVQ x_base+8(FP), SI
	MOVQ y_base+32(FP), DI
	MOVQ y_len+40(FP), CX
	SHRQ $3, CX
	JZ   done
	MOVQ CX, DX
	SHRQ $2, DX
	JZ   tail

loop4:
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VFMADD213PS (DI), Y0, Y1
	VFMADD213PS 32(DI), Y0, Y2
	VFMADD213PS 64(DI), Y0, Y3
	VFMADD213PS 96(DI), Y0, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	ADDQ $128, SI
	ADDQ $128, DI
	DECQ DX
	JNZ  loop4

tail:
	ANDQ $3, CX
	JZ   done

loop1:
	VMOVUPS (SI), Y1
	VFMADD213PS (DI), Y0, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  loop1

done:
	VZEROUPPER
	RET

// func adamAVX2(w, g, m, v []float32, c *adamConst)

// func bagAVX2(dst, emb []float32, idx []uint32, val []float32)
// dst += sum_j val[j] * emb[idx[j]*len(dst) : (idx[j]+1)*len(dst)]
// len(dst) must be a multiple of 32. Rows 4 features ahead are prefetched.
TEXT ·bagAVX2(SB), NOSPLIT, $0-96
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), R8       // dim
	MOVQ emb_base+24(FP), R9
	MOVQ idx_base+48(FP), R10
	MOVQ idx_len+56(FP), R11     // features
	MOVQ val_base+72(FP), R12
	MOVQ R8, R13
	SHLQ $2, R13                 // row bytes
	XORQ BX, BX                  // j
	TESTQ R11, R11
	JZ   bdone

bfeat:
	// prefetch row idx[j+4] when it exists
	MOVQ BX, AX
	ADDQ $4, AX
	CMPQ AX, R11
	JGE  bnopf
	MOVL (R10)(AX*4), AX
	IMULQ R13, AX
	LEAQ (R9)(AX*1), AX
	MOVQ R13, DX
bpf:
	PREFETCHT0 (AX)
	ADDQ $64, AX
	SUBQ $64, DX
	JG   bpf

bnopf:
	MOVL (R10)(BX*4), AX
	IMULQ R13, AX
	LEAQ (R9)(AX*1), SI          // row pointer
	VBROADCASTSS (R12)(BX*4), Y0
	MOVQ DI, DX                  // dst pointer
	MOVQ R8, CX
	SHRQ $5, CX                  // 32-float blocks

bblk:
	VMOVUPS (SI), Y1
	VMOVUPS 32(SI), Y2
	VMOVUPS 64(SI), Y3
	VMOVUPS 96(SI), Y4
	VFMADD213PS (DX), Y0, Y1
	VFMADD213PS 32(DX), Y0, Y2
	VFMADD213PS 64(DX), Y0, Y3
	VFMADD213PS 96(DX), Y0, Y4
	VMOVUPS Y1, (DX)
	VMOVUPS Y2, 32(DX)
	VMOVUPS Y3, 64(DX)
	VMOVUPS Y4, 96(DX)
	ADDQ $128, SI
	ADDQ $128, DX
	DECQ CX
	JNZ  bblk

	INCQ BX
	CMPQ BX, R11
	JLT  bfeat

bdone:
	VZEROUPPER
	RET
