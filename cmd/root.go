// Package cmd wires redisctl's commands to the provision library: each
// command parses its flags into an options struct, calls one function, and
// renders the result it returns, as JSON or for a person: health_table.go
// (status), check_table.go (check), summary.go (up and plan),
// connectinfo_render.go (connect-info), writeFailoverTable (failover-test).
package cmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/redisctl/redisctl/provision"
	"github.com/redisctl/redisctl/provision/inventory"
)

// Version is set at build time with -ldflags "-X github.com/redisctl/redisctl/cmd.Version=...".
var Version = "dev"

// Exit codes, documented in the README.
const (
	ExitOK       = 0
	ExitError    = 1 // the command failed (bad inventory, a step failed ...)
	ExitUsage    = 2 // bad flags or arguments
	ExitDegraded = 3 // status: the cluster works but something needs attention
	ExitUnusable = 4 // status: the cluster cannot serve or fail over, or a host is unreachable
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// globals are the flags every command shares.
type globals struct {
	inventory         string
	verbose           bool
	acceptNewHostKeys bool
	cacheDir          string
	in                io.Reader
	out, errOut       io.Writer

	// upBackupTo is up's --backup-to (runUp's other options are its
	// arguments; plan has no such flag and leaves it empty).
	upBackupTo string
}

// printError prints the error that ends a command. A remote stderr tail in
// it may quote a config line (Redis's "FATAL CONFIG FILE ERROR >>>
// 'requirepass ...'"), so secrets are hidden here as everywhere else.
func printError(w io.Writer, err error) {
	fmt.Fprintln(w, "Error:", provision.MaskText(err.Error()))
}

// Execute runs redisctl with args and returns the process exit code.
func Execute(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	root := newRootCmd(in, out, errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			printError(errOut, ee.err)
		}
		return ee.code
	}
	printError(errOut, err)
	if ctx.Err() != nil {
		return 130
	}
	return ExitError
}

func newRootCmd(in io.Reader, out, errOut io.Writer) *cobra.Command {
	g := &globals{in: in, out: out, errOut: errOut}
	root := &cobra.Command{
		Use:           "redisctl",
		Short:         "Install and run a Redis master/replica cluster with Sentinel over SSH",
		Long:          "redisctl turns bare Linux hosts into a Redis master, replicas and a Sentinel on each host, over SSH,\nproves that the cluster can fail over, and is safe to run again on a live cluster.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	root.SetIn(in)
	root.SetOut(out)
	root.SetErr(errOut)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &exitError{code: ExitUsage, err: fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())}
	})
	defInv := "inventory.yaml"
	if v := os.Getenv("REDISCTL_INVENTORY"); v != "" {
		defInv = v
	}
	// No fallback to /tmp: builds shipped to every host as root must not
	// come from a directory any local user can write.
	defCache := ""
	if cache, err := os.UserCacheDir(); err == nil {
		defCache = filepath.Join(cache, "redisctl")
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&g.inventory, "inventory", "i", defInv, "inventory file (default from $REDISCTL_INVENTORY)")
	pf.BoolVarP(&g.verbose, "verbose", "v", false, "stream the output of remote commands")
	pf.BoolVar(&g.acceptNewHostKeys, "accept-new-host-keys", false, "record the host key of hosts missing from known_hosts (like ssh's accept-new); changed keys are always refused")
	pf.StringVar(&g.cacheDir, "cache-dir", defCache, "where sources, builds and debug logs are kept (default $XDG_CACHE_HOME/redisctl or ~/.cache/redisctl)")

	root.AddCommand(
		newUpCmd(g),
		newPlanCmd(g),
		newStatusCmd(g),
		newFailoverTestCmd(g),
		newUninstallCmd(g),
		newVersionCmd(g),
		newCheckCmd(g),
		newConnectInfoCmd(g),
		newBackupCmd(g),
		newRestoreCmd(g),
		newRotatePasswordCmd(g),
	)
	return root
}

// loadInventory reads and validates the inventory, printing warnings.
func (g *globals) loadInventory() (*inventory.Inventory, error) {
	inv, warnings, err := inventory.Load(g.inventory)
	for _, w := range warnings {
		fmt.Fprintln(g.errOut, "warning:", w)
	}
	return inv, err
}

// begin loads the inventory and opens the progress output and debug log
// for one command; the caller closes the progress.
func (g *globals) begin(verb string) (*inventory.Inventory, *provision.Progress, error) {
	if g.cacheDir == "" {
		return nil, nil, &exitError{code: ExitUsage, err: errors.New("no cache directory: neither $XDG_CACHE_HOME nor $HOME is set; pass --cache-dir")}
	}
	inv, err := g.loadInventory()
	if err != nil {
		return nil, nil, err
	}
	return inv, g.progress(verb), nil
}

func (g *globals) progress(verb string) *provision.Progress {
	return provision.NewProgress(g.errOut, filepath.Join(g.cacheDir, "logs"), verb, g.verbose)
}

func (g *globals) connector() provision.Connector {
	return provision.SSHConnector(provision.SSHOptions{
		AcceptNewHostKeys: g.acceptNewHostKeys, ConnectTimeout: 10 * time.Second,
		PromptIn: g.in, PromptOut: g.errOut, Notes: g.errOut,
	})
}

// failed wraps a command's error with the debug log's path.
func failed(p *provision.Progress, err error) error {
	if err == nil {
		return nil
	}
	if path := p.LogPath(); path != "" {
		return fmt.Errorf("%w\n(the debug log with every remote command and its output: %s)", err, path)
	}
	return err
}

// checkOutput validates an -o flag.
func checkOutput(o string) error {
	if o != "table" && o != "json" {
		return &exitError{code: ExitUsage, err: fmt.Errorf("-o must be table or json, not %q", o)}
	}
	return nil
}

// writeJSON writes v as indented JSON, the stable machine-readable form.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newVersionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print redisctl's version",
		Args:  cobra.NoArgs,
		Run: func(c *cobra.Command, _ []string) {
			fmt.Fprintln(g.out, "redisctl", Version)
		},
	}
}
