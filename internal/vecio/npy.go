package vecio

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
)

const npyMagic = "\x93NUMPY"

// maxNpyHeader bounds the header length read from a file.
const maxNpyHeader = 1 << 16

var (
	reDescr   = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
	reFortran = regexp.MustCompile(`'fortran_order'\s*:\s*(True|False)`)
	reShape   = regexp.MustCompile(`'shape'\s*:\s*\(\s*([0-9]+)\s*,\s*([0-9]+)\s*,?\s*\)`)
)

// ReadNpy reads a 2-D float32 array in C order from a .npy stream (format
// version 1.0 or 2.0; descr '<f4'). Rows share one backing array. Other
// dtypes, Fortran order, shapes that are not 2-D and truncated data are
// errors wrapping ErrFormat.
func ReadNpy(r io.Reader) ([][]float32, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var pre [8]byte
	if _, err := io.ReadFull(br, pre[:]); err != nil {
		return nil, fmt.Errorf("%w: npy: short preamble: %v", ErrFormat, err)
	}
	if string(pre[:6]) != npyMagic {
		return nil, fmt.Errorf("%w: npy: bad magic %q", ErrFormat, pre[:6])
	}
	var hlen int
	switch pre[6] {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("%w: npy: short header length: %v", ErrFormat, err)
		}
		hlen = int(binary.LittleEndian.Uint16(b[:]))
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(br, b[:]); err != nil {
			return nil, fmt.Errorf("%w: npy: short header length: %v", ErrFormat, err)
		}
		hlen = int(binary.LittleEndian.Uint32(b[:]))
	default:
		return nil, fmt.Errorf("%w: npy: unsupported format version %d.%d (this build reads 1.0-3.0)", ErrFormat, pre[6], pre[7])
	}
	if hlen > maxNpyHeader {
		return nil, fmt.Errorf("%w: npy: header length %d exceeds %d", ErrFormat, hlen, maxNpyHeader)
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return nil, fmt.Errorf("%w: npy: truncated header: %v", ErrFormat, err)
	}
	h := string(hdr)
	m := reDescr.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("%w: npy: header has no descr", ErrFormat)
	}
	if m[1] != "<f4" {
		return nil, fmt.Errorf("%w: npy: dtype %q, want '<f4' (little-endian float32)", ErrFormat, m[1])
	}
	if m := reFortran.FindStringSubmatch(h); m == nil || m[1] != "False" {
		return nil, fmt.Errorf("%w: npy: fortran_order must be False", ErrFormat)
	}
	m = reShape.FindStringSubmatch(h)
	if m == nil {
		return nil, fmt.Errorf("%w: npy: shape is not 2-D in header %q", ErrFormat, strings.TrimSpace(h))
	}
	n, err1 := strconv.ParseInt(m[1], 10, 64)
	d, err2 := strconv.ParseInt(m[2], 10, 64)
	if err1 != nil || err2 != nil || n < 0 || d > MaxDim || (d <= 0 && n > 0) {
		return nil, fmt.Errorf("%w: npy: shape (%s, %s) out of range (dim 1..%d)", ErrFormat, m[1], m[2], MaxDim)
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("%w: npy: %d rows is too many", ErrFormat, n)
	}
	total := int(n) * int(d)
	// Grow with the data actually read, never trusting the header for more
	// than a bounded first allocation.
	flat := make([]float32, 0, min(total, 1<<20))
	buf := make([]byte, 4*int(max(d, 1)))
	for row := 0; row < int(n); row++ {
		if _, err := io.ReadFull(br, buf); err != nil {
			return nil, fmt.Errorf("%w: npy: row %d of %d truncated: %v", ErrFormat, row, n, err)
		}
		for i := 0; i < int(d); i++ {
			flat = append(flat, math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:])))
		}
	}
	return split(flat, int(d)), nil
}

// WriteNpy writes rows (all of one length) as a 2-D float32 C-order .npy
// file, format version 1.0.
func WriteNpy(w io.Writer, rows [][]float32) error {
	d := 0
	if len(rows) > 0 {
		d = len(rows[0])
		if d == 0 || d > MaxDim {
			return fmt.Errorf("vecio: npy: dimension %d outside [1, %d]", d, MaxDim)
		}
	}
	for i, row := range rows {
		if len(row) != d {
			return fmt.Errorf("vecio: npy: row %d has dimension %d, row 0 has %d", i, len(row), d)
		}
	}
	h := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", len(rows), d)
	// Pad with spaces so that magic+version+len+header+'\n' is a multiple of 64.
	total := 10 + len(h) + 1
	pad := (64 - total%64) % 64
	h += strings.Repeat(" ", pad) + "\n"
	if len(h) > math.MaxUint16 {
		return fmt.Errorf("vecio: npy: header too long")
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(npyMagic)
	bw.Write([]byte{1, 0})
	var b [4]byte
	binary.LittleEndian.PutUint16(b[:2], uint16(len(h)))
	bw.Write(b[:2])
	bw.WriteString(h)
	for _, row := range rows {
		for _, x := range row {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			bw.Write(b[:])
		}
	}
	return bw.Flush()
}
