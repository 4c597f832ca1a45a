// Package frame is twin's binary framing for the files it writes itself
// (graph snapshots, LSH tables, checkpoints): a fixed header with a magic
// string, a format version and the payload length, then the payload, then a
// CRC-32C (Castagnoli) of everything before it.
//
// Layout (all integers little-endian):
//
//	offset  size  field
//	0       8     magic (caller's, e.g. "TWINHNSW")
//	8       4     version
//	12      8     payload length n
//	20      n     payload
//	20+n    4     CRC-32C of bytes [0, 20+n)
//
// Decoders distrust their input: the length is checked against the bytes
// actually present before anything is allocated, and any mismatch is
// reported as ErrCorrupt.
package frame

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// HeaderSize is the number of bytes before the payload.
const HeaderSize = 20

// TrailerSize is the number of bytes after the payload (the checksum).
const TrailerSize = 4

var (
	// ErrCorrupt reports a file whose magic, length or checksum is wrong.
	ErrCorrupt = errors.New("frame: corrupt file")
	// ErrVersion reports a file written in a version this build cannot read.
	ErrVersion = errors.New("frame: unsupported version")
)

// Castagnoli is the CRC-32C table used by every twin file.
var Castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Append appends the framed form of payload to dst and returns it.
// magic must be exactly 8 bytes; Append panics otherwise (programmer error).
func Append(dst []byte, magic string, version uint32, payload []byte) []byte {
	if len(magic) != 8 {
		panic("frame: magic must be 8 bytes")
	}
	start := len(dst)
	dst = append(dst, magic...)
	dst = binary.LittleEndian.AppendUint32(dst, version)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(len(payload)))
	dst = append(dst, payload...)
	sum := crc32.Checksum(dst[start:], Castagnoli)
	return binary.LittleEndian.AppendUint32(dst, sum)
}

// Decode checks a framed buffer and returns its version and payload (a
// sub-slice of data, valid as long as data is). Versions outside
// [minVersion, maxVersion] give an error wrapping ErrVersion that names both.
func Decode(data []byte, magic string, minVersion, maxVersion uint32) (uint32, []byte, error) {
	if len(data) < HeaderSize+TrailerSize {
		return 0, nil, fmt.Errorf("%w: %d bytes is shorter than the %d-byte frame", ErrCorrupt, len(data), HeaderSize+TrailerSize)
	}
	if string(data[:8]) != magic {
		return 0, nil, fmt.Errorf("%w: magic %q, want %q", ErrCorrupt, printable(data[:8]), magic)
	}
	version := binary.LittleEndian.Uint32(data[8:12])
	n := binary.LittleEndian.Uint64(data[12:20])
	if n != uint64(len(data)-HeaderSize-TrailerSize) {
		return 0, nil, fmt.Errorf("%w: payload length %d, file holds %d", ErrCorrupt, n, len(data)-HeaderSize-TrailerSize)
	}
	end := HeaderSize + int(n)
	want := binary.LittleEndian.Uint32(data[end:])
	if got := crc32.Checksum(data[:end], Castagnoli); got != want {
		return 0, nil, fmt.Errorf("%w: checksum %08x, want %08x", ErrCorrupt, got, want)
	}
	if version < minVersion || version > maxVersion {
		return version, nil, fmt.Errorf("%w %d (this build reads %d-%d)", ErrVersion, version, minVersion, maxVersion)
	}
	return version, data[HeaderSize:end], nil
}

func printable(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out[i] = c
	}
	return string(out)
}

// WriteFile writes the framed payload to path atomically.
func WriteFile(path, magic string, version uint32, payload []byte) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(Append(nil, magic, version, payload))
		return err
	})
}

// ReadFile reads and checks a framed file written by WriteFile.
func ReadFile(path, magic string, minVersion, maxVersion uint32) (uint32, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, err
	}
	v, p, err := Decode(data, magic, minVersion, maxVersion)
	if err != nil {
		return v, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return v, p, nil
}

// WriteFileAtomic replaces path with what write produces: it writes a
// temporary file in the same directory, fsyncs it, renames it over path and
// fsyncs the directory, so a crash leaves either the old or the new file.
func WriteFileAtomic(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
