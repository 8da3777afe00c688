package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// cpuMeter measures the CPU time spent around a server while it is under
// load: the bench's PostgreSQL (the postmaster, its live backends and the
// backends it has reaped), its Redis, and the bench's own process (the load
// generator). Beside the server's own CPU it shows where a call's cost goes
// and whether the machine's cores were the limit.
type cpuMeter struct {
	pgPID, redisPID int
}

// cpuSample is the CPU seconds used so far by each part.
type cpuSample struct {
	pg, redis, client float64
	at                time.Time
}

// cpuUse is what a run used: CPU seconds per part and the wall time.
type cpuUse struct {
	pg, redis, client float64
	wall              time.Duration
}

// newCPUMeter finds the bench's PostgreSQL and Redis processes. A part it
// cannot find (another user's server, a remote one) is measured as 0 and
// the report says so through missing().
func newCPUMeter(ctx context.Context, o *options) *cpuMeter {
	m := &cpuMeter{}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(cctx, o.databaseURL); err == nil {
		var dir string
		if conn.QueryRow(cctx, "SHOW data_directory").Scan(&dir) == nil {
			if raw, err := os.ReadFile(filepath.Join(dir, "postmaster.pid")); err == nil {
				first, _, _ := strings.Cut(string(raw), "\n")
				m.pgPID, _ = strconv.Atoi(strings.TrimSpace(first))
			}
		}
		_ = conn.Close(context.Background())
	}
	if opt, err := redis.ParseURL(o.redisURL); err == nil {
		rc := redis.NewClient(opt)
		if info, err := rc.Info(cctx, "server").Result(); err == nil {
			for _, line := range strings.Split(info, "\n") {
				if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
					m.redisPID, _ = strconv.Atoi(v)
				}
			}
		}
		_ = rc.Close()
	}
	return m
}

// missing names the parts the meter could not find.
func (m *cpuMeter) missing() []string {
	var out []string
	if m.pgPID == 0 {
		out = append(out, "PostgreSQL")
	}
	if m.redisPID == 0 {
		out = append(out, "Redis")
	}
	return out
}

func (m *cpuMeter) sample() cpuSample {
	s := cpuSample{at: time.Now(), client: procCPU(os.Getpid(), false)}
	if m.redisPID != 0 {
		s.redis = procCPU(m.redisPID, false)
	}
	if m.pgPID != 0 {
		// The postmaster's own time and its reaped children's, plus the
		// live backends' (whose time reaches the postmaster only when they
		// exit).
		s.pg = procCPU(m.pgPID, true)
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == m.pgPID {
				continue
			}
			if f := procStatFields(pid); len(f) > 12 && f[1] == strconv.Itoa(m.pgPID) {
				s.pg += statSeconds(f, false)
			}
		}
	}
	return s
}

func (m *cpuMeter) since(s0 cpuSample) cpuUse {
	s := m.sample()
	return cpuUse{pg: s.pg - s0.pg, redis: s.redis - s0.redis, client: s.client - s0.client, wall: s.at.Sub(s0.at)}
}

// busy is the share of the machine's cores that the server (serverCPU
// seconds) and the parts measured here used during the run.
func (u cpuUse) busy(serverCPU float64) float64 {
	if u.wall <= 0 {
		return 0
	}
	return (serverCPU + u.pg + u.redis + u.client) / (u.wall.Seconds() * float64(runtime.NumCPU()))
}

// procStatFields is /proc/<pid>/stat after the command name: field 0 is
// the state, 1 the parent's pid, 11 and 12 user and system time, 13 and 14
// the reaped children's.
func procStatFields(pid int) []string {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	s := string(raw)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	return strings.Fields(s)
}

func statSeconds(f []string, withChildren bool) float64 {
	last := 12
	if withChildren {
		last = 14
	}
	if len(f) <= last {
		return 0
	}
	var ticks float64
	for i := 11; i <= last; i++ {
		v, _ := strconv.ParseFloat(f[i], 64)
		ticks += v
	}
	return ticks / 100 // USER_HZ is 100 on Linux
}

// procCPU is a process's user+system CPU seconds so far, with its reaped
// children's when withChildren.
func procCPU(pid int, withChildren bool) float64 {
	return statSeconds(procStatFields(pid), withChildren)
}
