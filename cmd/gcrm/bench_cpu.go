package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gcrm/gcrm/geo/postgis"
)

// cpuMeter adds up the CPU time of this process and of the database server, when the server
// runs on this machine (its processes readable under /proc): on a shared machine a CPU total
// says what a run cost whatever else was running, which wall time cannot.
type cpuMeter struct {
	postmaster int // 0: the server's CPU is not measurable
}

func newCPUMeter(ctx context.Context, db *postgis.DB) cpuMeter {
	var pid int
	if err := db.Pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		return cpuMeter{}
	}
	f := procStat(pid)
	if len(f) < 4 {
		return cpuMeter{}
	}
	pm, _ := strconv.Atoi(f[3])
	return cpuMeter{postmaster: pm}
}

// read returns the CPU used so far by this process and by the server (its postmaster, every
// child that has exited, every live child), or -1 for the server when it cannot be read.
func (m cpuMeter) read() (self, server time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if m.postmaster == 0 {
		return self, -1
	}
	pm := procStat(m.postmaster)
	if len(pm) < 17 {
		return self, -1
	}
	ticks := statTicks(pm, 13, 14, 15, 16)
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	parent := strconv.Itoa(m.postmaster)
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		if f := procStat(pid); len(f) > 14 && f[3] == parent {
			ticks += statTicks(f, 13, 14)
		}
	}
	return self, time.Duration(ticks) * time.Second / 100 // USER_HZ is 100 on Linux
}

// procStat returns the fields of /proc/pid/stat after the command name (field 3 first, at
// index 2), or nil.
func procStat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return append([]string{"", ""}, strings.Fields(s[i+1:])...)
}

func statTicks(f []string, idx ...int) int64 {
	var t int64
	for _, i := range idx {
		v, _ := strconv.ParseInt(f[i], 10, 64)
		t += v
	}
	return t
}
