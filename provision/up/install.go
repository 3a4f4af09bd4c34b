package up

import (
	"context"
	"fmt"

	"github.com/redisctl/redisctl/provision"
)

// The step "install redis": the build (or the binary cache) runs beside
// the preparation of the hosts and the search for the live master; only
// starting services waits for it (waitinstall.go).

// pendingInstall is the install running beside the steps that follow it.
type pendingInstall struct {
	done   chan struct{}
	cancel context.CancelFunc
	nodes  []*provision.Node // installed (or staged) by Install
	whats  map[*provision.Node]string
	err    error
}

// installStep is up's step "install redis".
type installStep struct{ *upRun }

func (installStep) Title() string { return "install redis" }

func (r installStep) Run(ctx context.Context) error {
	var todo []*provision.Node
	for _, n := range r.c.Nodes {
		if r.c.NeedsInstall(n) {
			todo = append(todo, n)
		}
	}
	if len(todo) == 0 {
		r.opts.Progress.Printf("", "every host has %s; nothing to install", r.c.Target())
		return nil
	}
	what := func(n *provision.Node) string {
		if provision.Stages(n) && provision.InstalledBuild(n.Facts) == r.c.Target() {
			return fmt.Sprintf("put a build of %s with TLS beside the one without in %s (switched to at each restart)", r.c.Target(), r.c.Layout.BinDir)
		}
		if provision.Stages(n) {
			return fmt.Sprintf("put %s beside %s in %s (switched to at each restart)", r.c.Target(), provision.InstalledBuild(n.Facts), r.c.Layout.BinDir)
		}
		return fmt.Sprintf("install %s in %s", r.c.Target(), r.c.Layout.BinDir)
	}
	if r.opts.DryRun {
		for _, n := range todo {
			if r.c.NeedsLibSSL(n) {
				r.change(n, "", nil, "install the OpenSSL library with %s (Redis built with TLS needs it)", n.Pkg.Name())
			}
			r.change(n, "", nil, "%s", what(n))
		}
		return nil
	}
	whats := map[*provision.Node]string{}
	for _, n := range todo {
		whats[n] = what(n)
	}
	// The build (or the copy of cached binaries) runs while the hosts are
	// prepared and the live master is found. Nothing is configured before
	// it has succeeded everywhere (waitInstall): a host that cannot build
	// must leave the others without a config, or the next run would find
	// replicas configured for a master that never started.
	ctx, cancel := context.WithCancel(ctx)
	in := &pendingInstall{done: make(chan struct{}), cancel: cancel}
	r.installing = in
	go func() {
		defer close(in.done)
		in.nodes, in.err = r.c.Install(ctx, r.src, r.opts.CacheDir)
		in.whats = whats
	}()
	return nil
}
