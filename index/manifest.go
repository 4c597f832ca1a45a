package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/twinsearch/twin/internal/frame"
)

// ManifestFile is the manifest's name inside a collection directory.
const ManifestFile = "manifest.json"

// Collection format versions, recorded in the manifest.
const (
	// formatV1: Badger store under store/ (keys m/, d/, n/, v/, t/),
	// graph snapshot graph.hnsw, this manifest.
	formatV1 = 1

	formatMin = formatV1
	formatMax = formatV1
)

// ErrManifest reports a manifest that is unreadable, corrupt or of an
// unsupported version.
var ErrManifest = errors.New("index: bad manifest")

// Manifest describes what a collection's vectors mean. It is stored as
// JSON {"body": {...}, "crc32c": N} where the CRC-32C covers the body's
// bytes exactly as written; unknown body keys are ignored.
type Manifest struct {
	FormatVersion int `json:"format_version"`
	// Metric is how vectors are compared: "cosine" (vectors are stored
	// L2-normalised and scored by inner product).
	Metric string `json:"metric"`
	Dim    int    `json:"dim"`
	// ModelFingerprint identifies the encoder that made the vectors
	// ("" when unknown, e.g. vectors brought by the user).
	ModelFingerprint string `json:"model_fingerprint"`
	// ModelPath is the model file the collection was built with, as given
	// (informational; the fingerprint is what is checked).
	ModelPath string     `json:"model_path,omitempty"`
	HNSW      HNSWParams `json:"hnsw"`
	Created   string     `json:"created,omitempty"`
}

// HNSWParams are the graph parameters recorded in the manifest.
type HNSWParams struct {
	M              int    `json:"m"`
	EfConstruction int    `json:"ef_construction"`
	EfSearch       int    `json:"ef_search"`
	Seed           uint64 `json:"seed"`
}

type manifestFile struct {
	Body   json.RawMessage `json:"body"`
	CRC32C *uint32         `json:"crc32c"`
}

func writeManifest(path string, m *Manifest) error {
	body, err := json.MarshalIndent(m, "  ", "  ")
	if err != nil {
		return err
	}
	sum := crc32.Checksum(body, frame.Castagnoli)
	out, err := json.MarshalIndent(manifestFile{Body: body, CRC32C: &sum}, "", "  ")
	if err != nil {
		return err
	}
	return frame.WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(append(out, '\n'))
		return err
	})
}

// ReadManifest reads and checks a collection manifest.
func ReadManifest(path string) (*Manifest, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeManifest(path, data)
}

func decodeManifest(path string, data []byte) (*Manifest, error) {
	var f manifestFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %s is not valid JSON: %v", ErrManifest, path, err)
	}
	if f.Body == nil || f.CRC32C == nil {
		return nil, fmt.Errorf("%w: %s lacks body or crc32c", ErrManifest, path)
	}
	if got := crc32.Checksum(f.Body, frame.Castagnoli); got != *f.CRC32C {
		return nil, fmt.Errorf("%w: %s checksum %08x, want %08x (edited or corrupt; restore it or rebuild the index)", ErrManifest, path, got, *f.CRC32C)
	}
	var m Manifest
	if err := json.Unmarshal(f.Body, &m); err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrManifest, path, err)
	}
	if m.FormatVersion < formatMin || m.FormatVersion > formatMax {
		return nil, fmt.Errorf("%w: %s has format version %d (this build reads %d-%d)", ErrManifest, path, m.FormatVersion, formatMin, formatMax)
	}
	if m.Dim <= 0 || m.Dim > 1<<16 || m.Metric != "cosine" {
		return nil, fmt.Errorf("%w: %s: dim %d, metric %q", ErrManifest, path, m.Dim, m.Metric)
	}
	o := HNSWOptions{M: m.HNSW.M, EfConstruction: m.HNSW.EfConstruction, EfSearch: m.HNSW.EfSearch}
	if err := o.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrManifest, path, err)
	}
	return &m, nil
}
