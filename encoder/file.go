package encoder

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"unsafe"

	"github.com/twinsearch/twin/internal/frame"
)

// The model file is safetensors: an 8-byte little-endian header length N,
// N bytes of JSON header, then the raw little-endian float32 tensors. The
// header's "__metadata__" holds:
//
//	twin.format          "twin-model"
//	twin.format_version  "1"
//	twin.config          the Config as JSON
//	twin.fingerprint     hex SHA-256 (first 16 bytes) of config + tensor bytes
//	twin.crc32c          CRC-32C of the whole file with these 8 hex digits
//	                     read as "00000000"
//
// Tensor names: "<tower>.emb" [buckets, bag_dim], "<tower>.hidden.<i>.weight"
// [out, in], "<tower>.hidden.<i>.bias" [out], "<tower>.proj.weight",
// "<tower>.proj.bias", and "idf" [buckets] when present, where <tower> is
// "tower" for tied models, "query"/"doc" for untied ones, and for heads
// models "shared" (emb, hidden) plus "query"/"doc" (proj). numpy and PyTorch
// read the tensors with any safetensors loader.

// MaxHeaderBytes bounds the JSON header a reader accepts.
const MaxHeaderBytes = 16 << 20

const crcKey = `"twin.crc32c":"`

type tensorInfo struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

type namedTensor struct {
	name  string
	shape []int64
	data  []float32
}

func (m *Model) tensors() []namedTensor {
	var ts []namedTensor
	add := func(name string, data []float32, shape ...int64) {
		ts = append(ts, namedTensor{name, shape, data})
	}
	buckets := int64(1) << m.Config.Features.Bits
	body := func(prefix string, tw *Tower) {
		add(prefix+".emb", tw.Emb, buckets, int64(m.Config.BagDim))
		for i, h := range tw.Hidden {
			add(fmt.Sprintf("%s.hidden.%d.weight", prefix, i), h.W, int64(h.Out), int64(h.In))
			add(fmt.Sprintf("%s.hidden.%d.bias", prefix, i), h.B, int64(h.Out))
		}
	}
	head := func(prefix string, tw *Tower) {
		add(prefix+".proj.weight", tw.Proj.W, int64(tw.Proj.Out), int64(tw.Proj.In))
		add(prefix+".proj.bias", tw.Proj.B, int64(tw.Proj.Out))
	}
	switch m.Config.Tying {
	case Tied:
		body("tower", m.Query)
		head("tower", m.Query)
	case Untied:
		body("query", m.Query)
		head("query", m.Query)
		body("doc", m.Doc)
		head("doc", m.Doc)
	case Heads:
		body("shared", m.Query)
		head("query", m.Query)
		head("doc", m.Doc)
	}
	if m.IDF != nil {
		add("idf", m.IDF, buckets)
	}
	return ts
}

// floatBytes views a float32 slice as its little-endian bytes (twin only
// builds for little-endian CPUs; see init).
func floatBytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), len(f)*4)
}

func init() {
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		panic("encoder: twin model files need a little-endian CPU")
	}
}

// Fingerprint returns a hex hash of the config and every weight: indexes
// record it and refuse vectors from another model. It is computed once and
// cached; SetIDF and Load reset it. Callers that change weights in place
// (the trainer) call ResetFingerprint.
func (m *Model) Fingerprint() string {
	if m.fp == "" {
		cfg, _ := json.Marshal(m.Config)
		h := sha256.New()
		h.Write(cfg)
		for _, t := range m.tensors() {
			io.WriteString(h, t.name)
			h.Write(floatBytes(t.data))
		}
		m.fp = hex.EncodeToString(h.Sum(nil)[:16])
	}
	return m.fp
}

// ResetFingerprint forgets the cached fingerprint after weights changed.
func (m *Model) ResetFingerprint() { m.fp = "" }

// Save writes the model to path atomically (temp file, fsync, rename).
func (m *Model) Save(path string) error {
	m.ResetFingerprint()
	return frame.WriteFileAtomic(path, func(w io.Writer) error { return m.Write(w) })
}

// Write writes the model file to w.
func (m *Model) Write(w io.Writer) error { return m.write(w, FormatVersion) }

