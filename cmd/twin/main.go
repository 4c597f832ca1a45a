// Command twin trains Siamese text encoders, builds vector + BM25 indexes,
// answers dense, lexical and hybrid queries, and finds near-duplicates.
//
// Each verb lives in its own file and registers itself with register.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

// globals holds the flags every verb shares.
var globals struct {
	logLevel string
	json     bool
	quiet    bool
}

var registry []func() *cobra.Command

// register adds a verb's constructor; called from init in each verb's file.
func register(f func() *cobra.Command) { registry = append(registry, f) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "twin",
		Short: "Siamese text encoders, ANN + BM25 retrieval and near-duplicate detection in one binary",
		Long: `twin trains its own query and document encoders (Siamese twin towers over
hashed n-gram features) with contrastive learning, builds a collection from a
corpus (Badger store, HNSW graph, LSH tables, BM25 index), answers dense, BM25
and hybrid top-k queries, and finds near-duplicate documents.

A typical session:
  twin model init --out model.twin                      # random model (or: twin train)
  twin train --corpus corpus.jsonl --out model.twin     # self-supervised on your corpus
  twin build --model model.twin --corpus corpus.jsonl --index ./coll
  twin search --index ./coll "how do I close a file"
  twin dedup --index ./coll --threshold 0.9`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(globals.logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: want debug, info, warn or error", globals.logLevel)
			}
			slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
			return nil
		},
	}
	root.PersistentFlags().StringVar(&globals.logLevel, "log-level", "warn", "log level: debug, info, warn or error (logs go to stderr)")
	root.PersistentFlags().BoolVar(&globals.json, "json", false, "print results as JSON instead of a table")
	root.PersistentFlags().BoolVarP(&globals.quiet, "quiet", "q", false, "no progress bars")
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print twin's version and the formats it reads and writes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return printVersion(cmd)
		},
	})
	for _, f := range registry {
		root.AddCommand(f())
	}
	return root
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot()
	err := root.ExecuteContext(ctx)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, context.Canceled) {
			msg = "interrupted"
		}
		fmt.Fprintln(os.Stderr, "twin: "+strings.ReplaceAll(strings.TrimSpace(msg), "\n", "; "))
		os.Exit(exitCode(err))
	}
}

// usageError marks errors caused by bad flags or arguments (exit code 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || strings.HasPrefix(err.Error(), "unknown command") ||
		strings.HasPrefix(err.Error(), "unknown flag") || strings.Contains(err.Error(), "flag needs an argument") ||
		strings.HasPrefix(err.Error(), "invalid argument") || strings.Contains(err.Error(), "required flag") {
		return 2
	}
	return 1
}
