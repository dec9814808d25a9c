package main

import (
	"flag"
	"io"

	"github.com/ageassure/ageassure/internal/cliflag"
)

// envPrefix starts the environment variable of every flag.
const envPrefix = "AGEASSURE_"

// envName is the environment variable that sets flag name.
func envName(name string) string { return cliflag.EnvName(envPrefix, name) }

// parseFlags parses args, then fills every flag not given on the command
// line from its environment variable.
func parseFlags(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) error {
	return cliflag.Parse(fs, args, envPrefix, lookupEnv)
}

// flagUsage prints a command's flags with their environment variables.
func flagUsage(fs *flag.FlagSet, out io.Writer, synopsis string) func() {
	return func() { cliflag.PrintUsage(fs, out, synopsis, envPrefix) }
}
