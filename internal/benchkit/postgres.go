package benchkit

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// postgresBackends is PostgresSched per backend (by pid), so a
// phase can add up the backends alive at its end without going negative
// when the pool replaces a connection (a cancelled query closes it).
// Parallel workers ("postgres: parallel worker for PID n") are included
// when they belong to one of the database's backends.
func postgresBackends(db string) map[string]Sched {
	out := map[string]Sched{}
	if db == "" {
		return out
	}
	procs, _ := os.ReadDir("/proc")
	ours := map[string]bool{}
	var workers [][2]string // pid, leader pid
	for _, p := range procs {
		if c := p.Name()[0]; c < '0' || c > '9' {
			continue
		}
		comm, err := os.ReadFile("/proc/" + p.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		cmd, err := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		if err != nil {
			continue
		}
		// "postgres: [CLUSTER: ]USER DB HOST(PORT) STATE" or "postgres: [CLUSTER: ]parallel worker for PID n"
		f := strings.Fields(strings.ReplaceAll(string(cmd), "\x00", " "))
		if len(f) == 0 || f[0] != "postgres:" {
			continue
		}
		f = f[1:]
		if len(f) > 0 && strings.HasSuffix(f[0], ":") {
			f = f[1:]
		}
		if len(f) >= 5 && f[0] == "parallel" && f[1] == "worker" {
			if _, err := strconv.Atoi(f[4]); err == nil {
				workers = append(workers, [2]string{p.Name(), f[4]})
			}
			continue
		}
		if len(f) < 2 || f[1] != db {
			continue
		}
		ours[p.Name()] = true
		if x, ok := readSched("/proc/" + p.Name() + "/schedstat"); ok {
			out[p.Name()] = x
		}
	}
	for _, w := range workers {
		if ours[w[1]] {
			if x, ok := readSched("/proc/" + w[0] + "/schedstat"); ok {
				out[w[0]] = x
			}
		}
	}
	return out
}

// pgSampler follows the database's backends every 200 ms and keeps each
// one's CPU from when it was first seen to when it was last seen, so the
// CPU of backends that exit during a phase (a cancelled query closes its
// connection and the pool opens another) still counts, up to the last
// sample before they exit. Backends that appear after the first sample
// count from zero: they were started during the run.
type pgSampler struct {
	mu      sync.Mutex
	started bool
	seen    map[string][2]Sched // pid → first, last
	gone    Sched               // of processes whose pid was reused
}

var (
	samplersMu sync.Mutex
	samplers   = map[string]*pgSampler{}
)

// postgresTotal is the CPU the database's backends used since the first
// call for db; the first call starts sampling them every 200 ms for the
// rest of the (short-lived) benchmark process.
func postgresTotal(db string) Sched {
	if db == "" {
		return Sched{}
	}
	samplersMu.Lock()
	sampler, ok := samplers[db]
	if !ok {
		sampler = &pgSampler{seen: map[string][2]Sched{}}
		samplers[db] = sampler
		sampler.sample(db)
		go func() {
			for range time.Tick(200 * time.Millisecond) {
				sampler.sample(db)
			}
		}()
	}
	samplersMu.Unlock()
	sampler.sample(db)
	sampler.mu.Lock()
	defer sampler.mu.Unlock()
	t := sampler.gone
	for _, fl := range sampler.seen {
		t.Run += fl[1].Run - fl[0].Run
		t.Wait += fl[1].Wait - fl[0].Wait
	}
	return t
}

func (s *pgSampler) sample(db string) {
	now := postgresBackends(db)
	s.mu.Lock()
	defer s.mu.Unlock()
	for pid, x := range now {
		fl, ok := s.seen[pid]
		switch {
		case !ok && !s.started:
			fl[0] = x // alive before the run: count from now
		case !ok:
			fl[0] = Sched{} // started during the run
		case x.Run < fl[1].Run: // the pid now names another process
			s.gone.Run += fl[1].Run - fl[0].Run
			s.gone.Wait += fl[1].Wait - fl[0].Wait
			fl[0] = Sched{}
		}
		fl[1] = x
		s.seen[pid] = fl
	}
	s.started = true
}

// stealSeconds is the CPU time the hypervisor gave other guests, over all
// cores since boot (/proc/stat, USER_HZ ticks), or 0.
func stealSeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	v, _ := strconv.ParseFloat(f[8], 64)
	return v / 100
}

// cpuPressure is the total µs during which some task waited for a CPU
// (/proc/pressure/cpu "some total="), or 0 without PSI.
func cpuPressure() int64 {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	_, total, ok := strings.Cut(line, "total=")
	if !ok {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(total), 10, 64)
	return n
}
