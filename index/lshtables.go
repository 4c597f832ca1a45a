package index

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/twinsearch/twin/internal/frame"
	"github.com/twinsearch/twin/internal/vec"
	"github.com/twinsearch/twin/lsh"
)

// LSHFile is the collection's LSH tables, next to the graph snapshot.
const LSHFile = "lsh.tables"

const (
	lshMagic = "TWINLSHT"
	// lshTablesV1: u64 store generation, f64 planned threshold, f64 planned
	// recall, then a TWINLSH1 frame (signatures only; vectors come from
	// the store).
	lshTablesV1 = 1
)

var (
	// ErrNoLSH reports a collection without LSH tables (built by a twin
	// before they existed, or with --lsh-threshold 0).
	ErrNoLSH = errors.New("index: collection has no LSH tables")
	// ErrStaleLSH reports LSH tables that do not match the store (a write
	// after they were saved did not reach them, e.g. after a crash).
	ErrStaleLSH = errors.New("index: LSH tables are stale")
)

// LSHTables are random-hyperplane LSH tables over a collection's vectors,
// planned for one cosine threshold. Through an LSHFollower they stay in step
// with Upsert and Delete; SaveLSH writes them bound to the store's generation.
// Vectors are not copied: the tables read them through the source given
// to BuildLSH or LoadLSH (held in memory, unit length).
type LSHTables struct {
	mu        sync.Mutex
	x         *lsh.Index
	Threshold float64 // cosine the tables were planned for
	Recall    float64 // planned probability of finding a pair at Threshold
	vecs      map[uint32][]float32
}

// Index returns the lsh index.
func (t *LSHTables) Index() *lsh.Index { return t.x }

// Vector returns the vector the tables hold for an internal id.
func (t *LSHTables) Vector(id uint32) []float32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.vecs[id]
}

// LSHFollower forwards a collection's writes to LSH tables that may be
// set after the collection is open (they are loaded from or built over
// it); writes before Set are not followed, so a caller that Sets nothing
// rebuilds the tables with BuildLSH after writing.
type LSHFollower struct {
	mu sync.Mutex
	t  *LSHTables
}

// Set installs the tables to keep in step.
func (f *LSHFollower) Set(t *LSHTables) {
	f.mu.Lock()
	f.t = t
	f.mu.Unlock()
}

// Tables returns the installed tables (nil when none).
func (f *LSHFollower) Tables() *LSHTables {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Apply implements Follower.
func (f *LSHFollower) Apply(ctx context.Context, changes []Change) error {
	if t := f.Tables(); t != nil {
		return t.apply(changes)
	}
	return nil
}

// apply keeps the tables in step with one write.
func (t *LSHTables) apply(changes []Change) error {
	for _, ch := range changes {
		t.mu.Lock()
		_, had := t.vecs[ch.ID]
		t.mu.Unlock()
		if had {
			if err := t.x.Delete(ch.ID); err != nil && !errors.Is(err, lsh.ErrNotFound) {
				return err
			}
			t.mu.Lock()
			delete(t.vecs, ch.ID)
			t.mu.Unlock()
		}
		if ch.Doc == nil || !hashable(ch.Doc.Vector) {
			continue
		}
		v := append([]float32(nil), ch.Doc.Vector...)
		vec.Normalize(v)
		t.mu.Lock()
		t.vecs[ch.ID] = v
		t.mu.Unlock()
		if err := t.x.Add(ch.ID, v); err != nil {
			return err
		}
	}
	return nil
}

func hashable(v []float32) bool { return len(v) > 0 && vec.Finite(v) && vec.Norm(v) > 0 }

func (t *LSHTables) source(id uint32) []float32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.vecs[id]
}

// loadVectors reads every hashable stored vector of c (unit length).
func loadVectors(ctx context.Context, c *Collection) (map[uint32][]float32, error) {
	vecs := make(map[uint32][]float32, c.Len())
	err := c.Iterate(ctx, func(id uint32, v []float32) error {
		if hashable(v) {
			cp := append([]float32(nil), v...)
			vec.Normalize(cp)
			vecs[id] = cp
		}
		return nil
	})
	return vecs, err
}

