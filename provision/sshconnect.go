package provision

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
	"github.com/redisctl/redisctl/provision/remote/sshhost"
)

// SSHOptions configure the SSH connector.
type SSHOptions struct {
	AcceptNewHostKeys bool
	ConnectTimeout    time.Duration

	// PromptIn and PromptOut are where the passphrase of an encrypted key is
	// asked, once per key file for all hosts (see sshhost.PassphrasePrompt).
	// A nil PromptIn: such keys must be in ssh-agent.
	PromptIn  io.Reader
	PromptOut io.Writer

	// Notes hears remarks such as which ~/.ssh/config options are ignored,
	// each printed once however many hosts it concerns; nil: none.
	Notes io.Writer
}

// SSHConnector connects to every inventory host over SSH, in parallel. A
// host that fails leaves a nil entry and its error joined into the result
// (prefixed with its name), so callers that can work with part of the
// cluster (status) may.
func SSHConnector(o SSHOptions) Connector {
	var ask func(string) ([]byte, error)
	if o.PromptIn != nil {
		out := o.PromptOut
		if out == nil {
			out = io.Discard
		}
		ask = sshhost.PassphrasePrompt(o.PromptIn, out)
	}
	var noteMu sync.Mutex
	noted := map[string]bool{}
	note := func(msg string) {
		noteMu.Lock()
		defer noteMu.Unlock()
		if o.Notes != nil && !noted[msg] {
			noted[msg] = true
			fmt.Fprintln(o.Notes, "note:", msg)
		}
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
					IdentityFile: h.SSH.IdentityFile, Jump: h.SSH.Jump,
					AcceptNew: o.AcceptNewHostKeys, ConnectTimeout: o.ConnectTimeout, Passphrase: ask, Note: note,
				}
				if h.SSH.KnownHostsSet { // else OpenSSH's user and system-wide files
					cfg.KnownHosts = h.SSH.KnownHosts
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
