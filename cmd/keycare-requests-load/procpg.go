package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/keycare/keycare/internal/benchkit"
)

// postgresBackends is benchkit.PostgresSched per backend (by pid), so a
// phase can add up the backends alive at its end without going negative
// when the pool replaces a connection (a cancelled query closes it).
// Parallel workers ("postgres: parallel worker for PID n") are included
// when they belong to one of the database's backends.
func postgresBackends(db string) map[string]benchkit.Sched {
	out := map[string]benchkit.Sched{}
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
		if x, ok := readSchedstat("/proc/" + p.Name() + "/schedstat"); ok {
			out[p.Name()] = x
		}
	}
	for _, w := range workers {
		if ours[w[1]] {
			if x, ok := readSchedstat("/proc/" + w[0] + "/schedstat"); ok {
				out[w[0]] = x
			}
		}
	}
	return out
}

func readSchedstat(path string) (benchkit.Sched, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return benchkit.Sched{}, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return benchkit.Sched{}, false
	}
	run, _ := strconv.ParseInt(f[0], 10, 64)
	wait, _ := strconv.ParseInt(f[1], 10, 64)
	return benchkit.Sched{Run: run, Wait: wait}, true
}