// BuildLSH plans tables for cosine threshold (recall 0.99 at it, the
// candidate cost estimated from a seeded sample of the collection's own
// pair cosines) and hashes every stored vector.
func BuildLSH(ctx context.Context, c *Collection, threshold float64, seed uint64) (*LSHTables, error) {
	if !(threshold > 0 && threshold <= 1) {
		return nil, fmt.Errorf("index: LSH threshold %v: want a cosine in (0, 1]", threshold)
	}
	vecs, err := loadVectors(ctx, c)
	if err != nil {
		return nil, err
	}
	ids := make([]uint32, 0, len(vecs))
	for id := range vecs {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	r := rand.New(rand.NewPCG(seed, 0x6c7368))
	var sample []float64
	for i := 0; len(ids) > 1 && i < 4000; i++ {
		a, b := ids[r.IntN(len(ids))], ids[r.IntN(len(ids))]
		if a != b {
			sample = append(sample, float64(vec.Dot(vecs[a], vecs[b])))
		}
	}
	plan, err := lsh.Choose(lsh.PlanOptions{Threshold: threshold, Recall: 0.99, N: max(2, len(ids)), Sample: sample})
	if err != nil {
		return nil, err
	}
	t := &LSHTables{Threshold: threshold, Recall: plan.Recall, vecs: vecs}
	t.x, err = lsh.New(lsh.Options{Dim: c.Dim(), K: plan.K, L: plan.L, Probes: plan.Probes, Seed: seed, Source: t.source})
	if err != nil {
		return nil, err
	}
	batch := make([][]float32, len(ids))
	for i, id := range ids {
		batch[i] = vecs[id]
	}
	if err := t.x.AddBatch(ctx, ids, batch); err != nil {
		return nil, err
	}
	return t, nil
}

// SaveLSH writes t to DIR/lsh.tables atomically, bound to the store's
// current generation.
func SaveLSH(c *Collection, t *LSHTables) error {
	st, err := c.Stats()
	if err != nil {
		return err
	}
	payload := binary.LittleEndian.AppendUint64(nil, st.Generation)
	payload = binary.LittleEndian.AppendUint64(payload, math.Float64bits(t.Threshold))
	payload = binary.LittleEndian.AppendUint64(payload, math.Float64bits(t.Recall))
	if payload, err = t.x.AppendBinary(payload); err != nil {
		return err
	}
	return frame.WriteFile(filepath.Join(c.Dir(), LSHFile), lshMagic, lshTablesV1, payload)
}

// LoadLSH reads DIR/lsh.tables: ErrNoLSH when absent, ErrStaleLSH when it
// does not match the store's generation, frame.ErrCorrupt when damaged.
func LoadLSH(ctx context.Context, c *Collection) (*LSHTables, error) {
	path := filepath.Join(c.Dir(), LSHFile)
	_, payload, err := frame.ReadFile(path, lshMagic, lshTablesV1, lshTablesV1)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w (%s)", ErrNoLSH, c.Dir())
	}
	if err != nil {
		return nil, err
	}
	if len(payload) < 24 {
		return nil, fmt.Errorf("read %s: %w: short header", path, frame.ErrCorrupt)
	}
	st, err := c.Stats()
	if err != nil {
		return nil, err
	}
	if gen := binary.LittleEndian.Uint64(payload); gen != st.Generation {
		return nil, fmt.Errorf("%w: %s is for store generation %d, the store is at %d", ErrStaleLSH, path, gen, st.Generation)
	}
	t := &LSHTables{
		Threshold: math.Float64frombits(binary.LittleEndian.Uint64(payload[8:])),
		Recall:    math.Float64frombits(binary.LittleEndian.Uint64(payload[16:])),
	}
	if t.vecs, err = loadVectors(ctx, c); err != nil {
		return nil, err
	}
	if t.x, err = lsh.Decode(payload[24:], t.source); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if t.x.Dim() != c.Dim() {
		return nil, fmt.Errorf("read %s: %w: tables are %d-d, the collection %d-d", path, frame.ErrCorrupt, t.x.Dim(), c.Dim())
	}
	return t, nil
}

// LSHStat describes a collection's saved LSH tables without loading them.
type LSHStat struct {
	Present   bool    `json:"present"`
	Fresh     bool    `json:"fresh"` // bound to the store's current generation
	Threshold float64 `json:"threshold"`
	Bytes     int64   `json:"bytes"`
}

// StatLSH reads the header of DIR/lsh.tables (checksum included).
func StatLSH(c *Collection) (LSHStat, error) {
	path := filepath.Join(c.Dir(), LSHFile)
	_, payload, err := frame.ReadFile(path, lshMagic, lshTablesV1, lshTablesV1)
	if errors.Is(err, os.ErrNotExist) {
		return LSHStat{}, nil
	}
	if err != nil {
		return LSHStat{}, err
	}
	if len(payload) < 24 {
		return LSHStat{}, fmt.Errorf("read %s: %w: short header", path, frame.ErrCorrupt)
	}
	st, err := c.Stats()
	if err != nil {
		return LSHStat{}, err
	}
	return LSHStat{
		Present:   true,
		Fresh:     binary.LittleEndian.Uint64(payload) == st.Generation,
		Threshold: math.Float64frombits(binary.LittleEndian.Uint64(payload[8:])),
		Bytes:     int64(len(payload)),
	}, nil
}
