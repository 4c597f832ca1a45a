package index

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/twinsearch/twin/internal/frame"
	"github.com/twinsearch/twin/internal/vec"
)

// Files inside a collection directory.
const (
	storeDir  = "store"      // Badger
	graphFile = "graph.hnsw" // HNSW snapshot (TWINHNSW frame)
	genFile   = "graph.gen"  // which store generation graph.hnsw reflects
)

const (
	genMagic = "TWINGGEN"
	// genV1: u64 store generation, u64 graph file length, u32 the graph
	// file's CRC trailer (binds the pair: a graph written without its
	// generation file, or the other way round, does not match).
	genV1 = 1
)

// Badger key prefixes. Internal ids are big-endian so iteration runs in id
// order.
var (
	keyNext    = []byte("m/next")  // next internal id, u32 BE
	keySeq     = []byte("m/seq")   // generation, bumped by every write, u64 BE
	keyDirty   = []byte("m/dirty") // present while writes may be incomplete
	prefixCk   = []byte("m/ck/")   // caller checkpoints
	prefixDoc  = []byte("d/")      // d/<doc id> -> internal id
	prefixName = []byte("n/")      // n/<id> -> doc id
	prefixVec  = []byte("v/")      // v/<id> -> dim float32 LE
	prefixText = []byte("t/")      // t/<id> -> JSON {title, text, metadata}
)

func idKey(prefix []byte, id uint32) []byte {
	return binary.BigEndian.AppendUint32(append([]byte(nil), prefix...), id)
}

func docKey(docID string) []byte { return append(append([]byte(nil), prefixDoc...), docID...) }

// Options configures Open. The zero value opens an existing collection
// with its stored parameters.
type Options struct {
	// Dim is the vector length. Required to create a collection; when
	// opening, 0 accepts the stored one and anything else must match.
	Dim int
	// ModelFingerprint identifies the encoder whose vectors the collection
	// holds. Stored on creation; when opening, "" accepts any and anything
	// else must equal the stored fingerprint (ErrModel otherwise).
	ModelFingerprint string
	// ModelPath is recorded in the manifest when creating.
	ModelPath string
	// SkipGraph opens without loading or rebuilding the graph (for
	// inspection, e.g. twin info): Search fails, Len counts the store.
	SkipGraph bool
	// HNSW parameters, used when creating (the manifest's win afterwards).
	HNSW HNSWOptions
	// ReadOnly opens Badger read-only (shared lock); writes fail.
	ReadOnly bool
	// CacheBytes bounds Badger's memtables and caches. Default 16 MB.
	CacheBytes int64
	// Workers for rebuilding the graph; default all cores.
	Workers int
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Followers are derived structures kept in step with every Upsert and
	// Delete (see Follower).
	Followers []Follower
}

