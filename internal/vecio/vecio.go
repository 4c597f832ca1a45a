// Package vecio reads and writes dense vector files in the formats other ANN
// tools use: fvecs and ivecs (the TEXMEX/ANN-benchmarks formats: for each
// vector a little-endian int32 dimension followed by that many little-endian
// float32 or int32 values) and NumPy .npy (float32, 2-D, C order).
//
//	r := vecio.NewFvecsReader(f)
//	for {
//		v, err := r.Next(nil)
//		if err == io.EOF { break }
//		if err != nil { return err }
//		use(v)
//	}
//
// Decoders distrust their input: dimensions must be in [1, MaxDim] and equal
// for every row, truncated rows are errors wrapping ErrFormat, and nothing is
// allocated from a length that the input has not yet backed with bytes
// (beyond a bounded initial capacity).
package vecio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// MaxDim bounds the dimension accepted from a file (1<<16).
const MaxDim = 1 << 16

// ErrFormat reports a malformed vector file.
var ErrFormat = errors.New("vecio: malformed vector file")

// FvecsReader streams float32 vectors from an fvecs file. The first vector
// fixes the dimension; a later vector of another dimension is an error.
// Not safe for concurrent use.
type FvecsReader struct {
	r   *bufio.Reader
	dim int
	row int
	buf []byte
}

// NewFvecsReader returns a streaming reader over r.
func NewFvecsReader(r io.Reader) *FvecsReader {
	return &FvecsReader{r: bufio.NewReaderSize(r, 1<<16)}
}

// Dim returns the dimension, 0 before the first vector has been read.
func (r *FvecsReader) Dim() int { return r.dim }

// Rows returns how many vectors have been read.
func (r *FvecsReader) Rows() int { return r.row }

// Next reads the next vector into dst (grown if needed) and returns it, or
// io.EOF after the last vector.
func (r *FvecsReader) Next(dst []float32) ([]float32, error) {
	b, err := r.nextRaw()
	if err != nil {
		return nil, err
	}
	if cap(dst) < r.dim {
		dst = make([]float32, r.dim)
	}
	dst = dst[:r.dim]
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return dst, nil
}

func (r *FvecsReader) nextRaw() ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r.r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: row %d: truncated dimension: %v", ErrFormat, r.row, err)
	}
	d := int32(binary.LittleEndian.Uint32(hdr[:]))
	if d <= 0 || d > MaxDim {
		return nil, fmt.Errorf("%w: row %d: dimension %d outside [1, %d]", ErrFormat, r.row, d, MaxDim)
	}
	if r.dim == 0 {
		r.dim = int(d)
	} else if int(d) != r.dim {
		return nil, fmt.Errorf("%w: row %d: dimension %d, earlier rows have %d", ErrFormat, r.row, d, r.dim)
	}
	if cap(r.buf) < 4*r.dim {
		r.buf = make([]byte, 4*r.dim)
	}
	b := r.buf[:4*r.dim]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, fmt.Errorf("%w: row %d: truncated values: %v", ErrFormat, r.row, err)
	}
	r.row++
	return b, nil
}

// ReadFvecs reads every vector of an fvecs stream. The rows share one
// backing array. An empty stream gives no rows and no error.
func ReadFvecs(r io.Reader) ([][]float32, error) {
	fr := NewFvecsReader(r)
	var flat []float32
	for {
		b, err := fr.nextRaw()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		for i := 0; i < fr.dim; i++ {
			flat = append(flat, math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
		}
	}
	return split(flat, fr.dim), nil
}

func split[T any](flat []T, dim int) [][]T {
	if dim == 0 {
		return nil
	}
	rows := make([][]T, len(flat)/dim)
	for i := range rows {
		rows[i] = flat[i*dim : (i+1)*dim : (i+1)*dim]
	}
	return rows
}

// ReadIvecs reads every vector of an ivecs stream (e.g. ground-truth
// neighbour ids). The rows share one backing array.
func ReadIvecs(r io.Reader) ([][]int32, error) {
	fr := NewFvecsReader(r) // same layout, values reinterpreted
	var flat []int32
	for {
		b, err := fr.nextRaw()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		for i := 0; i < fr.dim; i++ {
			flat = append(flat, int32(binary.LittleEndian.Uint32(b[4*i:])))
		}
	}
	return split(flat, fr.dim), nil
}

// WriteFvecs writes rows in fvecs layout. Rows may differ in length (the
// format allows it) but must not be empty or longer than MaxDim.
func WriteFvecs(w io.Writer, rows [][]float32) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var b [4]byte
	for i, row := range rows {
		if len(row) == 0 || len(row) > MaxDim {
			return fmt.Errorf("vecio: row %d: dimension %d outside [1, %d]", i, len(row), MaxDim)
		}
		binary.LittleEndian.PutUint32(b[:], uint32(len(row)))
		bw.Write(b[:])
		for _, x := range row {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			bw.Write(b[:])
		}
	}
	return bw.Flush()
}

// WriteIvecs writes rows in ivecs layout.
func WriteIvecs(w io.Writer, rows [][]int32) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	var b [4]byte
	for i, row := range rows {
		if len(row) == 0 || len(row) > MaxDim {
			return fmt.Errorf("vecio: row %d: dimension %d outside [1, %d]", i, len(row), MaxDim)
		}
		binary.LittleEndian.PutUint32(b[:], uint32(len(row)))
		bw.Write(b[:])
		for _, x := range row {
			binary.LittleEndian.PutUint32(b[:], uint32(x))
			bw.Write(b[:])
		}
	}
	return bw.Flush()
}
