package bm25

import "math/bits"

// Lucene's SmallFloat length encoding (org.apache.lucene.util.SmallFloat),
// used by BM25Similarity to store a field length in one byte.

const numFreeValues = 255 - 231 // 255 - longToInt4(MaxInt32)

func longToInt4(i uint64) uint64 {
	numBits := 64 - bits.LeadingZeros64(i)
	if numBits < 4 {
		return i
	}
	shift := numBits - 4
	enc := (i >> uint(shift)) & 0x07
	return enc | uint64(shift+1)<<3
}

func int4ToLong(i uint64) uint64 {
	b := i & 0x07
	shift := int(i>>3) - 1
	if shift == -1 {
		return b
	}
	return (b | 0x08) << uint(shift)
}

// intToByte4 encodes a non-negative length in [0, 255].
func intToByte4(i uint64) uint64 {
	if i < numFreeValues {
		return i
	}
	return numFreeValues + longToInt4(i-numFreeValues)
}

func byte4ToInt(b uint64) uint64 {
	if b < numFreeValues {
		return b
	}
	return numFreeValues + int4ToLong(b-numFreeValues)
}

// luceneLength is the field length BM25Similarity sees for dl tokens.
func luceneLength(dl uint64) float64 {
	if dl > 1<<31-1 {
		dl = 1<<31 - 1
	}
	return float64(byte4ToInt(intToByte4(dl)))
}
