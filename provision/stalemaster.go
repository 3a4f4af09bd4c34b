package provision

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/redisctl/redisctl/provision/redisx"
	"github.com/redisctl/redisctl/provision/remote"
)

// replState is how far one node's dataset goes in the master's replication
// stream: its replication id and offset, from the running server or from
// the RDB file it would load at start.
type replState struct {
	Node   *Node
	ID     string
	Offset int64
	Known  bool   // false: what the node would load cannot be told
	Why    string // when !Known, or where the figures came from
}

// StaleMasterError is up refusing to start the master the sentinels (or the
// inventory) name, because that could roll the cluster's data back: its
// replicas would resync from it and drop what they have beyond it.
type StaleMasterError struct {
	Master  string
	Reasons []string
}

func (e *StaleMasterError) Error() string {
	return fmt.Sprintf("refusing to start %s as master, it is down and starting it could lose data:\n  - %s\n"+
		"wait for the sentinels to fail over (redisctl status shows when they have; if their logs say -failover-abort-no-good-slave, "+
		"every replica has been cut off from the master for longer than Sentinel accepts, and the replica with the highest offset must be promoted by hand), "+
		"or, if you are sure %s holds the newest data, run up again with --force",
		e.Master, strings.Join(e.Reasons, "\n  - "), e.Master)
}

// CheckStaleMaster decides whether starting m, which is down, as master is
// safe. It is not when a sentinel flags m down (a failover is due, and a
// master that comes back now races it), when a running sentinel does not
// answer (whether a failover is under way cannot be told), or when any
// other node's dataset goes further in the replication stream than what m
// would load (its RDB, or nothing with persistence off): the replicas would
// resync from m and the newer writes would be gone from every node. The
// sentinels and the running servers are read from the snapshot s; the RDB
// headers of the stopped nodes are read here.
func (c *Cluster) CheckStaleMaster(ctx context.Context, m *Node, s *Snapshot) error {
	if m.Facts == nil || m.Facts.RedisPid > 0 {
		return nil
	}
	var reasons []string
	add := func(format string, args ...any) { reasons = append(reasons, fmt.Sprintf(format, args...)) }
	for _, n := range c.Sentinels() {
		sh := s.Node(n.Spec.Name).Sentinel
		if n.Facts == nil || n.Facts.SentinelPid == 0 || sh == nil {
			continue
		}
		switch {
		case !sh.Running:
			add("the sentinel on %s is running but does not answer (%s): whether a failover is under way cannot be told", n.Spec.Name, sh.Error)
		case redisx.HasFlag(sh.MasterFlags, "s_down") || redisx.HasFlag(sh.MasterFlags, "o_down"):
			add("the sentinel on %s flags %s %q: a failover is due", n.Spec.Name, m.Spec.Name, sh.MasterFlags)
		}
	}
	states := make([]replState, len(c.Nodes))
	err := EachHost(ctx, c.Nodes, NodeName, "", func(ctx context.Context, n *Node) error {
		st, err := c.replState(ctx, n, s.Node(n.Spec.Name).Redis)
		states[slices.Index(c.Nodes, n)] = st
		return err
	})
	if err != nil {
		return err
	}
	var ms replState
	for _, st := range states {
		if st.Node == m {
			ms = st
		}
	}
	for _, st := range states {
		if st.Node == m || !st.Known && st.Offset == 0 {
			continue
		}
		if st.Offset == 0 {
			continue // nothing replicated there: nothing to lose
		}
		switch {
		case !ms.Known:
			add("%s has replication offset %d, and what %s would load cannot be told (%s)", st.Node.Spec.Name, st.Offset, m.Spec.Name, ms.Why)
		case ms.ID != st.ID:
			add("%s follows replication id %s at offset %d, but %s would load %s at offset %d (%s): they cannot be compared", st.Node.Spec.Name, st.ID, st.Offset, m.Spec.Name, orNone(ms.ID), ms.Offset, ms.Why)
		case st.Offset > ms.Offset:
			add("%s is at replication offset %d, but %s would load offset %d (%s): %d bytes of writes would be lost", st.Node.Spec.Name, st.Offset, m.Spec.Name, ms.Offset, ms.Why, st.Offset-ms.Offset)
		}
	}
	if len(reasons) == 0 {
		return nil
	}
	sort.Strings(reasons)
	return &StaleMasterError{Master: m.Spec.Name, Reasons: reasons}
}