// Doc is one stored document.
type Doc struct {
	ID       string          `json:"-"`
	Title    string          `json:"title,omitempty"`
	Text     string          `json:"text,omitempty"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Vector   []float32       `json:"-"`
}

// Hit is one search result.
type Hit struct {
	DocID string
	ID    uint32 // internal id
	Score float32
}

// Change is one applied write, as passed to followers: Doc == nil means
// the document was deleted.
type Change struct {
	ID    uint32
	DocID string
	Doc   *Doc
}

// Follower is a structure derived from the collection (an LSH table set,
// a BM25 index) kept in step with it. Apply is called under the
// collection's write lock once the changes are in Badger and in the graph,
// with the changes of one Upsert or Delete in order. A follower that finds
// its own snapshot stale rebuilds from Collection.Iterate/IterateDocs.
type Follower interface {
	Apply(ctx context.Context, changes []Change) error
}

// UpsertStats reports what an Upsert did.
type UpsertStats struct {
	Added, Replaced int
	// Duplicates counts documents that appeared more than once in the
	// batch; the last one wins. DuplicateIDs holds up to 10 of their ids.
	Duplicates   int
	DuplicateIDs []string
}

// Collection is one collection directory: Badger holds doc id <-> internal
// id, the documents and their vectors (the truth); the HNSW graph is
// derived, loaded from its snapshot when that matches Badger's generation
// and rebuilt from Badger otherwise.
//
// Concurrency: Search, Get, Len and the iterations run in parallel with
// each other and with one writer; Upsert and Delete are serialised.
type Collection struct {
	dir    string
	opt    Options
	man    Manifest
	db     *badger.DB
	graph  *HNSW
	log    *slog.Logger
	closed atomic.Bool

	nmu   sync.RWMutex
	names []string // internal id -> doc id ("" = none); guarded by nmu

	wmu sync.Mutex
	// guarded by wmu
	next        uint32
	seq         uint64
	graphSeq    uint64 // generation the in-memory graph was saved at (0: never)
	dirtySet    bool
	dirtyAtOpen bool
	lastStats   UpsertStats
}

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	b.l.Error("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Warningf(f string, a ...any) {
	b.l.Warn("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Infof(f string, a ...any) {
	b.l.Debug("badger: " + strings.TrimSpace(fmt.Sprintf(f, a...)))
}
func (b badgerLogger) Debugf(f string, a ...any) {}

// badgerOptions are the bounded-memory settings of DESIGN.md: 16 MB
// memtables and caches, no compression (vectors do not compress).
func badgerOptions(dir string, opt Options, log *slog.Logger) badger.Options {
	c := opt.CacheBytes
	if c <= 0 {
		c = 16 << 20
	}
	return badger.DefaultOptions(dir).
		WithMemTableSize(c).
		WithNumMemtables(2).
		WithNumLevelZeroTables(2).
		WithNumLevelZeroTablesStall(8).
		WithBlockCacheSize(c).
		WithIndexCacheSize(c).
		WithValueLogFileSize(128 << 20).
		WithValueThreshold(1 << 10).
		WithCompression(options.None).
		WithNumCompactors(2).
		WithNumGoroutines(2).
		WithMetricsEnabled(false).
		WithDetectConflicts(false).
		WithSyncWrites(false).
		WithReadOnly(opt.ReadOnly).
		WithLogger(badgerLogger{log})
}

// Open opens (or, when the directory holds no collection and opt.Dim > 0,
// creates) the collection in dir.
func Open(dir string, opt Options) (*Collection, error) {
	log := opt.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := opt.HNSW.Validate(); err != nil {
		return nil, err
	}
	manPath := filepath.Join(dir, ManifestFile)
	man, err := ReadManifest(manPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if opt.ReadOnly {
			return nil, fmt.Errorf("open index %s: no collection there (%s missing)", dir, ManifestFile)
		}
		if _, serr := os.Stat(filepath.Join(dir, storeDir)); serr == nil {
			return nil, fmt.Errorf("%w: %s is missing but %s holds data; restore the manifest or rebuild the index", ErrManifest, manPath, filepath.Join(dir, storeDir))
		}
		if opt.Dim <= 0 {
			return nil, fmt.Errorf("open index %s: no collection there, and creating one needs a vector dimension", dir)
		}
		h := opt.HNSW.withDefaults()
		man = &Manifest{
			FormatVersion: formatV1, Metric: "cosine", Dim: opt.Dim, ModelFingerprint: opt.ModelFingerprint, ModelPath: opt.ModelPath,
			HNSW:    HNSWParams{M: h.M, EfConstruction: h.EfConstruction, EfSearch: h.EfSearch, Seed: h.Seed},
			Created: time.Now().UTC().Format(time.RFC3339),
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create index %s: %w", dir, err)
		}
	case err != nil:
		return nil, fmt.Errorf("open index %s: %w", dir, err)
	default:
		if opt.Dim != 0 && opt.Dim != man.Dim {
			return nil, fmt.Errorf("open index %s: %w: vectors have dimension %d, the index holds %d", dir, ErrDim, opt.Dim, man.Dim)
		}
		if opt.ModelFingerprint != "" && opt.ModelFingerprint != man.ModelFingerprint {
			return nil, fmt.Errorf("open index %s: %w: the index was built with model %q, this model is %q (rebuild the index or use that model)",
				dir, ErrModel, man.ModelFingerprint, opt.ModelFingerprint)
		}
	}
	if !opt.ReadOnly {
		removeEmptyLogs(filepath.Join(dir, storeDir), log)
	}
	db, err := badger.Open(badgerOptions(filepath.Join(dir, storeDir), opt, log))
	if err != nil {
		if strings.Contains(err.Error(), "Cannot acquire directory lock") {
			return nil, fmt.Errorf("index %s is in use by another process (%w)", dir, ErrLocked)
		}
		if opt.ReadOnly && strings.Contains(err.Error(), "Log truncate required") {
			return nil, fmt.Errorf("index %s was not closed cleanly and cannot be read until it is opened for writing once (rerun the twin build that was interrupted): %w", dir, err)
		}
		return nil, fmt.Errorf("open index %s: badger: %w", dir, err)
	}
	c := &Collection{dir: dir, opt: opt, man: *man, db: db, log: log}
	if err := c.load(manPath); err != nil {
		db.Close()
		return nil, err
	}
	if !opt.SkipGraph {
		if err := c.loadNames(); err != nil {
			db.Close()
			return nil, fmt.Errorf("open index %s: %w", dir, err)
		}
	}
	return c, nil
}

// removeEmptyLogs deletes zero-length memtable and value-log files: a
// process killed right after Badger created one leaves it empty, and
// Badger v4.9 then refuses to open ("while opening fid: N err: Create a
// new file"). An empty file holds no data, so removing it loses nothing.
func removeEmptyLogs(dir string, log *slog.Logger) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".mem") && !strings.HasSuffix(name, ".vlog") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.Size() == 0 {
			if os.Remove(filepath.Join(dir, name)) == nil {
				log.Warn("removed an empty Badger log left by a crash", "file", filepath.Join(dir, name))
			}
		}
	}
}

// loadNames reads every internal id -> doc id mapping into memory, so
// that Search answers without touching Badger (about 16 bytes plus the id
// per document).
func (c *Collection) loadNames() error {
	var names []string
	err := c.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixName, PrefetchValues: true, PrefetchSize: 256})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) != len(prefixName)+4 {
				return fmt.Errorf("%w: name key %q", frame.ErrCorrupt, k)
			}
			id := int(binary.BigEndian.Uint32(k[len(prefixName):]))
			if id >= len(names) {
				names = append(names, make([]string, id+1-len(names))...)
			}
			if err := it.Item().Value(func(v []byte) error { names[id] = string(v); return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	c.nmu.Lock()
	c.names = names
	c.nmu.Unlock()
	return err
}

func (c *Collection) setName(id uint32, name string) {
	c.nmu.Lock()
	defer c.nmu.Unlock()
	if int(id) >= len(c.names) {
		if name == "" {
			return
		}
		n := max(int(id)+1, 2*len(c.names))
		c.names = append(c.names, make([]string, n-len(c.names))...)
	}
	c.names[id] = name
}

func (c *Collection) hnswOptions() HNSWOptions {
	return HNSWOptions{M: c.man.HNSW.M, EfConstruction: c.man.HNSW.EfConstruction, EfSearch: c.man.HNSW.EfSearch, Seed: c.man.HNSW.Seed}
}

func (c *Collection) load(manPath string) error {
	if _, err := os.Stat(manPath); errors.Is(err, os.ErrNotExist) {
		if err := writeManifest(manPath, &c.man); err != nil {
			return fmt.Errorf("write manifest: %w", err)
		}
	}
	var dirty bool
	err := c.db.View(func(txn *badger.Txn) error {
		if v, err := getU(txn, keyNext, 4); err == nil {
			c.next = uint32(v)
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		if v, err := getU(txn, keySeq, 8); err == nil {
			c.seq = v
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		_, err := txn.Get(keyDirty)
		dirty = err == nil
		return nil
	})
	if err != nil {
		return fmt.Errorf("open index %s: %w", c.dir, err)
	}
	c.dirtyAtOpen = dirty
	if c.opt.SkipGraph {
		return nil
	}
	if dirty {
		c.log.Warn("index was not closed cleanly; checking the stored documents", "dir", c.dir)
		if err := c.repair(); err != nil {
			return err
		}
	}
	g, seq, err := c.readGraph()
	switch {
	case err == nil && seq == c.seq && !dirty:
		c.graph, c.graphSeq = g, seq
		return nil
	case err == nil:
		c.log.Warn("graph snapshot is behind the store; bringing it up to date", "dir", c.dir, "snapshot_generation", seq, "store_generation", c.seq)
		return c.reconcile(g)
	case errors.Is(err, os.ErrNotExist):
		if c.next > 0 {
			c.log.Warn("graph snapshot missing; rebuilding it from the store", "dir", c.dir)
		}
	default:
		c.log.Warn("graph snapshot unreadable; rebuilding it from the store", "dir", c.dir, "err", err)
	}
	return c.rebuildGraph()
}

// reconcile brings an older graph snapshot in line with the store: stored
// vectors missing from the graph or different from its copy are (re)added,
// graph nodes without a stored vector are deleted. One pass over the
// stored vectors; much cheaper than a rebuild when the snapshot is recent
// (twin build saves one every few seconds).
func (c *Collection) reconcile(g *HNSW) error {
	start := time.Now()
	if g.Dim() != c.man.Dim {
		return c.rebuildGraph()
	}
	workers := c.opt.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	var seen []bool
	var ids []uint32
	var vs [][]float32
	added, removed := 0, 0
	flush := func() error {
		err := g.AddBatch(ids, vs, workers)
		added += len(ids)
		ids, vs = ids[:0], vs[:0]
		return err
	}
	err := c.iterateVectors(context.Background(), func(id uint32, v []float32) error {
		if int(id) >= len(seen) {
			seen = append(seen, make([]bool, int(id)+1-len(seen))...)
		}
		seen[id] = true
		if g.hasVector(id, v) {
			return nil
		}
		ids = append(ids, id)
		vs = append(vs, append([]float32(nil), v...))
		if len(ids) == 8192 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("reconcile graph of %s: %w", c.dir, err)
	}
	for _, id := range g.liveIDs() {
		if int(id) >= len(seen) || !seen[id] {
			if err := g.Delete(id); err == nil {
				removed++
			}
		}
	}
	c.graph, c.graphSeq = g, 0
	c.log.Info("graph brought up to date", "dir", c.dir, "added_or_replaced", added, "removed", removed, "seconds", time.Since(start).Seconds())
	return nil
}

func getU(txn *badger.Txn, key []byte, n int) (uint64, error) {
	it, err := txn.Get(key)
	if err != nil {
		return 0, err
	}
	v, err := it.ValueCopy(nil)
	if err != nil {
		return 0, err
	}
	if len(v) != n {
		return 0, fmt.Errorf("%w: key %q holds %d bytes", frame.ErrCorrupt, key, len(v))
	}
	if n == 4 {
		return uint64(binary.BigEndian.Uint32(v)), nil
	}
	return binary.BigEndian.Uint64(v), nil
}

// graphGeneration checks that graph.gen names the graph.hnsw on disk (by
// length and CRC trailer, without decoding it) and returns its generation.
func (c *Collection) graphGeneration() (uint64, error) {
	_, p, err := frame.ReadFile(filepath.Join(c.dir, genFile), genMagic, genV1, genV1)
	if err != nil {
		return 0, err
	}
	if len(p) != 20 {
		return 0, fmt.Errorf("%w: %s holds %d bytes", frame.ErrCorrupt, genFile, len(p))
	}
	f, err := os.Open(filepath.Join(c.dir, graphFile))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	var crc [4]byte
	if fi.Size() < 4 || uint64(fi.Size()) != binary.LittleEndian.Uint64(p[8:]) {
		return 0, fmt.Errorf("%w: %s does not match %s", frame.ErrCorrupt, graphFile, genFile)
	}
	if _, err := f.ReadAt(crc[:], fi.Size()-4); err != nil {
		return 0, err
	}
	if binary.LittleEndian.Uint32(crc[:]) != binary.LittleEndian.Uint32(p[16:]) {
		return 0, fmt.Errorf("%w: %s does not match %s", frame.ErrCorrupt, graphFile, genFile)
	}
	return binary.LittleEndian.Uint64(p), nil
}

func (c *Collection) readGraph() (*HNSW, uint64, error) {
	_, p, err := frame.ReadFile(filepath.Join(c.dir, genFile), genMagic, genV1, genV1)
	if err != nil {
		return nil, 0, err
	}
	if len(p) != 20 {
		return nil, 0, fmt.Errorf("%w: %s holds %d bytes", frame.ErrCorrupt, genFile, len(p))
	}
	data, err := os.ReadFile(filepath.Join(c.dir, graphFile))
	if err != nil {
		return nil, 0, err
	}
	if uint64(len(data)) != binary.LittleEndian.Uint64(p[8:]) || len(data) < 4 ||
		binary.LittleEndian.Uint32(data[len(data)-4:]) != binary.LittleEndian.Uint32(p[16:]) {
		return nil, 0, fmt.Errorf("%w: %s does not match %s", frame.ErrCorrupt, graphFile, genFile)
	}
	g, err := DecodeHNSW(data)
	if err != nil {
		return nil, 0, err
	}
	if g.Dim() != c.man.Dim {
		return nil, 0, fmt.Errorf("%w: graph dimension %d, manifest %d", frame.ErrCorrupt, g.Dim(), c.man.Dim)
	}
	return g, binary.LittleEndian.Uint64(p), nil
}

// writeGraphLocked saves the graph, then the generation file naming it.
func (c *Collection) writeGraphLocked() error {
	if c.opt.ReadOnly || c.graph == nil || c.graphSeq == c.seq {
		return nil
	}
	b, err := c.graph.MarshalBinary()
	if err != nil {
		return err
	}
	if err := frame.WriteFileAtomic(filepath.Join(c.dir, graphFile), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	}); err != nil {
		return fmt.Errorf("write graph snapshot: %w", err)
	}
	p := binary.LittleEndian.AppendUint64(nil, c.seq)
	p = binary.LittleEndian.AppendUint64(p, uint64(len(b)))
	p = append(p, b[len(b)-4:]...)
	if err := frame.WriteFile(filepath.Join(c.dir, genFile), genMagic, genV1, p); err != nil {
		return fmt.Errorf("write graph generation: %w", err)
	}
	c.graphSeq = c.seq
	return nil
}

// repair makes the store consistent after a crash in the middle of a
// write: internal ids whose doc id no longer maps back to them are
// removed, doc ids pointing at missing records are removed, and the next
// id is recomputed. (Resuming the interrupted batch writes those
// documents again.)
func (c *Collection) repair() error {
	if c.opt.ReadOnly {
		c.log.Warn("read-only: not repairing the store; results may include a half-written batch", "dir", c.dir)
		return nil
	}
	docs := map[string]uint32{}
	names := map[uint32]string{}
	hasVec := map[uint32]bool{}
	err := c.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixDoc, PrefetchValues: true, PrefetchSize: 256})
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				it.Close()
				return err
			}
			if len(v) == 4 {
				docs[string(it.Item().Key()[len(prefixDoc):])] = binary.BigEndian.Uint32(v)
			}
		}
		it.Close()
		it = txn.NewIterator(badger.IteratorOptions{Prefix: prefixName, PrefetchValues: true, PrefetchSize: 256})
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				it.Close()
				return err
			}
			if len(k) == len(prefixName)+4 {
				names[binary.BigEndian.Uint32(k[len(prefixName):])] = string(v)
			}
		}
		it.Close()
		it = txn.NewIterator(badger.IteratorOptions{Prefix: prefixVec})
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) == len(prefixVec)+4 {
				hasVec[binary.BigEndian.Uint32(k[len(prefixVec):])] = true
			}
		}
		it.Close()
		return nil
	})
	if err != nil {
		return fmt.Errorf("repair index %s: %w", c.dir, err)
	}
	wb := c.db.NewWriteBatch()
	defer wb.Cancel()
	next, orphans, dangling := c.next, 0, 0
	for id, name := range names {
		next = max(next, id+1)
		if x, ok := docs[name]; !ok || x != id || !hasVec[id] {
			orphans++
			for _, p := range [][]byte{prefixName, prefixVec, prefixText} {
				if err := wb.Delete(idKey(p, id)); err != nil {
					return err
				}
			}
		}
	}
	for id := range hasVec {
		next = max(next, id+1)
		if _, ok := names[id]; !ok {
			orphans++
			wb.Delete(idKey(prefixVec, id))
			wb.Delete(idKey(prefixText, id))
		}
	}
	for name, id := range docs {
		next = max(next, id+1)
		if names[id] != name || !hasVec[id] {
			dangling++
			if err := wb.Delete(docKey(name)); err != nil {
				return err
			}
		}
	}
	c.next = next
	wb.Set(keyNext, binary.BigEndian.AppendUint32(nil, next))
	c.seq++
	wb.Set(keySeq, binary.BigEndian.AppendUint64(nil, c.seq))
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("repair index %s: %w", c.dir, err)
	}
	if orphans+dangling > 0 {
		c.log.Warn("removed half-written documents", "dir", c.dir, "orphan_ids", orphans, "dangling_doc_ids", dangling)
	}
	c.dirtySet = true // m/dirty stays until Close
	return nil
}

// rebuildGraph inserts every stored vector into a new graph.
func (c *Collection) rebuildGraph() error {
	start := time.Now()
	c.graph = NewHNSW(c.man.Dim, c.hnswOptions())
	c.graphSeq = 0
	workers := c.opt.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	const chunk = 8192
	ids := make([]uint32, 0, chunk)
	vs := make([][]float32, 0, chunk)
	flush := func() error {
		err := c.graph.AddBatch(ids, vs, workers)
		ids, vs = ids[:0], vs[:0]
		return err
	}
	err := c.iterateVectors(context.Background(), func(id uint32, v []float32) error {
		ids = append(ids, id)
		vs = append(vs, append([]float32(nil), v...))
		if len(ids) == chunk {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("rebuild graph of %s: %w", c.dir, err)
	}
	if c.graph.Len() > 0 {
		c.log.Info("rebuilt graph", "dir", c.dir, "vectors", c.graph.Len(), "seconds", time.Since(start).Seconds())
	}
	return nil
}

func decodeVec(b []byte, dim int, dst []float32) ([]float32, error) {
	if len(b) != 4*dim {
		return nil, fmt.Errorf("%w: stored vector of %d bytes, want %d", frame.ErrCorrupt, len(b), 4*dim)
	}
	dst = dst[:0]
	for i := 0; i < dim; i++ {
		dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:])))
	}
	return dst, nil
}

func encodeVec(v []float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

func (c *Collection) iterateVectors(ctx context.Context, fn func(id uint32, v []float32) error) error {
	buf := make([]float32, 0, c.man.Dim)
	opt := badger.IteratorOptions{Prefix: prefixVec, PrefetchValues: true, PrefetchSize: 256}
	return c.scan(ctx, opt, func(_ *badger.Txn, item *badger.Item) error {
		k := item.Key()
		if len(k) != len(prefixVec)+4 {
			return fmt.Errorf("%w: vector key %q", frame.ErrCorrupt, k)
		}
		var err error
		err = item.Value(func(b []byte) error {
			buf, err = decodeVec(b, c.man.Dim, buf)
			return err
		})
		if err != nil {
			return err
		}
		return fn(binary.BigEndian.Uint32(k[len(prefixVec):]), buf)
	})
}

// scan calls fn for every key under opt.Prefix in one read transaction,
// in key order, checking ctx every 1024 keys.
func (c *Collection) scan(ctx context.Context, opt badger.IteratorOptions, fn func(txn *badger.Txn, item *badger.Item) error) error {
	return c.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(opt)
		defer it.Close()
		n := 0
		for it.Rewind(); it.Valid(); it.Next() {
			if n%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			n++
			if err := fn(txn, it.Item()); err != nil {
				return err
			}
		}
		return nil
	})
}

// Manifest returns the collection's manifest.
func (c *Collection) Manifest() Manifest { return c.man }

// Dir returns the collection directory.
func (c *Collection) Dir() string { return c.dir }

// Dim returns the vector length.
func (c *Collection) Dim() int { return c.man.Dim }

// Len returns the number of documents.
func (c *Collection) Len() int {
	if c.graph == nil {
		n, _ := c.countStore()
		return n
	}
	return c.graph.Len()
}

func (c *Collection) countStore() (int, error) {
	n := 0
	err := c.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixName})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			n++
		}
		return nil
	})
	return n, err
}

// Stats describes a collection's state.
type Stats struct {
	Docs          int               `json:"docs"`        // documents in the store
	GraphNodes    int               `json:"graph_nodes"` // live nodes in the graph (-1: graph not loaded)
	Tombstones    int               `json:"graph_tombstones"`
	GraphBytes    int               `json:"graph_bytes"`
	NextID        uint32            `json:"next_id"`
	Generation    uint64            `json:"generation"`
	SnapshotFresh bool              `json:"snapshot_fresh"` // graph.hnsw matches the store
	CleanClose    bool              `json:"clean_close"`    // false: the last writer did not Close
	StoreBytes    int64             `json:"store_bytes"`    // Badger LSM + value log
	Checkpoints   map[string]string `json:"checkpoints,omitempty"`
}

// Stats counts the store and describes the graph.
func (c *Collection) Stats() (Stats, error) {
	if err := c.checkOpen(); err != nil {
		return Stats{}, err
	}
	n, err := c.countStore()
	if err != nil {
		return Stats{}, err
	}
	c.wmu.Lock()
	st := Stats{Docs: n, GraphNodes: -1, NextID: c.next, Generation: c.seq, CleanClose: !c.dirtyAtOpen}
	c.wmu.Unlock()
	if c.graph != nil {
		st.GraphNodes, st.Tombstones, st.GraphBytes = c.graph.Len(), c.graph.Tombstones(), c.graph.MemoryBytes()
	}
	if seq, err := c.graphGeneration(); err == nil {
		st.SnapshotFresh = seq == st.Generation && !c.dirtyAtOpen
	}
	filepath.WalkDir(filepath.Join(c.dir, storeDir), func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				st.StoreBytes += fi.Size()
			}
		}
		return nil
	})
	err = c.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixCk, PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if st.Checkpoints == nil {
				st.Checkpoints = map[string]string{}
			}
			st.Checkpoints[string(it.Item().Key()[len(prefixCk):])] = string(v)
		}
		return nil
	})
	return st, err
}

// Graph returns the collection's HNSW graph (for statistics; do not
// modify it).
func (c *Collection) Graph() *HNSW { return c.graph }

func (c *Collection) checkOpen() error {
	if c.closed.Load() {
		return ErrClosed
	}
	return nil
}

func (c *Collection) checkWritable() error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	if c.opt.ReadOnly {
		return fmt.Errorf("index %s is open read-only", c.dir)
	}
	if c.graph == nil {
		return fmt.Errorf("index %s is open without its graph (SkipGraph): writes are refused", c.dir)
	}
	return nil
}

// markDirtyLocked records that writes are under way, so a crash before
// Close makes the next Open check the store and rebuild the graph.
func (c *Collection) markDirtyLocked() error {
	if c.dirtySet {
		return nil
	}
	if err := c.db.Update(func(txn *badger.Txn) error { return txn.Set(keyDirty, []byte{1}) }); err != nil {
		return err
	}
	c.dirtySet = true
	return nil
}

// Upsert stores docs (replacing documents with the same id) and inserts
// their vectors into the graph. Vectors are L2-normalised copies; every
// vector must have the collection's dimension and be finite (the error
// names the document). Duplicate ids in docs: the last one wins and they
// are counted in the stats.
func (c *Collection) Upsert(ctx context.Context, docs []Doc) (UpsertStats, error) {
	return c.UpsertCheckpoint(ctx, docs, "", nil)
}

// UpsertCheckpoint is Upsert that also stores value under checkpoint key
// once every document of the batch is committed, so a resumed bulk load
// (twin build) can continue after the last complete batch. An empty key
// stores nothing.
func (c *Collection) UpsertCheckpoint(ctx context.Context, docs []Doc, key string, value []byte) (UpsertStats, error) {
	var st UpsertStats
	if err := c.checkWritable(); err != nil {
		return st, err
	}
	// Validate and de-duplicate before touching anything.
	last := make(map[string]int, len(docs))
	for i := range docs {
		d := &docs[i]
		if d.ID == "" {
			return st, fmt.Errorf("document %d of the batch has an empty id", i)
		}
		if len(d.Vector) != c.man.Dim {
			return st, fmt.Errorf("document %q: %w: got %d, index has %d", d.ID, ErrDim, len(d.Vector), c.man.Dim)
		}
		if !vec.Finite(d.Vector) {
			return st, fmt.Errorf("document %q: %w", d.ID, ErrNotFinite)
		}
		if _, dup := last[d.ID]; dup {
			st.Duplicates++
			if len(st.DuplicateIDs) < 10 {
				st.DuplicateIDs = append(st.DuplicateIDs, d.ID)
			}
		}
		last[d.ID] = i
	}
	order := make([]int, 0, len(last))
	for i := range docs {
		if last[docs[i].ID] == i {
			order = append(order, i)
		}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.markDirtyLocked(); err != nil {
		return st, err
	}
	// Resolve internal ids.
	ids := make([]uint32, len(order))
	existing := make([]bool, len(order))
	err := c.db.View(func(txn *badger.Txn) error {
		for j, i := range order {
			it, err := txn.Get(docKey(docs[i].ID))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			v, err := it.ValueCopy(nil)
			if err != nil {
				return err
			}
			if len(v) != 4 {
				return fmt.Errorf("%w: doc id %q maps to %d bytes", frame.ErrCorrupt, docs[i].ID, len(v))
			}
			ids[j], existing[j] = binary.BigEndian.Uint32(v), true
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("upsert: %w", err)
	}
	next := c.next
	for j := range order {
		if !existing[j] {
			ids[j] = next
			next++
			st.Added++
		} else {
			st.Replaced++
		}
	}
	vs := make([][]float32, len(order))
	changes := make([]Change, len(order))
	wb := c.db.NewWriteBatch()
	defer wb.Cancel()
	for j, i := range order {
		d := docs[i]
		v := append([]float32(nil), d.Vector...)
		vec.Normalize(v)
		vs[j] = v
		body, err := json.Marshal(&d)
		if err != nil {
			return st, fmt.Errorf("document %q: %w", d.ID, err)
		}
		id := ids[j]
		// Record before mapping: a crash between them leaves an orphan
		// record (removed by repair), never a mapping without a record.
		for _, kv := range [][2][]byte{
			{idKey(prefixName, id), []byte(d.ID)},
			{idKey(prefixVec, id), encodeVec(v)},
			{idKey(prefixText, id), body},
			{docKey(d.ID), binary.BigEndian.AppendUint32(nil, id)},
		} {
			if err := wb.Set(kv[0], kv[1]); err != nil {
				return st, fmt.Errorf("upsert: %w", err)
			}
		}
		dd := d
		dd.Vector = v
		changes[j] = Change{ID: id, DocID: d.ID, Doc: &dd}
	}
	c.seq++
	wb.Set(keyNext, binary.BigEndian.AppendUint32(nil, next))
	wb.Set(keySeq, binary.BigEndian.AppendUint64(nil, c.seq))
	if err := wb.Flush(); err != nil {
		return st, fmt.Errorf("upsert: %w", err)
	}
	c.next = next
	if key != "" {
		// After the documents: the checkpoint never runs ahead of them.
		if err := c.db.Update(func(txn *badger.Txn) error {
			return txn.Set(append(append([]byte(nil), prefixCk...), key...), value)
		}); err != nil {
			return st, fmt.Errorf("upsert: checkpoint: %w", err)
		}
	}
	for j, i := range order {
		c.setName(ids[j], docs[i].ID)
	}
	if err := c.graph.AddBatch(ids, vs, c.opt.Workers); err != nil {
		return st, fmt.Errorf("upsert: graph: %w", err)
	}
	if err := c.applyFollowers(ctx, changes); err != nil {
		return st, err
	}
	return st, nil
}

func (c *Collection) applyFollowers(ctx context.Context, changes []Change) error {
	for _, f := range c.opt.Followers {
		if err := f.Apply(ctx, changes); err != nil {
			return fmt.Errorf("update derived index %T: %w", f, err)
		}
	}
	return nil
}

// Checkpoint returns the value stored by UpsertCheckpoint under key.
func (c *Collection) Checkpoint(key string) ([]byte, bool, error) {
	if err := c.checkOpen(); err != nil {
		return nil, false, err
	}
	var out []byte
	err := c.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(append(append([]byte(nil), prefixCk...), key...))
		if err != nil {
			return err
		}
		out, err = it.ValueCopy(nil)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, false, nil
	}
	return out, err == nil, err
}

// Delete removes a document.
func (c *Collection) Delete(ctx context.Context, docID string) error {
	if err := c.checkWritable(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.markDirtyLocked(); err != nil {
		return err
	}
	var id uint32
	err := c.db.Update(func(txn *badger.Txn) error {
		it, err := txn.Get(docKey(docID))
		if err != nil {
			return err
		}
		v, err := it.ValueCopy(nil)
		if err != nil {
			return err
		}
		if len(v) != 4 {
			return fmt.Errorf("%w: doc id %q maps to %d bytes", frame.ErrCorrupt, docID, len(v))
		}
		id = binary.BigEndian.Uint32(v)
		c.seq++
		for _, k := range [][]byte{docKey(docID), idKey(prefixName, id), idKey(prefixVec, id), idKey(prefixText, id)} {
			if err := txn.Delete(k); err != nil {
				return err
			}
		}
		return txn.Set(keySeq, binary.BigEndian.AppendUint64(nil, c.seq))
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return fmt.Errorf("delete %q: %w", docID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("delete %q: %w", docID, err)
	}
	if err := c.graph.Delete(id); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	c.setName(id, "")
	return c.applyFollowers(ctx, []Change{{ID: id, DocID: docID}})
}

// Get returns a stored document with its (normalised) vector.
func (c *Collection) Get(docID string) (Doc, error) {
	if err := c.checkOpen(); err != nil {
		return Doc{}, err
	}
	var d Doc
	err := c.db.View(func(txn *badger.Txn) error {
		id, err := getU(txn, docKey(docID), 4)
		if err != nil {
			return err
		}
		d, err = c.readDoc(txn, uint32(id))
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return Doc{}, fmt.Errorf("get %q: %w", docID, ErrNotFound)
	}
	if err != nil {
		return Doc{}, fmt.Errorf("get %q: %w", docID, err)
	}
	return d, nil
}

func (c *Collection) readDoc(txn *badger.Txn, id uint32) (Doc, error) {
	var d Doc
	it, err := txn.Get(idKey(prefixText, id))
	if err != nil {
		return d, err
	}
	if err := it.Value(func(b []byte) error { return json.Unmarshal(b, &d) }); err != nil {
		return d, fmt.Errorf("%w: document %d: %v", frame.ErrCorrupt, id, err)
	}
	it, err = txn.Get(idKey(prefixName, id))
	if err != nil {
		return d, err
	}
	name, err := it.ValueCopy(nil)
	if err != nil {
		return d, err
	}
	d.ID = string(name)
	it, err = txn.Get(idKey(prefixVec, id))
	if err != nil {
		return d, err
	}
	err = it.Value(func(b []byte) error {
		d.Vector, err = decodeVec(b, c.man.Dim, nil)
		return err
	})
	return d, err
}

// DocID returns the document id of an internal id.
func (c *Collection) DocID(id uint32) (string, error) {
	c.nmu.RLock()
	if int(id) < len(c.names) && c.names[id] != "" {
		defer c.nmu.RUnlock()
		return c.names[id], nil
	}
	c.nmu.RUnlock()
	var name string
	err := c.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(idKey(prefixName, id))
		if err != nil {
			return err
		}
		b, err := it.ValueCopy(nil)
		name = string(b)
		return err
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", fmt.Errorf("internal id %d: %w", id, ErrNotFound)
	}
	return name, err
}

// Search returns up to k documents nearest to q (normalised here), best
// first, searching the graph with breadth ef (<= 0: the manifest's
// efSearch; raised to k when smaller). k larger than Len returns Len hits;
// k <= 0 is ErrBadK.
func (c *Collection) Search(q []float32, k, ef int) ([]Hit, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if err := checkVector(q, c.man.Dim); err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	if c.graph == nil {
		return nil, fmt.Errorf("index %s was opened without its graph", c.dir)
	}
	qn := append([]float32(nil), q...)
	vec.Normalize(qn)
	hits, err := c.graph.Search(qn, k, ef)
	if err != nil {
		return nil, err
	}
	out := make([]Hit, 0, len(hits))
	c.nmu.RLock()
	defer c.nmu.RUnlock()
	for _, h := range hits {
		if int(h.ID) < len(c.names) && c.names[h.ID] != "" {
			out = append(out, Hit{DocID: c.names[h.ID], ID: h.ID, Score: h.Score})
		}
	}
	return out, nil
}

// Iterate calls fn for every stored vector in internal-id order. v is
// valid only during the call. It stops at the first error fn returns.
func (c *Collection) Iterate(ctx context.Context, fn func(id uint32, v []float32) error) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	return c.iterateVectors(ctx, fn)
}

// IterateDocs calls fn for every document (with its vector) in
// internal-id order.
func (c *Collection) IterateDocs(ctx context.Context, fn func(id uint32, d Doc) error) error {
	if err := c.checkOpen(); err != nil {
		return err
	}
	return c.scan(ctx, badger.IteratorOptions{Prefix: prefixName}, func(txn *badger.Txn, item *badger.Item) error {
		k := item.Key()
		if len(k) != len(prefixName)+4 {
			return fmt.Errorf("%w: name key %q", frame.ErrCorrupt, k)
		}
		id := binary.BigEndian.Uint32(k[len(prefixName):])
		d, err := c.readDoc(txn, id)
		if err != nil {
			return fmt.Errorf("document %d: %w", id, err)
		}
		return fn(id, d)
	})
}

// Sync makes every write durable (fsync) and saves the graph snapshot.
// Call it after a bulk load.
func (c *Collection) Sync() error {
	if err := c.checkWritable(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.db.Sync(); err != nil {
		return err
	}
	return c.writeGraphLocked()
}

// Close saves the graph snapshot, syncs and closes the store. The
// collection must not be used afterwards.
func (c *Collection) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var errs []error
	if !c.opt.ReadOnly {
		if err := c.db.Sync(); err != nil {
			errs = append(errs, err)
		}
		if err := c.writeGraphLocked(); err != nil {
			errs = append(errs, err)
		}
		if c.dirtySet && len(errs) == 0 {
			if err := c.db.Update(func(txn *badger.Txn) error { return txn.Delete(keyDirty) }); err != nil {
				errs = append(errs, err)
			}
			if err := c.db.Sync(); err != nil {
				errs = append(errs, err)
			}
		}
		for c.db.RunValueLogGC(0.5) == nil {
		}
	}
	if err := c.db.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close index %s: %w", c.dir, err)
	}
	return nil
}
