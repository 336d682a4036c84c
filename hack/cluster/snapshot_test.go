package main

import (
	"slices"
	"strings"
	"testing"
)

func TestDiffNamesEveryChange(t *testing.T) {
	before := &snapshot{
		Sysctls: map[string]string{"kernel/panic": "1", "net/ipv4/ip_forward": "0", "vm/overcommit_memory": "0"},
		Mounts:  []string{"/", "/proc"}, Links: []string{"eth0", "lo"}, Routes: []string{"default via 192.0.2.1 dev eth0"},
		NFT: nil, NFAcct: nil, Cgroups: []string{"/sys/fs/cgroup/memory/process_api"},
		Paths: map[string]bool{"/var/lib/kubelet": false},
	}
	same := *before
	if d := before.diff(&same); len(d) != 0 {
		t.Fatalf("an unchanged machine differs: %v", d)
	}
	after := &snapshot{
		// A sysctl that appeared (a per-interface one) is not compared.
		Sysctls: map[string]string{"kernel/panic": "10", "net/ipv4/ip_forward": "0", "vm/overcommit_memory": "0", "net/ipv4/conf/veth1/forwarding": "1"},
		Mounts:  []string{"/", "/proc", "/x/kubelet"}, Links: []string{"eth0", "lo", "mcpcni0"},
		Routes: []string{"198.51.100.128/25 dev mcpcni0", "default via 192.0.2.1 dev eth0"},
		NFT:    []string{"ip filter"}, NFAcct: []string{"ct_state_invalid_dropped_pkts"},
		Cgroups: []string{"/sys/fs/cgroup/memory/kubepods", "/sys/fs/cgroup/memory/process_api"},
		Paths:   map[string]bool{"/var/lib/kubelet": true},
	}
	d := before.diff(after)
	want := []string{
		"sysctl kernel/panic = 10 (was 1)",
		"mount added: /x/kubelet",
		"link added: mcpcni0",
		"route added: 198.51.100.128/25 dev mcpcni0",
		"nftables added: ip filter",
		"nfacct added: ct_state_invalid_dropped_pkts",
		"cgroup added: /sys/fs/cgroup/memory/kubepods",
		"path /var/lib/kubelet: existed false, exists true",
	}
	if !slices.Equal(d, want) {
		t.Fatalf("diff:\n%s\nwant:\n%s", strings.Join(d, "\n"), strings.Join(want, "\n"))
	}
	if d := after.diff(before); !slices.Contains(d, "link removed: mcpcni0") {
		t.Fatalf("a removal is not reported: %v", d)
	}
}

func TestParseNFAcct(t *testing.T) {
	out := "{ pkts = 00000000000000000000, bytes = 00000000000000000000 } = ct_state_invalid_dropped_pkts;\n" +
		"{ pkts = 00000000000000000003, bytes = 00000000000000000180 } = localhost_nps_accepted_pkts;\n"
	if got := parseNFAcct(out); !slices.Equal(got, []string{"ct_state_invalid_dropped_pkts", "localhost_nps_accepted_pkts"}) {
		t.Fatalf("parseNFAcct: %v", got)
	}
}

func TestParseRoutesSkipsTheDefault(t *testing.T) {
	table := "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n" +
		"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n" +
		"eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
		"mcpcni0\t806433C6\t00000000\t0001\t0\t0\t0\t80FFFFFF\t0\t0\t0\n"
	var got []string
	for _, n := range parseRoutes(table) {
		got = append(got, n.String())
	}
	if !slices.Equal(got, []string{"192.0.2.0/24", "198.51.100.128/25"}) {
		t.Fatalf("parseRoutes: %v", got)
	}
}