// write writes the file claiming the given format version (tests use it to
// make files from the future).
func (m *Model) write(w io.Writer, version int) error {
	cfg, err := json.Marshal(m.Config)
	if err != nil {
		return err
	}
	ts := m.tensors()
	header := map[string]any{}
	var off int64
	for _, t := range ts {
		n := int64(len(t.data)) * 4
		header[t.name] = tensorInfo{DType: "F32", Shape: t.shape, Offsets: [2]int64{off, off + n}}
		off += n
	}
	header["__metadata__"] = map[string]string{
		"twin.format":         "twin-model",
		"twin.format_version": strconv.Itoa(version),
		"twin.config":         string(cfg),
		"twin.fingerprint":    m.Fingerprint(),
		"twin.crc32c":         "00000000",
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	// Pad with spaces so the data starts 8-byte aligned, as safetensors does.
	for (8+len(hb))%8 != 0 {
		hb = append(hb, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(hb)))
	crc := crc32.Update(0, frame.Castagnoli, lenBuf[:])
	crc = crc32.Update(crc, frame.Castagnoli, hb)
	for _, t := range ts {
		crc = crc32.Update(crc, frame.Castagnoli, floatBytes(t.data))
	}
	i := bytes.Index(hb, []byte(crcKey))
	copy(hb[i+len(crcKey):], fmt.Sprintf("%08x", crc))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hb); err != nil {
		return err
	}
	for _, t := range ts {
		if _, err := w.Write(floatBytes(t.data)); err != nil {
			return err
		}
	}
	return nil
}

// Load reads a model file written by Save. A damaged or truncated file
// gives an error wrapping ErrCorrupt; a file from a newer format gives one
// wrapping ErrVersion.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	m, err := Read(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("load model %s: %w", path, err)
	}
	return m, nil
}

func corruptf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, a...))
}

