// Package cliflag gives the standard flag package the one thing the
// project's commands need beyond it: every flag can also be set from an
// environment variable, PREFIX + the flag's name upper-cased with dashes as
// underscores, and the help says which. A flag on the command line wins.
package cliflag

import (
	"flag"
	"fmt"
	"io"
	"strings"
)

// EnvName is the environment variable that sets flag name.
func EnvName(prefix, name string) string {
	return prefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Parse parses args, refuses positional arguments, then fills every flag
// not given on the command line from its environment variable.
func Parse(fs *flag.FlagSet, args []string, prefix string, lookupEnv func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return FromEnv(fs, prefix, lookupEnv)
}

// FromEnv fills every flag not set on the command line from its
// environment variable; for commands that take positional arguments and
// parse them themselves.
func FromEnv(fs *flag.FlagSet, prefix string, lookupEnv func(string) (string, bool)) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || given[f.Name] {
			return
		}
		name := EnvName(prefix, f.Name)
		if v, ok := lookupEnv(name); ok {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("environment %s=%q: %w", name, v, e)
			}
		}
	})
	return err
}

// PrintUsage writes the synopsis and every flag with its default and
// environment variable.
func PrintUsage(fs *flag.FlagSet, out io.Writer, synopsis, prefix string) {
	fmt.Fprintf(out, "%s\n\nFlags (each also settable as the environment variable shown):\n", synopsis)
	fs.VisitAll(func(f *flag.Flag) {
		typ, help := flag.UnquoteUsage(f)
		fmt.Fprintf(out, "  --%s %s\n", f.Name, typ)
		fmt.Fprintf(out, "        %s\n", strings.ReplaceAll(help, "\n", "\n        "))
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			fmt.Fprintf(out, "        default: %s\n", f.DefValue)
		}
		fmt.Fprintf(out, "        env: %s\n", EnvName(prefix, f.Name))
	})
}
