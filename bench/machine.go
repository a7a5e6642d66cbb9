package bench

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Machine is where and with what a benchmark ran.
type Machine struct {
	CPUs      int
	CPUModel  string
	MemoryGiB float64
	Kernel    string
	// Versions of everything measured.
	Go, Temporal, Kafka, PostgreSQL, Crier string
}

// MachineConfig says where to find the versions.
type MachineConfig struct {
	// TemporalCLI is the temporal binary that ran the dev server.
	TemporalCLI string
	// KafkaPOM is tools/kafka/pom.xml, which pins the broker's version.
	KafkaPOM string
	// KafkaShape says how the brokers run. Default "KRaft, one broker".
	KafkaShape string
	// DatabaseURL is any database on the PostgreSQL server.
	DatabaseURL string
	// RepoDir is the repository, for the commit measured.
	RepoDir string
}

// DescribeMachine reads the machine and the versions; what cannot be read is
// reported as such rather than failing the run.
func DescribeMachine(ctx context.Context, cfg MachineConfig) Machine {
	m := Machine{
		CPUs:     runtime.NumCPU(),
		CPUModel: procField("/proc/cpuinfo", "model name"),
		Kernel:   runOr(ctx, "unknown", "uname", "-sr"),
		Go:       runOr(ctx, runtime.Version(), "go", "version"),
		Temporal: runOr(ctx, "unknown", cfg.TemporalCLI, "--version"),
		Kafka:    "unknown",
	}
	if kb, err := strconv.ParseFloat(strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"), 64); err == nil {
		m.MemoryGiB = kb / (1 << 20)
	}
	if pom, err := os.ReadFile(cfg.KafkaPOM); err == nil {
		if v := regexp.MustCompile(`<kafka.version>([^<]+)</kafka.version>`).FindSubmatch(pom); v != nil {
			m.Kafka = "Apache Kafka " + string(v[1]) + " (" + cmp.Or(cfg.KafkaShape, "KRaft, one broker") + "; " + cfg.KafkaPOM + ")"
		}
	}
	m.PostgreSQL = postgresVersion(ctx, cfg.DatabaseURL)
	m.Crier = runOr(ctx, "unknown", "git", "-C", cfg.RepoDir, "rev-parse", "--short", "HEAD")
	if dirty := runOr(ctx, "", "git", "-C", cfg.RepoDir, "status", "--porcelain", "--untracked-files=no"); dirty != "" {
		m.Crier += " with uncommitted changes"
	}
	return m
}

func postgresVersion(ctx context.Context, dbURL string) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "unknown"
	}
	defer closeConn(ctx, conn)
	var v string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&v); err != nil {
		return "unknown"
	}
	return v
}

// procField returns the value of the first "key : value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path) //nolint:gosec // G304: path is one of /proc's files, named by this package
	if err != nil {
		return "unknown"
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

func runOr(ctx context.Context, fallback, name string, args ...string) string {
	if name == "" {
		return fallback
	}
	out, err := exec.CommandContext(ctx, name, args...).Output() //nolint:gosec // G204: name is git or a tool the bench's flags name, run without a shell
	if err != nil {
		return fallback
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// String is a one-line description for progress output.
func (m Machine) String() string {
	return fmt.Sprintf("%d × %s, %.1f GiB", m.CPUs, m.CPUModel, m.MemoryGiB)
}
