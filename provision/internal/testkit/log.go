package testkit

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// LogWriter sends what is written to it to the test log, a line per
// Write (progress output, say).
type LogWriter struct{ T testing.TB }

func (w LogWriter) Write(b []byte) (int, error) {
	w.T.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// EventLog records, in order, what a fake cluster saw happen; tests compare
// it with the order a procedure must keep. Its zero value is ready to use.
type EventLog struct {
	mu     sync.Mutex
	events []string
}

// Event records e.
func (l *EventLog) Event(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

// Events returns what happened so far, in order.
func (l *EventLog) Events() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

// DebugLog is the content of the one debug log in dir.
func DebugLog(t testing.TB, dir string) []byte {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(logs) != 1 {
		t.Fatalf("debug logs: %v", logs)
	}
	data, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	return data
}
