package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redisctl/redisctl/provision/inventory"
	"github.com/redisctl/redisctl/provision/remote"
)

// Manifest records on each host what one cluster's redisctl runs created
// there, so uninstall removes exactly that and nothing else. Each cluster
// has its own (NAME.manifest.json in the host's StateDir): two clusters
// on the same hosts share the binaries, the redis user and the parent
// directories, and those go only with the last cluster that uses them.
type Manifest struct {
	Version     int       `json:"version"`
	Cluster     string    `json:"cluster,omitempty"`
	Updated     time.Time `json:"updated"`
	Created     []string  `json:"created"`      // files and directories, in creation order
	CreatedUser bool      `json:"created_user"` // the redis user did not exist before
	Services    []string  `json:"services"`     // services installed (init scripts or units)
	Enabled     []string  `json:"enabled"`      // services enabled at boot by redisctl

	// Others are the other clusters with a manifest on the host; an
	// unnamed one is an older redisctl's manifest.json not adopted here.
	Others []string `json:"-"`

	mu     sync.Mutex
	saveMu sync.Mutex // one Save at a time: the last one written holds every entry
	path   string
	legacy string // an older redisctl's manifest.json adopted: removed at the next Save
}

// legacyManifest is the one manifest per host of redisctl before
// manifests were per cluster.
const legacyManifest = "manifest.json"

const manifestSuffix = ".manifest.json"

func ManifestPath(stateDir, cluster string) string {
	return path.Join(stateDir, cluster+manifestSuffix)
}

// LoadManifest reads the cluster's manifest on a host; a missing one is
// empty, not an error. files are the manifest file names the facts found
// in the state directory. An older redisctl's single manifest.json is
// adopted when it records this cluster's config file (it was written by
// this cluster's runs), and moved to the cluster's name at the next Save.
func LoadManifest(ctx context.Context, h remote.Host, l inventory.Layout, cluster string, files []string) (*Manifest, error) {
	m := &Manifest{Version: 2, Cluster: cluster, path: ManifestPath(l.StateDir, cluster)}
	own := cluster + manifestSuffix
	for _, f := range files {
		if f != own && f != legacyManifest {
			m.Others = append(m.Others, strings.TrimSuffix(f, manifestSuffix))
		}
	}
	switch {
	case slices.Contains(files, own):
		if err := m.read(ctx, h, m.path); err != nil {
			return nil, err
		}
	case slices.Contains(files, legacyManifest):
		old := &Manifest{}
		p := path.Join(l.StateDir, legacyManifest)
		if err := old.read(ctx, h, p); err != nil {
			return nil, err
		}
		if !slices.Contains(old.Created, l.RedisConf) && !slices.Contains(old.Created, l.SentinelConf) {
			m.Others = append(m.Others, "")
			break
		}
		if err := m.read(ctx, h, p); err != nil {
			return nil, err
		}
		m.legacy = p
	}
	if slices.Contains(files, legacyManifest) && m.legacy == "" && !slices.Contains(m.Others, "") {
		m.Others = append(m.Others, "")
	}
	m.Version, m.Cluster, m.path = 2, cluster, ManifestPath(l.StateDir, cluster)
	return m, nil
}

func (m *Manifest) read(ctx context.Context, h remote.Host, p string) error {
	data, err := h.ReadFile(ctx, p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(data, m); err != nil {
		return fmt.Errorf("manifest %s is damaged (%v); move it away to start afresh", p, err)
	}
	return nil
}

// Shared reports whether another cluster's manifest is on the host: then
// the binaries, the redis user and the shared directories stay.
func (m *Manifest) Shared() bool { return len(m.Others) > 0 }

// AddCreated records a path redisctl created (idempotent).
func (m *Manifest) AddCreated(p string) (added bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !slices.Contains(m.Created, p) {
		m.Created = append(m.Created, p)
		return true
	}
	return false
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

// Save writes the manifest to the host (root only, 0600), and removes an
// adopted older manifest.json once the cluster's own file is written.
func (m *Manifest) Save(ctx context.Context, h remote.Host) error {
	return m.SaveThen(ctx, h, nil)
}

// SaveThen is Save, then writes files (PutFiles) in the same round trip:
// the manifest first, so that what it records is on the host before any
// of them, and none is written if it is not.
func (m *Manifest) SaveThen(ctx context.Context, h remote.Host, files []remote.NewFile) error {
	// Steps that run at once (the install beside configure) each add
	// entries and save: saves in turn, each marshalling when its turn
	// comes, so no save overwrites a newer one.
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	m.mu.Lock()
	m.Updated = time.Now().UTC()
	data, err := json.MarshalIndent(m, "", "  ")
	legacy := m.legacy
	m.mu.Unlock()
	if err != nil {
		return err
	}
	all := append([]remote.NewFile{{Path: m.path, Data: append(data, '\n'), Mode: 0o600}}, files...)
	if err := h.PutFiles(ctx, all); err != nil {
		return err
	}
	if legacy != "" {
		if err := h.Run(ctx, remote.Cmd("rm", "-f", "--", legacy), nil, nil, nil); err != nil {
			return err
		}
		m.mu.Lock()
		m.legacy = ""
		m.mu.Unlock()
	}
	return nil
}

// handOver records paths (and the redis user) in another cluster's
// manifest on the host, so that the last cluster to go removes them.
func handOver(ctx context.Context, h remote.Host, l inventory.Layout, other string, paths []string, user bool) error {
	m := &Manifest{path: ManifestPath(l.StateDir, other)}
	if err := m.read(ctx, h, m.path); err != nil {
		return err
	}
	for _, p := range paths {
		m.AddCreated(p)
	}
	m.CreatedUser = m.CreatedUser || user
	return m.Save(ctx, h)
}

// Named lists cluster names, an older redisctl's unnamed manifest as such.
func Named(clusters []string) []string {
	out := make([]string, len(clusters))
	for i, c := range clusters {
		out[i] = c
		if c == "" {
			out[i] = "a cluster recorded by an older redisctl"
		}
	}
	return out
}
