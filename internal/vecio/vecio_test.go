package vecio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"testing"
)

func randRows(seed uint64, n, d int) [][]float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = make([]float32, d)
		for j := range rows[i] {
			rows[i][j] = float32(rng.NormFloat64())
		}
	}
	return rows
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		n, d int
	}{{"empty", 0, 0}, {"one", 1, 1}, {"small", 7, 3}, {"wide", 20, 128}} {
		t.Run(tc.name, func(t *testing.T) {
			rows := randRows(uint64(tc.n*31+tc.d), tc.n, tc.d)
			var buf bytes.Buffer
			if err := WriteFvecs(&buf, rows); err != nil {
				t.Fatal(err)
			}
			got, err := ReadFvecs(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(rows) || (len(rows) > 0 && !reflect.DeepEqual(got, rows)) {
				t.Fatalf("fvecs round trip: got %d rows, want %d", len(got), len(rows))
			}
			// Streaming reader.
			fr := NewFvecsReader(bytes.NewReader(buf.Bytes()))
			var v []float32
			for i := 0; ; i++ {
				v, err = fr.Next(v)
				if err == io.EOF {
					if i != tc.n {
						t.Fatalf("stream stopped at %d of %d", i, tc.n)
					}
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(v, rows[i]) {
					t.Fatalf("row %d differs", i)
				}
			}
			buf.Reset()
			if err := WriteNpy(&buf, rows); err != nil {
				t.Fatal(err)
			}
			if (buf.Len()-4*tc.n*tc.d)%64 != 0 {
				t.Fatalf("npy header not 64-aligned: %d bytes", buf.Len()-4*tc.n*tc.d)
			}
			got, err = ReadNpy(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(rows) || (len(rows) > 0 && !reflect.DeepEqual(got, rows)) {
				t.Fatalf("npy round trip: got %d rows, want %d", len(got), len(rows))
			}
			ints := make([][]int32, tc.n)
			for i := range ints {
				ints[i] = make([]int32, tc.d)
				for j := range ints[i] {
					ints[i][j] = int32(i*1000 - j)
				}
			}
			buf.Reset()
			if err := WriteIvecs(&buf, ints); err != nil {
				t.Fatal(err)
			}
			gi, err := ReadIvecs(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			if len(gi) != len(ints) || (len(ints) > 0 && !reflect.DeepEqual(gi, ints)) {
				t.Fatalf("ivecs round trip differs")
			}
		})
	}
}

func le32(v ...int32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, uint32(x))
	}
	return b
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"zero dim", le32(0)},
		{"negative dim", le32(-5)},
		{"huge dim", le32(1 << 30)},
		{"truncated dim", []byte{1, 0}},
		{"truncated values", le32(3, 1, 2)},
		{"dim changes", append(le32(2, 1, 2), le32(3, 1, 2, 3)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadFvecs(bytes.NewReader(tc.data)); !errors.Is(err, ErrFormat) {
				t.Fatalf("fvecs: err = %v, want ErrFormat", err)
			}
			if _, err := ReadIvecs(bytes.NewReader(tc.data)); !errors.Is(err, ErrFormat) {
				t.Fatalf("ivecs: err = %v, want ErrFormat", err)
			}
		})
	}
	npy := func(h string, body []byte) []byte {
		b := []byte(npyMagic + "\x01\x00")
		b = binary.LittleEndian.AppendUint16(b, uint16(len(h)))
		return append(append(b, h...), body...)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"bad magic", []byte("NOTNUMPY\x00\x00")},
		{"f8", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (1, 1), }\n", make([]byte, 8))},
		{"big endian", npy("{'descr': '>f4', 'fortran_order': False, 'shape': (1, 1), }\n", make([]byte, 4))},
		{"fortran", npy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }\n", make([]byte, 4))},
		{"1-D", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }\n", make([]byte, 16))},
		{"3-D", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 2), }\n", make([]byte, 16))},
		{"truncated", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000, 128), }\n", make([]byte, 16))},
		{"version 9", []byte(npyMagic + "\x09\x00\x00\x00")},
		{"short header", []byte(npyMagic + "\x01\x00\xff\x00{")},
	} {
		t.Run("npy "+tc.name, func(t *testing.T) {
			if _, err := ReadNpy(bytes.NewReader(tc.data)); !errors.Is(err, ErrFormat) {
				t.Fatalf("err = %v, want ErrFormat", err)
			}
		})
	}
}

func TestWriteRejects(t *testing.T) {
	if err := WriteFvecs(io.Discard, [][]float32{{}}); err == nil {
		t.Fatal("empty row accepted")
	}
	if err := WriteNpy(io.Discard, [][]float32{{1, 2}, {1}}); err == nil {
		t.Fatal("ragged rows accepted by npy")
	}
}

func FuzzReadFvecs(f *testing.F) {
	var buf bytes.Buffer
	WriteFvecs(&buf, randRows(1, 3, 4))
	f.Add(buf.Bytes())
	f.Add(le32(1 << 30))
	f.Add(le32(2, 1))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ReadFvecs(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteFvecs(&out, rows); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("re-encoding differs")
		}
	})
}

func FuzzReadNpy(f *testing.F) {
	var buf bytes.Buffer
	WriteNpy(&buf, randRows(2, 3, 4))
	f.Add(buf.Bytes())
	f.Add([]byte(npyMagic + "\x01\x00\x10\x00{'shape': (9, 9)}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := ReadNpy(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteNpy(&out, rows); err != nil {
			t.Fatal(err)
		}
		again, err := ReadNpy(&out)
		if err != nil {
			t.Fatal(err)
		}
		if len(again) != len(rows) {
			t.Fatalf("rows %d then %d", len(rows), len(again))
		}
		for i := range rows {
			for j := range rows[i] {
				if again[i][j] != rows[i][j] && rows[i][j] == rows[i][j] {
					t.Fatalf("value differs at %d,%d", i, j)
				}
			}
		}
	})
}