// Read decodes a model file of size bytes from r, treating it as hostile:
// every length is checked against size before anything is allocated.
func Read(r io.Reader, size int64) (*Model, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, corruptf("file too short for a safetensors header (%d bytes)", size)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n < 2 || n > MaxHeaderBytes || int64(n) > size-8 {
		return nil, corruptf("header length %d does not fit a %d-byte file", n, size)
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, corruptf("truncated header")
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return nil, corruptf("header is not JSON: %v", err)
	}
	var meta map[string]string
	if err := json.Unmarshal(raw["__metadata__"], &meta); err != nil || meta == nil {
		return nil, corruptf("no twin metadata (not a twin model file?)")
	}
	if meta["twin.format"] != "twin-model" {
		return nil, corruptf("format %q, want twin-model", meta["twin.format"])
	}
	ver, err := strconv.Atoi(meta["twin.format_version"])
	if err != nil {
		return nil, corruptf("format version %q", meta["twin.format_version"])
	}
	wantCRC, err := strconv.ParseUint(meta["twin.crc32c"], 16, 32)
	if err != nil || len(meta["twin.crc32c"]) != 8 {
		return nil, corruptf("checksum field %q", meta["twin.crc32c"])
	}
	dataLen := size - 8 - int64(n)
	// Tensors: check names, dtypes, shapes and offsets before allocating.
	infos := map[string]tensorInfo{}
	for name, msg := range raw {
		if name == "__metadata__" {
			continue
		}
		var ti tensorInfo
		if err := json.Unmarshal(msg, &ti); err != nil {
			return nil, corruptf("tensor %q: %v", name, err)
		}
		if ti.DType != "F32" {
			return nil, corruptf("tensor %q has dtype %q, want F32", name, ti.DType)
		}
		elems := int64(1)
		for _, d := range ti.Shape {
			if d < 0 || d > 1<<32 {
				return nil, corruptf("tensor %q shape %v", name, ti.Shape)
			}
			elems *= d
			if elems > 1<<34 {
				return nil, corruptf("tensor %q shape %v too large", name, ti.Shape)
			}
		}
		if ti.Offsets[0] < 0 || ti.Offsets[1] > dataLen || ti.Offsets[1]-ti.Offsets[0] != elems*4 || ti.Offsets[0]%4 != 0 {
			return nil, corruptf("tensor %q offsets %v do not fit shape %v in %d data bytes", name, ti.Offsets, ti.Shape, dataLen)
		}
		infos[name] = ti
	}
	// Read all data in one allocation, viewed as float32.
	if dataLen%4 != 0 {
		return nil, corruptf("data section of %d bytes is not whole float32s", dataLen)
	}
	data := make([]float32, dataLen/4)
	if _, err := io.ReadFull(r, floatBytes(data)); err != nil {
		return nil, corruptf("truncated data section")
	}
	zeroed := bytes.Clone(hb)
	i := bytes.Index(zeroed, []byte(crcKey))
	if i < 0 {
		return nil, corruptf("checksum field not found")
	}
	copy(zeroed[i+len(crcKey):], "00000000")
	crc := crc32.Update(0, frame.Castagnoli, lenBuf[:])
	crc = crc32.Update(crc, frame.Castagnoli, zeroed)
	crc = crc32.Update(crc, frame.Castagnoli, floatBytes(data))
	if uint64(crc) != wantCRC {
		return nil, corruptf("checksum %08x, file says %08x", crc, wantCRC)
	}
	if ver != FormatVersion {
		return nil, fmt.Errorf("%w %d (this build reads %d); upgrade twin to read it", ErrVersion, ver, FormatVersion)
	}
	var cfg Config
	if err := json.Unmarshal([]byte(meta["twin.config"]), &cfg); err != nil {
		return nil, corruptf("config: %v", err)
	}
	if cfg.Version != FormatVersion {
		return nil, fmt.Errorf("%w %d (this build reads %d)", ErrVersion, cfg.Version, FormatVersion)
	}
	if err := cfg.Validate(); err != nil {
		return nil, corruptf("config: %v", err)
	}
	m := &Model{Config: cfg}
	take := func(name string, shape ...int64) ([]float32, error) {
		ti, ok := infos[name]
		if !ok {
			return nil, corruptf("missing tensor %q", name)
		}
		if fmt.Sprint(ti.Shape) != fmt.Sprint(shape) {
			return nil, corruptf("tensor %q has shape %v, config says %v", name, ti.Shape, shape)
		}
		delete(infos, name)
		return data[ti.Offsets[0]/4 : ti.Offsets[1]/4 : ti.Offsets[1]/4], nil
	}
	buckets := int64(1) << cfg.Features.Bits
	body := func(prefix string) (*Tower, int, error) {
		tw := &Tower{}
		var err error
		if tw.Emb, err = take(prefix+".emb", buckets, int64(cfg.BagDim)); err != nil {
			return nil, 0, err
		}
		in := cfg.BagDim
		for i, h := range cfg.Hidden {
			d := &Dense{In: in, Out: h}
			if d.W, err = take(fmt.Sprintf("%s.hidden.%d.weight", prefix, i), int64(h), int64(in)); err != nil {
				return nil, 0, err
			}
			if d.B, err = take(fmt.Sprintf("%s.hidden.%d.bias", prefix, i), int64(h)); err != nil {
				return nil, 0, err
			}
			tw.Hidden = append(tw.Hidden, d)
			in = h
		}
		return tw, in, nil
	}
	head := func(prefix string, in int) (*Dense, error) {
		d := &Dense{In: in, Out: cfg.Dim}
		var err error
		if d.W, err = take(prefix+".proj.weight", int64(cfg.Dim), int64(in)); err != nil {
			return nil, err
		}
		if d.B, err = take(prefix+".proj.bias", int64(cfg.Dim)); err != nil {
			return nil, err
		}
		return d, nil
	}
	switch cfg.Tying {
	case Tied:
		tw, in, err := body("tower")
		if err != nil {
			return nil, err
		}
		if tw.Proj, err = head("tower", in); err != nil {
			return nil, err
		}
		m.Query, m.Doc = tw, tw
	case Untied:
		for _, side := range []string{"query", "doc"} {
			tw, in, err := body(side)
			if err != nil {
				return nil, err
			}
			if tw.Proj, err = head(side, in); err != nil {
				return nil, err
			}
			if side == "query" {
				m.Query = tw
			} else {
				m.Doc = tw
			}
		}
	case Heads:
		tw, in, err := body("shared")
		if err != nil {
			return nil, err
		}
		q, d := *tw, *tw
		if q.Proj, err = head("query", in); err != nil {
			return nil, err
		}
		if d.Proj, err = head("doc", in); err != nil {
			return nil, err
		}
		m.Query, m.Doc = &q, &d
	}
	if _, ok := infos["idf"]; ok {
		if m.IDF, err = take("idf", buckets); err != nil {
			return nil, err
		}
		for _, v := range m.IDF {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v < 0 {
				return nil, corruptf("idf holds %v", v)
			}
		}
	}
	if len(infos) > 0 {
		names := make([]string, 0, len(infos))
		for name := range infos {
			names = append(names, name)
		}
		sort.Strings(names)
		return nil, corruptf("unexpected tensors %v for a %s model", names, cfg.Tying)
	}
	if err := m.init(); err != nil {
		return nil, corruptf("%v", err)
	}
	m.fp = meta["twin.fingerprint"]
	return m, nil
}
