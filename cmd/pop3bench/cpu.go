package main

// cpuMeter measures the CPU time the server (when its processes are known)
// and this client use during the timed part of a run.
type cpuMeter struct {
	pids   []int
	server float64
	client float64
	ok     bool
	db     *cpuMeter // the database's processes, when known
	ticks  cpuTicks  // the machine's, for the stolen share
}

func startCPU(pids []int) *cpuMeter { return startCPUWithDB(pids, nil) }

// startCPUWithDB is startCPU that also measures the database's processes
// dbPids apart from the server's.
func startCPUWithDB(pids, dbPids []int) *cpuMeter {
	m := &cpuMeter{pids: pids, client: selfCPU(), ticks: readCPUTicks(procRoot)}
	if len(pids) > 0 {
		s, err := treeCPU(procRoot, pids)
		m.server, m.ok = s, err == nil
	}
	if len(dbPids) > 0 {
		s, err := treeCPU(procRoot, dbPids)
		m.db = &cpuMeter{pids: dbPids, server: s, ok: err == nil}
	}
	return m
}

// stop records the CPU used since start in r.
func (m *cpuMeter) stop(r *Result) {
	r.ClientCPUSeconds = selfCPU() - m.client
	r.StealPercent = stealPercent(m.ticks, readCPUTicks(procRoot))
	if m.db != nil && m.db.ok {
		if s, err := treeCPU(procRoot, m.db.pids); err == nil {
			r.DBCPUSeconds = s - m.db.server
			if r.Sessions > 0 {
				r.DBCPUPerSessionMs = r.DBCPUSeconds * 1000 / float64(r.Sessions)
			}
		}
	}
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
