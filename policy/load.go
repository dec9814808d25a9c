package policy

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Load reads a policy from a YAML file, or from a folder: every *.yaml and
// *.yml file below it (except the test-case files *_test.yaml and
// *_test.yml, see LoadCases), read in path order and merged into one policy.
//
// Problems are reported all at once as an ErrorList of *LoadError values
// carrying file:line:col positions, so an operator can fix a policy in one
// pass; other errors (a missing path, say) wrap the underlying fs error.
func Load(name string) (*Policy, error) {
	info, err := os.Stat(name)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if info.IsDir() {
		return loadFS(os.DirFS(name), ".", func(p string) string { return filepath.Join(name, filepath.FromSlash(p)) })
	}
	data, err := os.ReadFile(name)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	return compileSources([]source{{name: name, data: data}})
}

// LoadFS is Load for a file or folder root inside fsys (for example an
// embed.FS or fstest.MapFS). Positions in errors use fsys paths.
func LoadFS(fsys fs.FS, root string) (*Policy, error) {
	return loadFS(fsys, root, func(p string) string { return p })
}

// source is one policy file's name (as shown in errors) and contents.
type source struct {
	name string
	data []byte
}

func loadFS(fsys fs.FS, root string, display func(string) string) (*Policy, error) {
	isDir, err := isDirFS(fsys, root)
	if err != nil {
		return nil, err
	}
	paths := []string{root}
	if isDir {
		if paths, err = walkFiles(fsys, root, isPolicyFile); err != nil {
			return nil, err
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("policy: no *.yaml or *.yml files under %s", display(root))
		}
	}
	srcs, err := readSources(fsys, paths, display)
	if err != nil {
		return nil, err
	}
	return compileSources(srcs)
}

// isDirFS reports whether root is a folder (an error if it does not exist).
func isDirFS(fsys fs.FS, root string) (bool, error) {
	info, err := fs.Stat(fsys, root)
	if err != nil {
		return false, fmt.Errorf("policy: %w", err)
	}
	return info.IsDir(), nil
}

// walkFiles lists the files below root that keep accepts, sorted by path
// so a folder always merges in the same order.
func walkFiles(fsys fs.FS, root string, keep func(string) bool) ([]string, error) {
	var paths []string
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && keep(p) {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	slices.Sort(paths)
	return paths, nil
}

// readSources reads files into sources named for error messages.
func readSources(fsys fs.FS, paths []string, display func(string) string) ([]source, error) {
	srcs := make([]source, 0, len(paths))
	for _, p := range paths {
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		srcs = append(srcs, source{name: display(p), data: data})
	}
	return srcs, nil
}

// isPolicyFile reports whether p is a policy file: *.yaml or *.yml, but
// not the test-case files (*_test.yaml, *_test.yml) kept beside a policy,
// which LoadCases reads.
func isPolicyFile(p string) bool {
	ext := strings.ToLower(path.Ext(p))
	return (ext == ".yaml" || ext == ".yml") && !isCaseFile(p)
}

// isCaseFile reports whether p is a test-case file: *_test.yaml or
// *_test.yml.
func isCaseFile(p string) bool {
	lower := strings.ToLower(path.Base(p))
	return strings.HasSuffix(lower, "_test.yaml") || strings.HasSuffix(lower, "_test.yml")
}

// compileSources parses, merges, validates and compiles policy files. It
// never panics: a panic from a parser on hostile input becomes an error.
func compileSources(srcs []source) (p *Policy, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, fmt.Errorf("policy: internal error while loading: %v", r)
		}
	}()
	b := newBuilder()
	for _, src := range srcs {
		b.parseFile(src)
	}
	if len(srcs) > 0 {
		b.root = Pos{File: srcs[0].name, Line: 1, Col: 1}
	}
	m := b.finish()
	if len(b.errs) > 0 {
		b.errs.sort()
		return nil, b.errs
	}
	p, err = newPolicy(m)
	if err != nil {
		return nil, err
	}
	return p, nil
}
