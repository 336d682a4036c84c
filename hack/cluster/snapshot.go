package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// snapshot is the part of the machine a node changes, as it was before `up`.
type snapshot struct {
	// Sysctls holds every writable value under /proc/sys/{kernel,vm,net}
	// but the ones that move by themselves, by path below /proc/sys.
	Sysctls map[string]string `json:"sysctls"`
	// Mounts are the mount points of this mount namespace.
	Mounts []string `json:"mounts"`
	// Links are the network interfaces; Routes, every route of every table.
	Links  []string `json:"links"`
	Routes []string `json:"routes"`
	// NFT lists "family table" and "family table chain" of the nftables
	// ruleset (iptables-nft writes there); IptablesLegacy, the legacy
	// tables' chains.
	NFT            []string `json:"nft"`
	IptablesLegacy []string `json:"iptablesLegacy"`
	// NFAcct are the names of nfacct counters (kube-proxy adds two).
	NFAcct []string `json:"nfacct"`
	// Cgroups are the first-level groups of every cgroup hierarchy.
	Cgroups []string `json:"cgroups"`
	// Paths says which of the paths that a node writes outside its own
	// folder existed.
	Paths map[string]bool `json:"paths"`
}

// outsidePaths are written by the kubelet, containerd and the CNI plugins
// whatever their configuration says.
var outsidePaths = []string{
	"/var/lib/kubelet",
	"/var/log/containers",
	"/var/log/pods",
	"/var/lib/cni",
	"/run/containerd",
	"/run/netns",
	"/var/run/netns",
	"/usr/libexec/kubernetes",
	"/opt/containerd",
	"/etc/kubernetes",
}

// volatileSysctls move by themselves or cannot be written back.
var volatileSysctls = []string{
	"kernel/ns_last_pid", "kernel/random/", "kernel/tainted",
	"kernel/perf_event_max_sample_rate", "kernel/hung_task_", "kernel/sched_domain",
	"vm/stat_refresh", "vm/drop_caches", "vm/compact_memory",
	"net/ipv4/route/flush", "net/ipv6/route/flush", "net/netfilter/nf_conntrack_count",
	"net/core/netdev_rss_key",
}

func takeSnapshot() (*snapshot, error) {
	s := &snapshot{Paths: map[string]bool{}}
	var err error
	if s.Sysctls, err = readSysctls(); err != nil {
		return nil, fmt.Errorf("sysctls: %w", err)
	}
	if s.Mounts, err = mountPoints(); err != nil {
		return nil, fmt.Errorf("mounts: %w", err)
	}
	if s.Links, err = links(); err != nil {
		return nil, fmt.Errorf("links: %w", err)
	}
	if s.Routes, err = routes(); err != nil {
		return nil, fmt.Errorf("routes: %w", err)
	}
	if s.NFT, err = nftObjects(); err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	s.IptablesLegacy = legacyChains()
	if s.NFAcct, err = nfacctNames(); err != nil {
		return nil, fmt.Errorf("nfacct: %w", err)
	}
	if s.Cgroups, err = topCgroups(); err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	for _, p := range outsidePaths {
		_, err := os.Lstat(p)
		s.Paths[p] = err == nil
	}
	return s, nil
}

func readSysctls() (map[string]string, error) {
	out := map[string]string{}
	for _, top := range []string{"kernel", "vm", "net"} {
		root := filepath.Join("/proc/sys", top)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil // unreadable subtrees are not ours to restore
			}
			info, err := d.Info()
			if err != nil || info.Mode().Perm()&0o200 == 0 || info.Mode().Perm()&0o400 == 0 {
				return nil
			}
			key := strings.TrimPrefix(p, "/proc/sys/")
			for _, v := range volatileSysctls {
				if strings.HasPrefix(key, v) {
					return nil
				}
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			out[key] = strings.TrimSpace(string(b))
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// mountInfo is one line of /proc/self/mountinfo.
type mountInfo struct{ Point, FSType, Source string }

func mounts() ([]mountInfo, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mountInfo
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		i := slices.Index(f, "-")
		if i < 0 || i+2 >= len(f) {
			continue
		}
		out = append(out, mountInfo{Point: unescapeMount(f[4]), FSType: f[i+1], Source: f[i+2]})
	}
	return out, sc.Err()
}

// unescapeMount undoes mountinfo's octal escapes of space, tab, newline
// and backslash.
func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func mountPoints() ([]string, error) {
	ms, err := mounts()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		out = append(out, m.Point)
	}
	slices.Sort(out)
	return out, nil
}

func links() ([]string, error) {
	es, err := os.ReadDir("/sys/class/net")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name())
	}
	return out, nil
}

