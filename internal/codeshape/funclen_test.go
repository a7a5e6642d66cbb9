package codeshape

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// maxFuncLines is the longest a function of the product may be, from its
// func line to its closing brace: one that reads in one screen.
const maxFuncLines = 80

// notProduct are the folders of this module that are tooling, not product.
// The benchmark is leaving the module; until it has, it is not measured.
var notProduct = []string{"internal/bench", "cmd/crierbench"}

// TestNoLongFunctions: no function in the product's non-test Go files is
// longer than maxFuncLines.
func TestNoLongFunctions(t *testing.T) {
	t.Parallel()
	long, err := longFunctions("../..", maxFuncLines)
	require.NoError(t, err)
	require.Empty(t, long, "functions longer than %d lines: shorten them", maxFuncLines)
}

// longFunctions lists the functions longer than limit lines in the Go
// module at root, its test files and nested modules left out.
func longFunctions(root string, limit int) ([]string, error) {
	var long []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return skipDir(root, path, d.Name())
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			if n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1; n > limit {
				rel, _ := filepath.Rel(root, path)
				long = append(long, fmt.Sprintf("%s: %s is %d lines", rel, fn.Name.Name, n))
			}
		}
		return nil
	})
	return long, err
}

// skipDir skips hidden folders, testdata, other modules and notProduct.
func skipDir(root, path, name string) error {
	if path == root {
		return nil
	}
	rel, _ := filepath.Rel(root, path)
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "node_modules" {
		return filepath.SkipDir
	}
	for _, dir := range notProduct {
		if filepath.ToSlash(rel) == dir {
			return filepath.SkipDir
		}
	}
	if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
		return filepath.SkipDir
	}
	return nil
}

// TestLongFunctionsAreFound: the measure sees a function one line over the
// limit, so TestNoLongFunctions cannot pass by measuring nothing.
func TestLongFunctionsAreFound(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	body := "package p\n\nfunc long() {\n" + strings.Repeat("\t_ = 1\n", maxFuncLines-1) + "}\n\nfunc short() {}\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "p.go"), []byte(body), 0o600))
	long, err := longFunctions(dir, maxFuncLines)
	require.NoError(t, err)
	require.Equal(t, []string{fmt.Sprintf("p.go: long is %d lines", maxFuncLines+1)}, long)
}
