//go:build !unix

package pop3server

// processCPU is 0 where getrusage is not available: the benchmarks then
// report no CPU time.
func processCPU() int64 { return 0 }
