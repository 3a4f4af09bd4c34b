package up

import "context"

// waitInstallStep is up's step "wait for the install".
type waitInstallStep struct{ *upRun }

func (waitInstallStep) Title() string { return "wait for the install" }

// Run waits for the install started by install, then records what
// it did; it runs before anything is configured or started.
func (r waitInstallStep) Run(ctx context.Context) error {
	in := r.installing
	if in == nil {
		return nil
	}
	select {
	case <-in.done:
	case <-ctx.Done():
		in.cancel()
		<-in.done
	}
	r.installing = nil
	for _, n := range in.nodes {
		r.c.InstalledNow(n)
		r.change(n, "", nil, "%s", in.whats[n])
	}
	return in.err
}
