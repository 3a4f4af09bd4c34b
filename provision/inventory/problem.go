package inventory

import (
	"cmp"
	"fmt"
	"strings"
)

// Problem is one thing wrong with an inventory, located in its file. Msg
// never contains the Redis password.
type Problem struct {
	File      string
	Line, Col int    // 1-based; 0 when unknown
	Field     string // e.g. "hosts[1].role"; empty when about the whole file
	Msg       string // what is wrong, and what would be right
}

// String formats the problem as FILE:LINE:COL: field.path: message.
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
		if p.Col > 0 {
			fmt.Fprintf(&b, ":%d", p.Col)
		}
	}
	b.WriteString(": ")
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Warning is something valid but probably unwise, located like a Problem.
type Warning Problem

// String formats the warning like Problem.String.
func (w Warning) String() string { return Problem(w).String() }

// ValidationError carries every problem found in an inventory, in file order.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// byPosition orders problems by line, then column; with a stable sort,
// problems at the same place keep the order they were found in.
func byPosition(a, b Problem) int {
	return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
}

// position is a line and column in the inventory file.
type position struct{ line, col int }

// fieldPath names a place in the inventory the way messages show it:
// "redis.port", "hosts[1].ssh.user". Host indexes count from 0. The empty
// path is the whole document.
type fieldPath string

func (p fieldPath) key(k string) fieldPath {
	if p == "" {
		return fieldPath(k)
	}
	return p + "." + fieldPath(k)
}

func (p fieldPath) index(i int) fieldPath {
	return p + fieldPath(fmt.Sprintf("[%d]", i))
}

// parent drops the last key or index: "hosts[1].role" -> "hosts[1]" -> "hosts".
func (p fieldPath) parent() fieldPath {
	i := strings.LastIndexAny(string(p), ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}
