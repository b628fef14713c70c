//go:build !linux

package pgtest

import "errors"

// errNoCPU: CPU times are read from /proc, which only Linux has here.
var errNoCPU = errors.New("pgtest: CPU time is measured on Linux only")

// CPUSeconds returns the CPU time the server has used so far; Linux only.
func (c *Cluster) CPUSeconds() (float64, error) { return 0, errNoCPU }

// ProcessCPU returns the CPU time this process has used so far; Linux
// only.
func ProcessCPU() (float64, error) { return 0, errNoCPU }