// replState reads how far n's dataset goes: from the server's observation
// r when it runs, else from the header of the RDB file it would load.
func (c *Cluster) replState(ctx context.Context, n *Node, r *RedisHealth) (replState, error) {
	st := replState{Node: n}
	if n.Facts != nil && n.Facts.RedisPid > 0 {
		if !r.Running {
			return st, fmt.Errorf("redis is running but does not answer INFO replication: %s", r.Error)
		}
		st.Known = true
		st.ID, st.Offset = r.ReplID, r.ReplOffset
		if r.Role == "replica" && r.Offset > 0 {
			// What the replica has applied of its master's stream.
			st.Offset = r.Offset
		}
		st.Why = "running, INFO replication"
		return st, nil
	}
	conf, err := n.Host.ReadFile(ctx, c.Layout.RedisConf)
	if errors.Is(err, fs.ErrNotExist) {
		st.Known, st.Why = true, "no config yet: an empty dataset"
		return st, nil
	}
	if err != nil {
		return st, err
	}
	if v, ok := ConfigValue(conf, "appendonly"); ok && len(v) > 0 && strings.EqualFold(v[0], "yes") {
		st.Why = "appendonly is on: it would load its AOF, whose offset redisctl does not read"
		return st, nil
	}
	dir, file := c.Layout.DataDir, "dump.rdb"
	if v, ok := ConfigValue(conf, "dir"); ok && len(v) == 1 {
		dir = v[0]
	}
	if v, ok := ConfigValue(conf, "dbfilename"); ok && len(v) == 1 {
		file = v[0]
	}
	rdb := path.Join(dir, file)
	var head strings.Builder
	// The first blocks hold the aux fields; O_NOFOLLOW, as for every read
	// in a directory redis owns.
	err = n.Host.Run(ctx, fmt.Sprintf("[ -f %[1]s ] && [ ! -L %[1]s ] || exit 0; exec dd if=%[1]s iflag=nofollow bs=4096 count=4 status=none", remote.Quote(rdb)), nil, &head, nil)
	if err != nil {
		return st, fmt.Errorf("read the header of %s: %w", rdb, err)
	}
	if head.Len() == 0 {
		st.Known, st.Why = true, "no RDB file: it would start empty"
		return st, nil
	}
	aux, err := rdbAux([]byte(head.String()))
	if err != nil {
		st.Why = fmt.Sprintf("%s: %v", rdb, err)
		return st, nil
	}
	st.Known = true
	st.ID = aux["repl-id"]
	st.Offset, _ = strconv.ParseInt(aux["repl-offset"], 10, 64)
	st.Why = rdb
	return st, nil
}

// rdbAux reads the aux fields at the start of an RDB file (the header
// Redis writes before any data: redis-ver, repl-id, repl-offset, ...).
func rdbAux(b []byte) (map[string]string, error) {
	if len(b) < 9 || string(b[:5]) != "REDIS" {
		return nil, errors.New("not an RDB file")
	}
	r := &rdbReader{b: b[9:]}
	aux := map[string]string{}
	for {
		op, err := r.byte()
		if err != nil {
			return nil, errors.New("RDB header cut short")
		}
		if op != 0xFA {
			return aux, nil
		}
		k, err := r.str()
		if err != nil {
			return nil, err
		}
		v, err := r.str()
		if err != nil {
			return nil, err
		}
		aux[k] = v
	}
}

type rdbReader struct{ b []byte }

func (r *rdbReader) byte() (byte, error) {
	if len(r.b) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c, nil
}

func (r *rdbReader) take(n uint64) ([]byte, error) {
	if uint64(len(r.b)) < n {
		return nil, io.ErrUnexpectedEOF
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out, nil
}

// length reads an RDB length; special reports an encoded integer (or LZF)
// with its kind in n.
func (r *rdbReader) length() (n uint64, special bool, err error) {
	c, err := r.byte()
	if err != nil {
		return 0, false, err
	}
	switch c >> 6 {
	case 0:
		return uint64(c & 0x3F), false, nil
	case 1:
		d, err := r.byte()
		return uint64(c&0x3F)<<8 | uint64(d), false, err
	case 2:
		switch c {
		case 0x80:
			b, err := r.take(4)
			if err != nil {
				return 0, false, err
			}
			return uint64(binary.BigEndian.Uint32(b)), false, nil
		case 0x81:
			b, err := r.take(8)
			if err != nil {
				return 0, false, err
			}
			return binary.BigEndian.Uint64(b), false, nil
		}
		return 0, false, fmt.Errorf("bad RDB length byte %#x", c)
	}
	return uint64(c & 0x3F), true, nil
}

func (r *rdbReader) str() (string, error) {
	n, special, err := r.length()
	if err != nil {
		return "", err
	}
	if !special {
		b, err := r.take(n)
		return string(b), err
	}
	switch n {
	case 0:
		b, err := r.take(1)
		if err != nil {
			return "", err
		}
		return strconv.Itoa(int(int8(b[0]))), nil
	case 1:
		b, err := r.take(2)
		if err != nil {
			return "", err
		}
		return strconv.Itoa(int(int16(binary.LittleEndian.Uint16(b)))), nil
	case 2:
		b, err := r.take(4)
		if err != nil {
			return "", err
		}
		return strconv.Itoa(int(int32(binary.LittleEndian.Uint32(b)))), nil
	}
	return "", errors.New("compressed string in the RDB header")
}
