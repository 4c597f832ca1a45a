package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/twinsearch/twin/index"
	"github.com/twinsearch/twin/index/bm25"
	"github.com/twinsearch/twin/retriever"
)

func init() { register(newInfoCmd) }

func newInfoCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "info --index DIR",
		Short: "Print a collection's manifest and counts",
		Long: `Print what a collection holds: its manifest (format version, metric,
dimension, HNSW parameters, the fingerprint of the model that built it) and
counts (documents, graph nodes and tombstones, store size, whether the graph
snapshot is current and whether the last writer closed cleanly). The
collection is opened read-only and its graph is not loaded.`,
		Example: `  twin info --index ./coll
  twin info --index ./coll --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if dir == "" {
				return usagef("--index is required")
			}
			if _, err := os.Stat(filepath.Join(dir, index.ManifestFile)); err != nil {
				return fmt.Errorf("--index %s: not a collection (no %s)", dir, index.ManifestFile)
			}
			c, err := index.Open(dir, index.Options{ReadOnly: true, SkipGraph: true, Logger: slog.Default()})
			if err != nil {
				// Show the manifest even when the store cannot be read
				// (locked by a running build, or crashed).
				if man, merr := index.ReadManifest(filepath.Join(dir, index.ManifestFile)); merr == nil {
					if globals.json {
						printJSON(cmd.OutOrStdout(), map[string]any{"index": dir, "manifest": man, "store_error": err.Error()})
					} else {
						printManifest(newTable(cmd.OutOrStdout()), dir, man).flush()
					}
				}
				return err
			}
			defer c.Close()
			st, err := c.Stats()
			if err != nil {
				return err
			}
			man := c.Manifest()
			ls, lerr := index.StatLSH(c)
			bmDocs := -1
			if bm, err := bm25.Open(retriever.BM25Dir(dir), bm25.Options{NoCreate: true}); err == nil {
				bmDocs, _ = bm.Count()
				bm.Close()
			}
			if globals.json {
				out := map[string]any{"index": dir, "manifest": man, "stats": st, "lsh": ls, "bm25_docs": bmDocs}
				if lerr != nil {
					out["lsh_error"] = lerr.Error()
				}
				return printJSON(cmd.OutOrStdout(), out)
			}
			t := printManifest(newTable(cmd.OutOrStdout()), dir, &man)
			t.row("documents", st.Docs)
			t.row("next internal id", st.NextID)
			t.row("generation", st.Generation)
			t.row("graph snapshot", map[bool]string{true: "current", false: "stale or missing (rebuilt on next open)"}[st.SnapshotFresh])
			t.row("last close", map[bool]string{true: "clean", false: "not clean (checked and repaired on next open)"}[st.CleanClose])
			t.row("store bytes", st.StoreBytes)
			switch {
			case lerr != nil:
				t.row("lsh tables", "unreadable: "+lerr.Error())
			case !ls.Present:
				t.row("lsh tables", "none (twin build --lsh-threshold T, or twin dedup --index DIR --save-tables)")
			default:
				t.row("lsh tables", fmt.Sprintf("planned for cosine %g, %s, %d bytes", ls.Threshold,
					map[bool]string{true: "current", false: "stale (rebuilt by the next twin build)"}[ls.Fresh], ls.Bytes))
			}
			if bmDocs >= 0 {
				t.row("bm25 documents", bmDocs)
			} else {
				t.row("bm25", "none (built by twin build --corpus without --no-bm25)")
			}
			for k, v := range st.Checkpoints {
				t.row("checkpoint "+k, v)
			}
			return t.flush()
		},
	}
	cmd.Flags().StringVar(&dir, "index", "", "collection directory")
	return cmd
}

func printManifest(t *table, dir string, man *index.Manifest) *table {
	t.row("index", dir)
	t.row("format version", man.FormatVersion)
	t.row("metric", man.Metric)
	t.row("dim", man.Dim)
	t.row("model fingerprint", orDash(man.ModelFingerprint))
	t.row("model path", orDash(man.ModelPath))
	t.row("hnsw", fmt.Sprintf("M=%d efConstruction=%d efSearch=%d seed=%d", man.HNSW.M, man.HNSW.EfConstruction, man.HNSW.EfSearch, man.HNSW.Seed))
	t.row("created", orDash(man.Created))
	return t
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