func routes() ([]string, error) {
	var out []string
	for _, family := range []string{"-4", "-6"} {
		b, err := exec.Command("ip", family, "-o", "route", "show", "table", "all").Output()
		if err != nil {
			return nil, fmt.Errorf("ip %s route: %w", family, err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line = strings.Join(strings.Fields(line), " "); line != "" {
				out = append(out, line)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// nftObjects lists tables and chains of the whole nftables ruleset.
func nftObjects() ([]string, error) {
	out, err := exec.Command("nft", "-j", "list", "ruleset").Output()
	if err != nil {
		return nil, fmt.Errorf("nft -j list ruleset: %w", err)
	}
	var doc struct {
		Nftables []map[string]json.RawMessage `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return nil, err
	}
	var objs []string
	for _, o := range doc.Nftables {
		var v struct{ Family, Table, Name string }
		if raw, ok := o["table"]; ok {
			_ = json.Unmarshal(raw, &v)
			objs = append(objs, v.Family+" "+v.Name)
		}
		if raw, ok := o["chain"]; ok {
			_ = json.Unmarshal(raw, &v)
			objs = append(objs, v.Family+" "+v.Table+" "+v.Name)
		}
	}
	slices.Sort(objs)
	return objs, nil
}

// legacyChains lists the chains of the legacy (x_tables) iptables, when
// that tool is installed; iptables-nft is what the node uses, but a stray
// legacy rule would be a change all the same.
func legacyChains() []string {
	var out []string
	for _, tool := range []string{"iptables-legacy-save", "ip6tables-legacy-save"} {
		b, err := exec.Command(tool).Output()
		if err != nil {
			continue
		}
		table := ""
		for _, line := range strings.Split(string(b), "\n") {
			switch {
			case strings.HasPrefix(line, "*"):
				table = line[1:]
			case strings.HasPrefix(line, ":"):
				out = append(out, tool+" "+table+" "+strings.Fields(line[1:])[0])
			case strings.HasPrefix(line, "-A "):
				out = append(out, tool+" "+table+" "+line)
			}
		}
	}
	slices.Sort(out)
	return out
}

func nfacctNames() ([]string, error) {
	b, err := exec.Command("nfacct", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("nfacct list: %w", err)
	}
	return parseNFAcct(string(b)), nil
}

// parseNFAcct reads the names of `nfacct list`, whose lines look like
// { pkts = 00000000000000000000, bytes = 00000000000000000000 } = name;
func parseNFAcct(list string) []string {
	var out []string
	for _, line := range strings.Split(list, "\n") {
		if i := strings.LastIndex(line, "} = "); i >= 0 {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(line[i+4:]), ";"))
		}
	}
	slices.Sort(out)
	return out
}

func topCgroups() ([]string, error) {
	hs, err := os.ReadDir("/sys/fs/cgroup")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, h := range hs {
		if !h.IsDir() {
			continue
		}
		es, err := os.ReadDir(filepath.Join("/sys/fs/cgroup", h.Name()))
		if err != nil {
			continue
		}
		for _, e := range es {
			if e.IsDir() {
				out = append(out, filepath.Join("/sys/fs/cgroup", h.Name(), e.Name()))
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// diff lists how the machine differs from s, one line per difference.
func (s *snapshot) diff(now *snapshot) []string {
	var d []string
	keys := make([]string, 0, len(s.Sysctls))
	for k := range s.Sysctls {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if v, ok := now.Sysctls[k]; ok && v != s.Sysctls[k] {
			d = append(d, fmt.Sprintf("sysctl %s = %s (was %s)", k, v, s.Sysctls[k]))
		}
	}
	d = append(d, setDiff("mount", s.Mounts, now.Mounts)...)
	d = append(d, setDiff("link", s.Links, now.Links)...)
	d = append(d, setDiff("route", s.Routes, now.Routes)...)
	d = append(d, setDiff("nftables", s.NFT, now.NFT)...)
	d = append(d, setDiff("iptables-legacy", s.IptablesLegacy, now.IptablesLegacy)...)
	d = append(d, setDiff("nfacct", s.NFAcct, now.NFAcct)...)
	d = append(d, setDiff("cgroup", s.Cgroups, now.Cgroups)...)
	for _, p := range outsidePaths {
		if s.Paths[p] != now.Paths[p] {
			d = append(d, fmt.Sprintf("path %s: existed %v, exists %v", p, s.Paths[p], now.Paths[p]))
		}
	}
	return d
}

// setDiff names what was added to or removed from before.
func setDiff(what string, before, after []string) []string {
	var d []string
	for _, a := range after {
		if !slices.Contains(before, a) {
			d = append(d, fmt.Sprintf("%s added: %s", what, a))
		}
	}
	for _, b := range before {
		if !slices.Contains(after, b) {
			d = append(d, fmt.Sprintf("%s removed: %s", what, b))
		}
	}
	return d
}
