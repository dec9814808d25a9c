//go:build !linux

package main

// sampleHost is not implemented off Linux: the report leaves out the
// generator's and the machine's CPU.
func sampleHost() hostSample { return hostSample{} }
