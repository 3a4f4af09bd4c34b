package up

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The package's layout is the procedure: doc.go lists the steps in the
// order of procedure, each with its title and the file that declares it.
// This fails when a step is added, moved or renamed without the list.
func TestDocListsTheProcedure(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var files, titles []string
	for _, line := range strings.Split(string(doc), "\n") {
		rest, ok := strings.CutPrefix(line, "//\t")
		if !ok {
			continue
		}
		f, title, _ := strings.Cut(rest, " ")
		title, _, _ = strings.Cut(strings.TrimSpace(title), " (")
		files, titles = append(files, f), append(titles, title)
	}
	var want, declared []string
	fset := token.NewFileSet()
	for _, s := range procedure(nil) {
		want = append(want, s.Title())
		name := reflect.TypeOf(s).Name()
		declared = append(declared, declaringFile(t, fset, name))
	}
	if !reflect.DeepEqual(titles, want) {
		t.Errorf("doc.go lists the steps\n%q\nprocedure runs\n%q", titles, want)
	}
	if !reflect.DeepEqual(files, declared) {
		t.Errorf("doc.go names the files\n%q\nthe steps are declared in\n%q", files, declared)
	}
}

// declaringFile is the file of this package that declares type name.
func declaringFile(t *testing.T, fset *token.FileSet, name string) string {
	t.Helper()
	paths, _ := filepath.Glob("*.go")
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if g, ok := d.(*ast.GenDecl); ok {
				for _, s := range g.Specs {
					if ts, ok := s.(*ast.TypeSpec); ok && ts.Name.Name == name {
						return p
					}
				}
			}
		}
	}
	return "(not declared)"
}
