package main

// cpuMeter measures the CPU time the server (when its processes are known)
// and this client use during the timed part of a run.
type cpuMeter struct {
	pids   []int
	server float64
	client float64
	ok     bool
	ticks  cpuTicks // the machine's, for the stolen share
}

func startCPU(pids []int) *cpuMeter {
	m := &cpuMeter{pids: pids, client: selfCPU(), ticks: readCPUTicks(procRoot)}
	if len(pids) > 0 {
		s, err := treeCPU(procRoot, pids)
		m.server, m.ok = s, err == nil
	}
	return m
}

// stop records the CPU used since start in r.
func (m *cpuMeter) stop(r *Result) {
	r.ClientCPUSeconds = selfCPU() - m.client
	r.StealPercent = stealPercent(m.ticks, readCPUTicks(procRoot))
	if !m.ok {
		return
	}
	s, err := treeCPU(procRoot, m.pids)
	if err != nil {
		return
	}
	r.ServerCPUSeconds = s - m.server
	if r.Sessions > 0 {
		r.ServerCPUPerSessionMs = r.ServerCPUSeconds * 1000 / float64(r.Sessions)
	}
}
