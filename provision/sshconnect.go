package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/remote/sshhost"
)

// SSHOptions configure the SSH connector.
type SSHOptions struct {
	AcceptNewHostKeys bool
	ConnectTimeout    time.Duration
}

// SSHConnector connects to every inventory host over SSH, in parallel. A
// host that fails leaves a nil entry and its error joined into the result
// (prefixed with its name), so callers that can work with part of the
// cluster (status) may.
func SSHConnector(o SSHOptions) Connector {
	var askMu sync.Mutex
	asked := map[string][]byte{} // one prompt per key file, not per host
	ask := func(file string) ([]byte, error) {
		askMu.Lock()
		defer askMu.Unlock()
		if pw, ok := asked[file]; ok {
			return pw, nil
		}
		if !term.IsTerminal(int(os.Stdin.Fd())) {
			return nil, fmt.Errorf("%s is encrypted and there is no terminal to ask for its passphrase; load it into ssh-agent", file)
		}
		fmt.Fprintf(os.Stderr, "Passphrase for %s: ", file)
		pw, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		if err == nil {
			asked[file] = pw
		}
		return pw, err
	}
	return func(ctx context.Context, inv *inventory.Inventory) ([]remote.Host, error) {
		hosts := make([]remote.Host, len(inv.Hosts))
		errs := make([]error, len(inv.Hosts))
		var wg sync.WaitGroup
		for i, h := range inv.Hosts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cfg := sshhost.Config{
					Name: h.Name, Address: h.Address, Port: h.SSH.Port, User: h.SSH.User,
					IdentityFile: h.SSH.IdentityFile, KnownHosts: h.SSH.KnownHosts, Jump: h.SSH.Jump,
					AcceptNew: o.AcceptNewHostKeys, ConnectTimeout: o.ConnectTimeout, Passphrase: ask,
				}
				sh, err := sshhost.Connect(ctx, cfg)
				if err != nil {
					errs[i] = &HostError{Host: h.Name, Step: "connect", Err: err}
					return
				}
				hosts[i] = sh
			}()
		}
		wg.Wait()
		return hosts, errors.Join(errs...)
	}
}
