package remote

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Several files read in one command are framed by a random marker that the
// script takes from a shell variable set from stdin, so no one on the host
// can see it (in ps) and write it into a file to forge a frame.

// ReadFilesScript is a script that prints every path's content framed by
// the marker in the shell variable markerVar: for path i, "MARKER i
// missing\n", or "MARKER i\n", the content, "\nMARKER end\n". Each file is
// read with dd's O_NOFOLLOW; before anything is read, onLink runs for the
// first path that is a symbolic link (fmt verb %[1]s is its quoted path,
// and the script should end there).
func ReadFilesScript(paths []string, markerVar, onLink string) string {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "if [ -L %[1]s ]; then "+onLink+"; fi\n", Quote(p))
	}
	for i, p := range paths {
		fmt.Fprintf(&b, `if [ -e %[1]s ]; then printf '%%s %[2]d\n' "$%[3]s"; dd if=%[1]s iflag=nofollow bs=65536 status=none || exit 1; printf '\n%%s end\n' "$%[3]s"; else printf '%%s %[2]d missing\n' "$%[3]s"; fi
`, Quote(p), i, markerVar)
	}
	return b.String()
}

// ParseFrames splits the output of ReadFilesScript into each path's
// content; a missing path is left out of the map.
func ParseFrames(out []byte, marker string, paths []string) (map[string][]byte, error) {
	files := map[string][]byte{}
	end := []byte("\n" + marker + " end\n")
	for i, p := range paths {
		head := marker + " " + strconv.Itoa(i)
		if rest, ok := bytes.CutPrefix(out, []byte(head+" missing\n")); ok {
			out = rest
			continue
		}
		rest, ok := bytes.CutPrefix(out, []byte(head+"\n"))
		if !ok {
			return nil, fmt.Errorf("unexpected output before %s", p)
		}
		k := bytes.Index(rest, end)
		if k < 0 {
			return nil, fmt.Errorf("output of %s is cut short", p)
		}
		files[p] = append([]byte{}, rest[:k]...)
		out = rest[k+len(end):]
	}
	if len(out) != 0 {
		return nil, fmt.Errorf("unexpected output after the files")
	}
	return files, nil
}
