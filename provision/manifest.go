package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision/remote"
)

// Manifest records on each host what redisctl created there, so uninstall
// removes exactly that and nothing else. It lives in the host's StateDir.
type Manifest struct {
	Version     int       `json:"version"`
	Updated     time.Time `json:"updated"`
	Created     []string  `json:"created"`      // files and directories, in creation order
	CreatedUser bool      `json:"created_user"` // the redis user did not exist before
	Services    []string  `json:"services"`     // services installed (init scripts or units)
	Enabled     []string  `json:"enabled"`      // services enabled at boot by redisctl

	mu   sync.Mutex
	path string
}

func manifestPath(stateDir string) string { return path.Join(stateDir, "manifest.json") }

// LoadManifest reads a host's manifest; a missing one is empty, not an error.
func LoadManifest(ctx context.Context, h remote.Host, stateDir string) (*Manifest, error) {
	m := &Manifest{Version: 1, path: manifestPath(stateDir)}
	data, err := h.ReadFile(ctx, m.path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("manifest %s is damaged (%v); move it away to start afresh", m.path, err)
	}
	m.path = manifestPath(stateDir)
	return m, nil
}

// AddCreated records a path redisctl created (idempotent).
func (m *Manifest) AddCreated(p string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.Created, p) {
		m.Created = append(m.Created, p)
	}
}

// Has reports whether p is recorded as created by redisctl.
func (m *Manifest) Has(p string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Contains(m.Created, p)
}

func addOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// AddService records an installed service (and whether redisctl enabled it).
func (m *Manifest) AddService(name string, enabled bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.Services = addOnce(m.Services, name)
	if enabled {
		m.Enabled = addOnce(m.Enabled, name)
	}
}

// Save writes the manifest to the host (root only, 0600).
func (m *Manifest) Save(ctx context.Context, h remote.Host) error {
	m.mu.Lock()
	m.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(m, "", "  ")
	m.mu.Unlock()
	if err != nil {
		return err
	}
	return h.PutFile(ctx, m.path, append(data, '\n'), 0o600, "")
}
