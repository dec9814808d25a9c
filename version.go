package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// version prints what this binary is: the module version (a tag when
// installed with go install …@vX, "(devel)" from a checkout), the VCS
// revision, time and whether the tree was modified, and the Go version, all
// from the build information the Go toolchain embeds. An auditor comparing
// a deployment with the source needs nothing else.
func version(stdout io.Writer) int {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Fprintln(stdout, "ageassure (no build information)")
		return 0
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	fmt.Fprintf(stdout, "ageassure %s\n", info.Main.Version)
	fmt.Fprintf(stdout, "  module    %s\n", info.Main.Path)
	if rev := settings["vcs.revision"]; rev != "" {
		modified := ""
		if settings["vcs.modified"] == "true" {
			modified = " (modified)"
		}
		fmt.Fprintf(stdout, "  revision  %s%s\n", rev, modified)
		fmt.Fprintf(stdout, "  time      %s\n", settings["vcs.time"])
	}
	fmt.Fprintf(stdout, "  go        %s\n", info.GoVersion)
	return 0
}
