package frame

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.bin")
	payload := []byte("hello, twin")
	if err := WriteFile(path, "TWINTEST", 2, payload); err != nil {
		t.Fatal(err)
	}
	v, p, err := ReadFile(path, "TWINTEST", 1, 2)
	if err != nil || v != 2 || string(p) != string(payload) {
		t.Fatalf("got v=%d p=%q err=%v", v, p, err)
	}
}

func TestCorruption(t *testing.T) {
	good := Append(nil, "TWINTEST", 1, []byte("payload bytes"))
	for i := range good {
		bad := append([]byte(nil), good...)
		bad[i] ^= 0x40
		if _, _, err := Decode(bad, "TWINTEST", 1, 1); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	for n := 0; n < len(good); n++ {
		if _, _, err := Decode(good[:n], "TWINTEST", 1, 1); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: err=%v, want ErrCorrupt", n, err)
		}
	}
	if _, _, err := Decode(Append(nil, "TWINTEST", 3, nil), "TWINTEST", 1, 2); !errors.Is(err, ErrVersion) {
		t.Fatalf("future version: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Append(nil, "TWINTEST", 1, []byte("abc")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, p, err := Decode(data, "TWINTEST", 1, 1)
		if err != nil {
			return
		}
		again := Append(nil, "TWINTEST", v, p)
		if string(again) != string(data) {
			t.Fatalf("re-encode differs")
		}
	})
}
