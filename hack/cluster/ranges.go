package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strings"
	"time"
)

// checkRanges refuses to start a cluster whose pod or Service range would
// capture traffic this machine already sends elsewhere: the node's own
// address, a network it routes, or the address of a package proxy (the
// pods' bridge route would cut off the Go module proxy and apt).
func checkRanges(nodeIP string) error {
	var nets []*net.IPNet
	for _, c := range []string{podCIDR, serviceCIDR} {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			return err
		}
		nets = append(nets, n)
	}
	inCluster := func(ip net.IP) string {
		for _, n := range nets {
			if n.Contains(ip) {
				return n.String()
			}
		}
		return ""
	}
	if r := inCluster(net.ParseIP(nodeIP)); r != "" {
		return fmt.Errorf("the node address %s is inside the cluster's range %s", nodeIP, r)
	}
	routed, err := routedNetworks()
	if err != nil {
		return err
	}
	for _, rn := range routed {
		for _, n := range nets {
			if rn.Contains(n.IP) || n.Contains(rn.IP) {
				return fmt.Errorf("the cluster's range %s overlaps %s, which this machine already routes", n, rn)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for _, host := range []string{"proxy.golang.org", "deb.debian.org"} {
		addrs, _ := net.DefaultResolver.LookupHost(ctx, host)
		for _, a := range addrs {
			if r := inCluster(net.ParseIP(a)); r != "" {
				return fmt.Errorf("this machine reaches %s at %s, inside the cluster's range %s", host, a, r)
			}
		}
	}
	return nil
}

// routedNetworks lists the IPv4 destinations of /proc/net/route, but the
// default route.
func routedNetworks() ([]*net.IPNet, error) {
	b, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return nil, err
	}
	return parseRoutes(string(b)), nil
}

// parseRoutes reads the destinations of /proc/net/route, but the default.
func parseRoutes(table string) []*net.IPNet {
	var out []*net.IPNet
	for _, line := range strings.Split(table, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 8 || f[1] == "00000000" {
			continue
		}
		dst, err1 := hex.DecodeString(f[1])
		mask, err2 := hex.DecodeString(f[7])
		if err1 != nil || err2 != nil || len(dst) != 4 || len(mask) != 4 {
			continue
		}
		// /proc/net/route prints addresses in host (little-endian) order.
		ip := make(net.IP, 4)
		binary.BigEndian.PutUint32(ip, binary.LittleEndian.Uint32(dst))
		m := make(net.IPMask, 4)
		binary.BigEndian.PutUint32(m, binary.LittleEndian.Uint32(mask))
		out = append(out, &net.IPNet{IP: ip, Mask: m})
	}
	return out
}
