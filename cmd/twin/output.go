package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"text/tabwriter"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// printJSON writes v as indented JSON to w.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table is a minimal aligned-column printer for human output.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...any) *table {
	t := &table{tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	if len(header) > 0 {
		t.row(header...)
	}
	return t
}

func (t *table) row(cells ...any) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(t.tw, "\t")
		}
		switch v := c.(type) {
		case float64:
			fmt.Fprintf(t.tw, "%.4f", v)
		case float32:
			fmt.Fprintf(t.tw, "%.4f", v)
		default:
			fmt.Fprint(t.tw, v)
		}
	}
	fmt.Fprintln(t.tw)
}

func (t *table) flush() error { return t.tw.Flush() }

// newProgress returns a progress bar on stderr for total items (-1 when
// unknown), or a silent one with --quiet or when stderr is not a terminal
// (set TWIN_PROGRESS=1 to force it on).
func newProgress(total int64, what string) *progressbar.ProgressBar {
	if globals.quiet || (!term.IsTerminal(int(os.Stderr.Fd())) && os.Getenv("TWIN_PROGRESS") != "1") {
		return progressbar.DefaultSilent(total, what)
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetDescription(what),
		progressbar.OptionSetWriter(os.Stderr),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("docs"),
		progressbar.OptionThrottle(200_000_000),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(os.Stderr) }),
		progressbar.OptionSetWidth(30),
	)
}

func printVersion(cmd *cobra.Command) error {
	info := map[string]any{
		"version": version,
		"go":      runtime.Version(),
		"formats": formatVersions(),
	}
	if globals.json {
		return printJSON(cmd.OutOrStdout(), info)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "twin %s (%s)\n", version, runtime.Version())
	for k, v := range formatVersions() {
		fmt.Fprintf(cmd.OutOrStdout(), "  %-14s %v\n", k, v)
	}
	return nil
}

// formatVersionsRegistry collects the on-disk format versions each package
// reports; verbs add to it from init.
var formatVersionsRegistry = map[string]any{}

func formatVersions() map[string]any { return formatVersionsRegistry }
